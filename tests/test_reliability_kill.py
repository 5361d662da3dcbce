"""kill -9 of a real gateway process: nothing lost, nothing sent twice, on SQLite and PostgreSQL.

A subprocess runs the real GatewayService (tests/reliability_gateway.py) and
is killed with SIGKILL at random points, chosen by progress (so many
invoices acknowledged, so many delivered) rather than by time, so that the
kills land mid-submission and mid-dispatch whatever the machine's speed.
How the receiver tells a repeat from a double send: tests/reliability_support.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from reliability_support import (
    AGENCY_OIN,
    Erp,
    GatewayProcess,
    count_lines,
    gateway_config,
    reached,
    read_received,
    wait_for,
)

from gateway.kinds import Direction, DocumentKind
from gateway.model.json import to_json
from gateway.model.samples import example_order
from gateway.pipeline.keys import inbound_key
from gateway.store import TransportState, open_store

pytestmark = pytest.mark.slow

INVOICES = 1_000
SUBMISSION_KILLS = 3
DISPATCH_KILLS = 2
ORDERS = 150
REPEATED_ORDERS = 15


@pytest.fixture
def launch() -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateway processes; whatever is still running at the end is killed."""
    started: list[GatewayProcess] = []

    def start(config: Path, *args: str) -> GatewayProcess:
        started.append(GatewayProcess(config, *args))
        return started[-1]

    yield start
    for process in started:
        if process.alive():
            process.kill()


def seeded() -> random.Random:
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    print(f"RELIABILITY_SEED={seed}")  # shown on failure, to replay the same kill points
    return random.Random(seed)


async def test_kill_9_during_submission_and_dispatch(
    store_url: str, tmp_path: Path, launch: Callable[..., GatewayProcess],
) -> None:
    rng = seeded()
    record = tmp_path / "received.jsonl"
    erp = Erp(INVOICES)
    submitting = asyncio.create_task(erp.run())
    kills: list[tuple[str, int, int]] = []
    began = time.monotonic()

    def delivered() -> int:
        return len(read_received(record).keys)

    # While the ERP submits, one worker and a slow receiver (10 ms a send), so a
    # backlog builds up for the kills during dispatch.
    config = gateway_config(tmp_path, store_url, record=record, delay=0.01)
    for _ in range(SUBMISSION_KILLS + 1):
        gateway = launch(config, "--workers", "1")
        erp.urls = [gateway.wait_ready()]
        if len(kills) < SUBMISSION_KILLS:
            acked = len(erp.acknowledged)
            target = rng.randint(acked + 1, acked + (INVOICES - acked) // 3)
            await wait_for(reached(lambda: len(erp.acknowledged), target), 60,
                           f"{target} acknowledgements")
        else:
            await asyncio.wait_for(submitting, 60)
        erp.urls = []
        gateway.kill()
        kills.append(("submission", len(erp.acknowledged), delivered()))
        print(f"{time.monotonic() - began:5.1f} s: killed", kills[-1])
    kills[-1] = ("submitted", *kills[-1][1:])

    # Now claims of 10 at a time: a kill leaves a whole batch claimed, to be taken
    # over when the lease runs out.
    config = gateway_config(tmp_path, store_url, record=record, delay=0.002)
    for _ in range(DISPATCH_KILLS):
        gateway = launch(config, "--batch", "10")
        gateway.wait_ready()
        lines = count_lines(record)
        target = rng.randint(lines + 1, lines + max(1, (INVOICES - delivered()) // 3))
        await wait_for(reached(lambda: count_lines(record), target), 60,
                       f"{target} deliveries")
        gateway.kill()
        kills.append(("dispatch", len(erp.acknowledged), delivered()))
        print(f"{time.monotonic() - began:5.1f} s: killed", kills[-1])

    gateway = launch(config, "--batch", "10")
    try:
        gateway.wait_ready()
        await wait_for(lambda: delivered() >= INVOICES, 60, "every invoice at the receiver")
        async with open_store(store_url) as store:
            for _ in range(500):
                counts = await store.count_by_state()
                if counts == {"outbound": {"sent": INVOICES}}:
                    break
                await asyncio.sleep(0.02)
            assert counts == {"outbound": {"sent": INVOICES}}
    finally:
        gateway.stop()

    print(f"{time.monotonic() - began:5.1f} s: all sent")
    assert all(0 < acked < INVOICES for stage, acked, _ in kills if stage == "submission"), kills
    assert all(acked == INVOICES and delivered < INVOICES
               for stage, acked, delivered in kills if stage == "dispatch"), kills
    received = read_received(record)
    assert len(received.keys) == INVOICES
    assert received.double_sends() == {}
    print(f"ERP: {erp.unanswered} requests unanswered and sent again, {erp.duplicates} of "
          f"those answered 'already stored'; receiver: {received.repeats()} recognised repeats")


def order_json(number: int) -> bytes:
    order = attrs.evolve(example_order(), number=f"ORD-{number:05d}")
    return json.dumps(to_json(order)).encode()


def drop(inbox: Path, name: str, data: bytes) -> None:
    """Put a file in the inbox the way a careful writer does: a dot file, then a rename."""
    temporary = inbox / f".{name}.part"
    temporary.write_bytes(data)
    temporary.rename(inbox / name)


async def test_kill_9_while_orders_arrive(
    store_url: str, tmp_path: Path, launch: Callable[..., GatewayProcess],
) -> None:
    rng = seeded()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = gateway_config(tmp_path, store_url, record=tmp_path / "received.jsonl",
                            inbox=inbox)
    # Every order once, and some a second time under another file name: the same
    # order delivered twice must still be one order.
    arrivals = [(f"order-{n:05d}.json", n) for n in range(ORDERS)]
    arrivals += [(f"again-{n:05d}.json", n) for n in rng.sample(range(ORDERS), REPEATED_ORDERS)]
    rng.shuffle(arrivals)
    pending = list(arrivals)

    def handled() -> int:
        return len(list((inbox / "done").glob("*.json"))) if (inbox / "done").is_dir() else 0

    kills = 0
    while pending:
        gateway = launch(config)
        gateway.wait_ready()
        size = rng.randint(20, 50)
        batch, pending = pending[:size], pending[size:]
        for name, number in batch:
            drop(inbox, name, order_json(number))
        if pending:
            target = handled() + rng.randint(1, len(batch) - 1)
            await wait_for(reached(handled, target), 60, f"{target} inbox files handled")
            gateway.kill()
            kills += 1
        else:
            await wait_for(lambda: handled() >= len(arrivals), 60, "every inbox file handled")
            gateway.stop()
    assert kills >= 3

    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []
    assert list((inbox / "error").iterdir()) == []
    async with open_store(store_url) as store:
        counts = await store.count_by_state()
        assert counts == {"inbound": {"decoded": ORDERS, "duplicate": REPEATED_ORDERS}}
        for number in range(ORDERS):
            key = inbound_key(AGENCY_OIN, DocumentKind.ORDER, f"ORD-{number:05d}")
            original = await store.find_by_business_key(Direction.INBOUND, key)
            assert original is not None, key
            assert original.transport_state is TransportState.DECODED

