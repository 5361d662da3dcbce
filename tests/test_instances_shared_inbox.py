"""Two instances watching one inbox folder keep every refused file's reason beside it.

Both scan the shared folder at the same moment; a refused file goes to
``error/`` once, with ``NAME.error.txt``, whichever instance moved it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from instances_support import instance_config, running
from pipeline_support import FAST

from gateway.kinds import Direction
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.folder.channel import FolderChannel

FILES = 12


def config(folder: Path, database: str, inbox: Path) -> Path:
    return instance_config(folder, database, "folder",
                           f"inbox = {str(inbox)!r}\npoll_interval = 3600",
                           invoice_format=None)


@pytest.fixture
async def pair(store_url: str, tmp_path: Path,
               ) -> AsyncIterator[tuple[GatewayService, GatewayService]]:
    inbox = tmp_path / "shared-inbox"
    inbox.mkdir()
    async with running(GatewayService(config(tmp_path / name, store_url, inbox), dispatch=FAST)
                       for name in ("first", "second")) as (first, second):
        yield first, second


def channel(service: GatewayService) -> FolderChannel:
    found = service.channels["folder"]
    assert isinstance(found, FolderChannel)
    return found


async def test_a_refused_file_taken_by_both_instances_keeps_its_reason(
    pair: tuple[GatewayService, GatewayService], tmp_path: Path,
) -> None:
    first, second = pair
    inbox = tmp_path / "shared-inbox"
    for n in range(FILES):
        (inbox / f"order-{n:02d}.xml").write_bytes(f"<NotAnOrder number='{n}'/>".encode())
    await asyncio.gather(channel(first).scan_once(), channel(second).scan_once())
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []
    refused = sorted(p.name for p in (inbox / "error").glob("*.xml"))
    assert refused == [f"order-{n:02d}.xml" for n in range(FILES)]
    # Each once in the store, rejected.
    assert first.store is not None
    page = await first.store.list_messages(direction=Direction.INBOUND, limit=100)
    assert len(page.items) == FILES
    assert {r.transport_state for r in page.items} == {TransportState.REJECTED}
    without = [name for name in refused
               if not (inbox / "error" / f"{name}.error.txt").is_file()]
    assert without == [], f"{len(without)} of {FILES} refused files have no reason beside them"
