"""The name an instance holds channel turns under outlives the process, not the data directory.

A turn a process held when it died stays held until its lease runs out:
three poll intervals, a quarter of an hour for Digipoort's OphaalService at
its default. The process restarted in the same data directory takes the
dead one's name up, and with it its turns at once; a second instance
running on the same data directory keeps a name of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from instances_support import instance_config, running

from gateway.pipeline.turns import HOLDER_FILE, HolderName
from gateway.service import GatewayService
from gateway.store import open_store
from plugins.peppol.channel import PeppolChannel

REPO = Path(__file__).resolve().parents[1]


def test_the_name_is_kept_for_the_next_instance_on_the_data_directory(tmp_path: Path) -> None:
    first = HolderName(tmp_path, "first-fallback")
    assert first.name != "first-fallback"
    assert (tmp_path / HOLDER_FILE).read_text("utf-8").strip() == first.name
    # Running at the same time on the same data directory: a name of its own.
    beside = HolderName(tmp_path, "beside-fallback")
    assert beside.name == "beside-fallback"
    first.close()
    beside.close()
    after = HolderName(tmp_path, "after-fallback")
    assert after.name == first.name
    after.close()


def test_claim_workers_are_named_under_a_kept_name_made_on_this_host(tmp_path: Path) -> None:
    kept = HolderName(tmp_path, "kept-fallback")
    assert kept.name.startswith(f"{socket.gethostname()}:")
    assert kept.claims_prefix == f"{kept.name}/"
    one, two = kept.worker_instance(), kept.worker_instance()
    assert one.startswith(f"{kept.name}/{os.getpid()}:")
    assert one != two, "two processes of one pid (containers) must not share worker ids"
    # Beside it: a name of its own, and nothing to take back.
    beside = HolderName(tmp_path, "beside-fallback")
    assert (beside.claims_prefix, beside.worker_instance()) == (None, "beside-fallback")
    beside.close()
    kept.close()


def test_a_name_made_on_another_host_is_not_taken_up(tmp_path: Path) -> None:
    """A copied data directory, or one on a file system shared between machines whose locks
    may not reach across: a living instance elsewhere may hold the turns and claims under
    that name, and must keep them."""
    (tmp_path / HOLDER_FILE).write_text("elsewhere.example:0a1b2c3d\n", "utf-8")
    holder = HolderName(tmp_path, "own-fallback")
    assert holder.name.startswith(f"{socket.gethostname()}:")
    assert holder.claims_prefix == f"{holder.name}/"
    assert (tmp_path / HOLDER_FILE).read_text("utf-8").strip() == holder.name
    holder.close()


def test_a_name_edited_to_hold_a_slash_is_made_anew(tmp_path: Path) -> None:
    """Under "gw" the prefix "gw/" would cover the claims of an instance named "gw/eu"."""
    (tmp_path / HOLDER_FILE).write_text("gw/eu\n", "utf-8")
    holder = HolderName(tmp_path, "fallback")
    assert "/" not in holder.name
    assert holder.claims_prefix == f"{holder.name}/"
    assert (tmp_path / HOLDER_FILE).read_text("utf-8").strip() == holder.name
    holder.close()


def test_a_killed_process_leaves_its_name_to_the_next(tmp_path: Path) -> None:
    program = (
        "import sys, time; from pathlib import Path\n"
        "from gateway.pipeline.turns import HolderName\n"
        "print(HolderName(Path(sys.argv[1]), 'child-fallback').name, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", program, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout is not None
        name = child.stdout.readline().strip()
        assert name not in ("", "child-fallback")
        assert HolderName(tmp_path, "while-alive").name == "while-alive"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    after = HolderName(tmp_path, "after-kill")
    assert after.name == name
    after.close()


async def test_a_restarted_instance_has_its_turn_at_once(store_url: str, tmp_path: Path) -> None:
    shared = tmp_path / "access-point"
    for sub in ("outbox", "receipts"):
        (shared / sub).mkdir(parents=True)
    config = instance_config(
        tmp_path / "instance", store_url, "peppol",
        f'type = "peppol"\noutbox_dir = {str(shared / "outbox")!r}\n'
        f'receipts_dir = {str(shared / "receipts")!r}\npoll_interval = 3600',
        invoice_format=None)
    # What a process killed while it had the turn leaves: its name in the data directory
    # and a lease that runs for another hour.
    data_dir = tmp_path / "instance" / "data"
    data_dir.mkdir()
    dead = f"{socket.gethostname()}:0badc0de"
    (data_dir / HOLDER_FILE).write_text(dead + "\n", "utf-8")
    async with open_store(store_url) as store:
        await store.migrate()
        assert await store.hold_lease("channel:peppol:receipts", dead, timedelta(hours=1))

    async with running([GatewayService(config)]) as [service]:
        channel = service.channels["peppol"]
        assert isinstance(channel, PeppolChannel)
        turn = channel._receipts_turn
        assert turn is not None
        for _ in range(100):
            if turn.held:
                break
            await asyncio.sleep(0.02)
        assert turn.held, "the restarted instance waits for its own lease to run out"
