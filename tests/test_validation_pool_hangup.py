"""A hang-up of the whole process group stops the gateway and its pool's helpers quietly.

Closing the terminal of ``make run`` sends SIGHUP to every process of its
process group: the gateway, and the pool's forkserver, resource tracker and
workers with it. The gateway stops in order on SIGHUP; the helpers must
leave the stop to it, as they do on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from test_lifecycle_gateway import Gateway, gateway

__all__ = ["gateway"]  # the shared fixture, used by the tests here

TESTS = Path(__file__).resolve().parent


def test_a_hang_up_of_the_process_group_stops_without_tracebacks(gateway: Gateway) -> None:
    """The forkserver and the resource tracker died of SIGHUP themselves, and the
    stop then printed KeyError tracebacks into the gateway's log."""
    gateway.wait_warm()
    os.killpg(gateway.process.pid, signal.SIGHUP)
    status = gateway.process.wait(timeout=60)
    output = gateway.output()
    assert status == 0, f"exit status {status}: {output[-2000:]}"
    assert "gateway: stopped" in output
    assert "Traceback" not in output, output
    assert not gateway.left_running(within=5)
    assert sorted(p.name for p in gateway.tmp.iterdir()) == []


COLD_SPLIT = textwrap.dedent("""
    import asyncio, signal, sys
    from pathlib import Path
    from gateway.validation import ValidationPool
    from validation_layers import BASE_EXAMPLE, PEPPOL_INVOICE

    async def main():
        pool = ValidationPool(Path(sys.argv[1]), workers=2)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, stop.set)
        report = await pool.validate(BASE_EXAMPLE.read_bytes(), PEPPOL_INVOICE, "x")
        print("splits", pool.splits, "valid", report.valid, flush=True)
        await stop.wait()
        await asyncio.to_thread(pool.close)
        print("closed", flush=True)

    asyncio.run(main())
""")


def test_a_cold_pools_first_split_document_then_a_hang_up_is_quiet(
    installed_standards: Path, tmp_path: Path,
) -> None:
    """A document split over idle workers puts its bytes in shared memory, which started
    the resource tracker before the helpers were started deaf to a hang-up."""
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", COLD_SPLIT, str(installed_standards)], stdout=stdout,
            stderr=stderr, start_new_session=True, cwd=TESTS,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])})
    try:
        deadline = time.monotonic() + 120
        while "splits" not in out.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, err.read_text()
            time.sleep(0.1)
        assert "splits 1 valid True" in out.read_text(), out.read_text()
        os.killpg(process.pid, signal.SIGHUP)
        assert process.wait(timeout=60) == 0, err.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.5)  # the tracker's last words, if any, come after its parent ends
    assert "closed" in out.read_text(), err.read_text()
    assert "Traceback" not in err.read_text(), err.read_text()
