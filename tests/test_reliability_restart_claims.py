"""A gateway killed mid-send and started again on its data directory resends at once.

Its claims would otherwise hold the messages until their leases run out
(five minutes at the default). The process that takes the data directory's
name knows every claim under that name for a dead predecessor's; a second
instance beside a living one gets a name of its own and takes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability_support import (
    Erp,
    GatewayProcess,
    gateway_config,
    read_received,
    wait_for,
)

from gateway.store import Store, TransportState, open_store

LEASE = "300"  # seconds: far longer than any wait here
SENDING = 2  # two workers, one message each, both held at the receiver's gate


@pytest.fixture
def launch() -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(config: Path, *args: str, log_name: str = "gateway.log") -> GatewayProcess:
        started.append(GatewayProcess(config, *args, log_name=log_name))
        return started[-1]

    yield start
    for process in started:
        if process.alive():
            process.kill()


async def claimed(store: Store) -> dict[str, str]:
    """Message id to the worker holding it, for the messages being sent."""
    listed = await store.list_messages(transport_state=TransportState.SENDING, limit=100)
    return {record.id: str(record.claimed_by) for record in listed.items}


async def wait_claimed(store: Store, count: int) -> dict[str, str]:
    for _ in range(1000):
        holders = await claimed(store)
        if len(holders) >= count:
            return holders
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} messages were not claimed in time: {holders}")


async def test_a_restart_takes_back_the_killed_runs_claims_at_once(
    store_url: str, tmp_path: Path, launch: Callable[..., GatewayProcess],
) -> None:
    record, gate = tmp_path / "received.jsonl", tmp_path / "gate"
    config = gateway_config(tmp_path, store_url, record=record, gate=gate)
    first = launch(config, "--workers", str(SENDING), "--lease", LEASE)
    erp = Erp(3)
    erp.urls = [first.wait_ready()]
    await erp.run()
    async with open_store(store_url) as store:
        held = await wait_claimed(store, SENDING)
        first.kill()
        gate.touch()

        second = launch(config, "--workers", str(SENDING), "--lease", LEASE,
                        log_name="second.log")
        second.wait_ready()
        await wait_for(lambda: len(read_received(record).keys) == 3, 20,
                       "every invoice received after the restart")
        for message_id, owner in held.items():
            events = await store.events(message_id)
            takeover = [e for e in events if e.detail.get("taken_over_from") == owner]
            assert takeover, f"{message_id}: no takeover from {owner} on {events}"
            assert takeover[0].detail["attempt"] == 2
            sent = await store.get(message_id)
            assert sent is not None
            assert sent.transport_state is TransportState.SENT
            assert takeover[0].detail["worker"].startswith(owner.split("/", 1)[0] + "/")
            assert takeover[0].detail["worker"] != owner
        # The old run's workers and the new one's share the data directory's name.
        name = next(iter(held.values())).split("/", 1)[0]
        assert (tmp_path / "data" / "turn-holder").read_text().strip() == name
    assert "taken over now" in (tmp_path / "second.log").read_text()
    received = read_received(record)
    assert received.double_sends() == {}
    second.stop()


async def test_a_second_instance_beside_a_living_one_takes_nothing(
    store_url: str, tmp_path: Path, launch: Callable[..., GatewayProcess],
) -> None:
    record, gate = tmp_path / "received.jsonl", tmp_path / "gate"
    config = gateway_config(tmp_path, store_url, record=record, gate=gate)
    first = launch(config, "--workers", str(SENDING), "--lease", LEASE)
    erp = Erp(SENDING)
    erp.urls = [first.wait_ready()]
    await erp.run()
    async with open_store(store_url) as store:
        held = await wait_claimed(store, SENDING)
        beside = launch(config, "--workers", "1", "--lease", LEASE, log_name="beside.log")
        beside.wait_ready()
        await asyncio.sleep(0.5)  # some rounds of its workers
        assert await claimed(store) == held
        first.kill()
        await asyncio.sleep(0.5)
        # Its name is its own, not the data directory's: the dead one's claims wait
        # for their leases.
        assert await claimed(store) == held
        assert not record.exists()
    beside.stop()
