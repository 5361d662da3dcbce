"""Two gateway processes on one PostgreSQL database share a backlog: each message sent once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability_support import (
    Erp,
    GatewayProcess,
    count_lines,
    gateway_config,
    read_received,
    wait_for,
)

from gateway.store import open_store

BACKLOG = 600

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def launch() -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(config: Path, *args: str, log_name: str) -> GatewayProcess:
        started.append(GatewayProcess(config, *args, log_name=log_name))
        return started[-1]

    yield start
    for process in started:
        process.stop()


async def test_two_instances_share_the_backlog(
    postgres_url: str, tmp_path: Path, launch: Callable[..., GatewayProcess],
) -> None:
    record, gate = tmp_path / "received.jsonl", tmp_path / "gate"
    # The gate holds every send until both instances are up and the backlog is queued;
    # 2 ms a send keeps both busy long enough to compete for every message.
    config = gateway_config(tmp_path, postgres_url, record=record, delay=0.002, gate=gate)
    # Batches of 5 per claim and a lease far above a send's time: only SKIP LOCKED
    # keeps the two from claiming the same rows.
    options = ("--workers", "3", "--batch", "5", "--lease", "30")
    first = launch(config, *options, log_name="first.log")
    second = launch(config, *options, log_name="second.log")
    urls = [first.wait_ready(), second.wait_ready()]

    erp = Erp(BACKLOG, concurrency=8)
    erp.urls = urls  # half the invoices submitted to each instance
    await asyncio.wait_for(erp.run(), 60)
    gate.touch()

    await wait_for(lambda: count_lines(record) >= BACKLOG, 60, f"{BACKLOG} deliveries")
    async with open_store(postgres_url) as store:
        for _ in range(200):
            counts = await store.count_by_state()
            if counts == {"outbound": {"sent": BACKLOG}}:
                break
            await asyncio.sleep(0.05)
        assert counts == {"outbound": {"sent": BACKLOG}}
    received = read_received(record)
    assert len(received.keys) == BACKLOG
    # No crash happened, so there is no excuse for even a recognised repeat.
    assert {key: n for key, n in received.deliveries.items() if n != 1} == {}
    by_instance = {pid: sum(pid in pids for pids in received.pids.values())
                   for pid in (first.process.pid, second.process.pid)}
    assert all(share > 0 for share in by_instance.values()), by_instance
    print(f"messages sent per instance: {by_instance}")
