"""Stopping the dispatcher mid-round gives its messages back, none dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import attrs
from pipeline_support import FAST, Pipeline, make_pipeline

from gateway.model.samples import example_invoice
from gateway.store import Store, TransportState


async def _wait_for_call(pipe: Pipeline, count: int = 1) -> None:
    for _ in range(300):
        if len(pipe.recorder.calls) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the channel was never called")


async def test_stopping_during_the_last_attempt_gives_the_message_back(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, stop_grace=0.1))
    pipe.outbound.settings = attrs.evolve(pipe.outbound.settings, max_attempts=1)
    pipe.recorder.hold = asyncio.Event()
    record = await pipe.submit(example_invoice())
    pipe.dispatcher.start()
    await _wait_for_call(pipe)
    await pipe.dispatcher.stop()          # a deploy restarts the gateway
    released = await pipe.store.get(record.id)
    assert released is not None
    # The send was interrupted by our own shutdown, not refused: it is sent after the
    # restart, as with any other attempt that stop() interrupts.
    assert released.transport_state is TransportState.RETRYING, released.last_error
    assert released.claimed_by is None
    assert released.last_error == "the gateway stopped during this attempt"
    assert (released.attempts, released.max_attempts) == (1, 2)  # the budget gave it back
    assert [e.kind for e in await pipe.store.events(record.id)][-1] == "released"
    pipe.recorder.hold.set()
    assert await pipe.dispatcher.run_once() == 1  # after the restart
    sent = await pipe.store.get(record.id)
    assert sent is not None
    assert sent.transport_state is TransportState.SENT
    assert [a.number for a in await pipe.store.attempts(record.id)] == [2]


async def test_stopping_mid_batch_releases_the_messages_not_yet_tried(
    store: Store, tmp_path: Path,
) -> None:
    settings = attrs.evolve(FAST, batch=3, workers=1, stop_grace=0.1,
                            lease=timedelta(minutes=5))
    pipe = await make_pipeline(store, tmp_path, settings=settings)
    pipe.recorder.hold = asyncio.Event()
    ids = [(await pipe.submit(attrs.evolve(example_invoice(), number=f"B-{n}"))).id
           for n in range(3)]
    pipe.dispatcher.start()
    await _wait_for_call(pipe)
    await pipe.dispatcher.stop()
    states = {}
    for message_id in ids:
        stored = await pipe.store.get(message_id)
        assert stored is not None
        states[message_id] = (stored.transport_state.value, stored.claimed_by, stored.attempts)
    tried = pipe.recorder.calls[0].message_id
    untried = {i: s for i, s in states.items() if i != tried}
    # The two messages never handed to the channel must not stay claimed for the whole
    # lease (5 minutes), with an attempt counted that never happened.
    assert all(state == "queued" or claimed is None for state, claimed, _ in untried.values()), \
        untried
