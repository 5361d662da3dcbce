"""Stopping the dispatcher mid-round gives its messages back, none dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import attrs
from pipeline_support import FAST, Pipeline, make_pipeline

from gateway.channels import RetryableError
from gateway.model.samples import example_invoice
from gateway.store import AttemptOutcome, Store, TransportState


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
    attempts = await pipe.store.attempts(record.id)
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, AttemptOutcome.INTERRUPTED), (2, AttemptOutcome.ACCEPTED)]


async def test_a_send_cut_off_by_the_stop_is_recorded_as_an_interrupted_attempt(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, stop_grace=0.1))
    pipe.recorder.script = [RetryableError("busy", code="http-503", transport_id="T-1")]
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, {TransportState.RETRYING})
    pipe.recorder.hold = asyncio.Event()
    pipe.dispatcher.start()
    await _wait_for_call(pipe, 2)
    await asyncio.sleep(0.05)  # the channel has had it a moment: it may have sent it
    await pipe.dispatcher.stop()
    released = await pipe.store.get(record.id)
    assert released is not None
    assert (released.transport_state, released.attempts, released.max_attempts) == (
        TransportState.RETRYING, 2, 9)
    first, cut_off = await pipe.store.attempts(record.id)
    assert first.outcome is AttemptOutcome.RETRYABLE
    # An agency that later reports two copies: here is the send that was started.
    assert (cut_off.number, cut_off.outcome, cut_off.code, cut_off.transport_id) == (
        2, AttemptOutcome.INTERRUPTED, "gateway-stopped", "T-1")
    assert cut_off.detail == ("the gateway stopped during this attempt; the transport may "
                              "have received it")
    assert cut_off.finished_at - cut_off.started_at >= timedelta(milliseconds=50)
    pipe.recorder.hold.set()
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert (sent.attempts, sent.transport_id) == (3, "T-1")
    assert [a.outcome for a in await pipe.store.attempts(record.id)] == [
        AttemptOutcome.RETRYABLE, AttemptOutcome.INTERRUPTED, AttemptOutcome.ACCEPTED]


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
    # Never handed to the channel, they have no attempt to show; the one it had has.
    for message_id in untried:
        assert await pipe.store.attempts(message_id) == []
    [cut_off] = await pipe.store.attempts(tried)
    assert cut_off.outcome is AttemptOutcome.INTERRUPTED
