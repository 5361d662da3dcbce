"""Of two instances scanning one Peppol inbox folder, one scans it each round.

Two scanners racing on one folder were already safe (each file stored once,
filed once), but each read, unwrapped and looked up every file the other
took. Now the folder has a turn of its own, named by an id kept in the
folder, so instances that each have their own inbox still each scan theirs.
Two real instances on one real PostgreSQL database, real files.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, FAST, SUPPLIER_KVK

from gateway.channels import TURN_INTERVALS
from gateway.fileio import write_atomically
from gateway.kinds import Direction
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.service import GatewayService
from plugins.peppol.channel import PeppolChannel
from plugins.peppol.sbdh import participant, wrap

INTERVAL = 0.3
TTL = INTERVAL * TURN_INTERVALS
FILES = 10


def order_sbdh() -> tuple[str, bytes]:
    """A Peppol order from the agency to the supplier in its SBDH; its instance id too."""
    orders = build_registry(make_plugin_manager()).format("peppol-bis:order:3")
    sample = orders.samples()[0]
    data = sample.data or orders.encode(sample.document, sample.context)
    envelope, sbdh = wrap(data, sender=participant(f"0190:{AGENCY_OIN}", "sender"),
                          receiver=participant(f"0106:{SUPPLIER_KVK}", "receiver"))
    return envelope.instance_id, sbdh


def drop(inbox: Path, count: int) -> list[str]:
    """Write ``count`` orders into ``inbox`` as an access point would; their instance ids."""
    ids = []
    for _ in range(count):
        instance_id, sbdh = order_sbdh()
        write_atomically(inbox / f"{instance_id}.xml", sbdh)
        ids.append(instance_id)
    return ids


def channel(service: GatewayService) -> PeppolChannel:
    found = service.channels["peppol"]
    assert isinstance(found, PeppolChannel)
    return found


def scanners(services: list[GatewayService]) -> list[GatewayService]:
    """The running instances that have their inbox's turn, by their own account."""
    return [s for s in services if "peppol" in s.channels
            and (turn := getattr(channel(s), "_inbox_turn", None)) is not None and turn.held]


async def until(condition: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within:.1f} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def stored(service: GatewayService) -> Counter[str]:
    assert service.store is not None
    page = await service.store.list_messages(direction=Direction.INBOUND, limit=500)
    return Counter(r.transport_id for r in page.items if r.transport_id is not None)


Pair = Callable[[str], Awaitable[list[GatewayService]]]


@pytest.fixture
async def pair(postgres_url: str, tmp_path: Path,
               installed_standards: Path) -> AsyncIterator[Pair]:
    started: list[GatewayService] = []

    async def start(inbox_dir: str) -> list[GatewayService]:
        for name in ("first", "second"):
            table = f"inbox_dir = {inbox_dir!r}\npoll_interval = {INTERVAL}"
            service = GatewayService(instance_config(
                tmp_path / name, postgres_url, "peppol", table, invoice_format=None,
                gateway_extra=f"standards_dir = {str(installed_standards)!r}"), dispatch=FAST)
            await service.start()
            started.append(service)
            assert "peppol" in service.channels, service.channel_problems
        return list(started)

    try:
        yield start
    finally:
        for service in started:
            await service.stop()


async def test_one_instance_scans_a_shared_inbox(pair: Pair,
                                                 tmp_path: Path) -> None:
    inbox = tmp_path / "shared-inbox"
    inbox.mkdir()
    services = await pair(str(inbox))
    ids = drop(inbox, FILES)
    await until(lambda: not list(inbox.glob("*.xml")), 10 * INTERVAL, "the inbox emptied")
    assert sorted(p.name for p in (inbox / "done").glob("*.xml")) == sorted(
        f"{i}.xml" for i in ids)
    counts = await stored(services[0])
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
    # One scans, and the other leaves the folder to it round after round.
    [scanner] = scanners(services)
    for _ in range(5):
        await asyncio.sleep(INTERVAL)
        assert scanners(services) == [scanner]


async def test_the_other_instance_scans_on_when_the_scanner_stops(
    pair: Pair, tmp_path: Path,
) -> None:
    inbox = tmp_path / "shared-inbox"
    inbox.mkdir()
    services = await pair(str(inbox))
    await until(lambda: len(scanners(services)) == 1, 5 * INTERVAL, "a scanner")
    [scanner] = scanners(services)
    [other] = [s for s in services if s is not scanner]
    await scanner.stop()
    took = await until(lambda: scanners([other]) == [other], TTL + 2 * INTERVAL,
                       "the other instance taking the turn")
    assert took < TTL, f"taken over after {took:.2f} s, as if the turn had expired"
    ids = drop(inbox, 3)
    await until(lambda: not list(inbox.glob("*.xml")), 10 * INTERVAL, "the inbox emptied")
    counts = await stored(other)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)


async def test_instances_with_an_inbox_each_each_scan_theirs(
    pair: Pair, tmp_path: Path,
) -> None:
    # A relative inbox_dir is in each instance's own data directory: one turn for the
    # channel would leave the other instance's folder unread.
    services = await pair("peppol-inbox")
    inboxes = [tmp_path / name / "data" / "peppol-inbox" for name in ("first", "second")]
    ids = [i for inbox in inboxes for i in drop(inbox, 3)]
    await until(lambda: not any(list(inbox.glob("*.xml")) for inbox in inboxes),
                10 * INTERVAL, "both inboxes emptied")
    counts = await stored(services[0])
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
