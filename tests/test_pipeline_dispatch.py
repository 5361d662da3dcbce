"""Dispatch: claims, channel outcomes, stored retries with backoff, dead letters, crashes."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from pipeline_support import FAST, Pipeline, make_pipeline

from gateway.channels import Accepted, FinalError, RetryableError
from gateway.model.samples import example_invoice
from gateway.pipeline.dispatch import DispatchSettings, backoff_delay
from gateway.store import Store, TransportState
from gateway.store.model import utc_now

SENT = {TransportState.SENT}
FAILED = {TransportState.FAILED}


async def test_retryable_failures_are_retried_with_backoff_then_sent(pipe: Pipeline) -> None:
    pipe.recorder.script = [
        RetryableError("connection reset", code="ECONNRESET", transport_id="rec-fixed"),
        RetryableError("503 from the access point", code="503"),
    ]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.transport_state is TransportState.RETRYING
    assert retrying.last_error == "connection reset [ECONNRESET]"
    assert retrying.next_attempt_at is not None
    assert retrying.next_attempt_at > utc_now() - timedelta(seconds=1)
    assert retrying.transport_id == "rec-fixed"

    sent = await pipe.until(record.id, SENT)
    assert sent.transport_id == "rec-fixed"
    assert sent.attempts == 3
    # The same transport id on every try after the channel chose one.
    assert [m.transport_id for m in pipe.recorder.calls] == [None, "rec-fixed", "rec-fixed"]
    assert [m.attempt for m in pipe.recorder.calls] == [1, 2, 3]
    attempts = await pipe.store.attempts(record.id)
    assert [a.outcome for a in attempts] == ["retryable", "retryable", "accepted"]
    kinds = [e.kind for e in await pipe.store.events(record.id)]
    assert kinds.count("retry-scheduled") == 2
    assert kinds[-1] == "sent"


async def test_a_final_error_dead_letters_with_the_reason(pipe: Pipeline) -> None:
    pipe.recorder.script = [FinalError("schema refused by Digipoort", code="ALS100")]
    record = await pipe.submit(example_invoice())
    failed = await pipe.until(record.id, FAILED)
    assert failed.last_error == "schema refused by Digipoort [ALS100]"
    assert failed.next_attempt_at is None
    await asyncio.sleep(0.1)
    assert await pipe.dispatcher.run_once() == 0
    assert len(pipe.recorder.calls) == 1
    events = await pipe.store.events(record.id)
    assert events[-1].kind == "dead-lettered"
    assert events[-1].detail["reason"] == failed.last_error


async def test_the_attempt_budget_ends_in_the_dead_letter(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path)
    pipe.outbound.settings = attrs.evolve(pipe.outbound.settings, max_attempts=3)
    pipe.recorder.script = [RetryableError(f"timeout {n}") for n in range(10)]
    record = await pipe.submit(example_invoice())
    failed = await pipe.until(record.id, FAILED)
    assert failed.attempts == 3
    assert failed.last_error == "gave up after 3 of 3 attempts: timeout 2"
    assert len(pipe.recorder.calls) == 3
    await asyncio.sleep(0.1)
    assert await pipe.dispatcher.run_once() == 0


@pytest.mark.parametrize("raised", [
    RuntimeError("socket exploded"),
    # Only the dispatcher's own send_timeout is "did not answer within"; a channel's own
    # TimeoutError escaping send() is a channel that raised, with its message.
    TimeoutError("the access point's read timed out"),
], ids=["RuntimeError", "TimeoutError"])
async def test_a_raising_channel_counts_as_retryable(pipe: Pipeline, raised: Exception) -> None:
    pipe.recorder.script = [raised]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.transport_state is TransportState.RETRYING
    assert retrying.last_error is not None
    assert f"raised {type(raised).__name__}: {raised}" in retrying.last_error
    assert "did not answer within" not in retrying.last_error
    await pipe.until(record.id, SENT)


async def test_a_channel_that_is_not_running_is_retryable(pipe: Pipeline) -> None:
    del pipe.channels["recorder"]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.transport_state is TransportState.RETRYING
    assert retrying.last_error is not None
    assert "channel 'recorder' is not running" in retrying.last_error
    pipe.channels["recorder"] = pipe.recorder
    await pipe.until(record.id, SENT)


async def test_quick_hiccups_are_retried_within_one_attempt(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, quick_tries=3))
    pipe.recorder.script = [RetryableError("reset"), RetryableError("reset")]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    sent = await pipe.store.get(record.id)
    assert sent is not None
    assert sent.transport_state is TransportState.SENT
    assert sent.attempts == 1
    assert len(pipe.recorder.calls) == 3


async def test_retry_after_is_respected_and_not_retried_quickly(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, quick_tries=3))
    pipe.recorder.script = [RetryableError("slow down", retry_after=timedelta(hours=1))]
    record = await pipe.submit(example_invoice())
    before = utc_now()
    assert await pipe.dispatcher.run_once() == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.next_attempt_at is not None
    assert retrying.next_attempt_at >= before + timedelta(minutes=59)
    assert len(pipe.recorder.calls) == 1
    assert await pipe.dispatcher.run_once() == 0


async def test_a_crash_mid_send_is_taken_over_under_the_same_transport_id(
    pipe: Pipeline,
) -> None:
    pipe.recorder.script = [RetryableError("timeout", transport_id="rec-stable")]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    await asyncio.sleep(0.05)
    # A worker claims the message and dies before it can report (kill -9).
    [claimed] = await pipe.store.claim_due("dead-worker", 1, timedelta(milliseconds=50))
    assert claimed.id == record.id
    assert await pipe.dispatcher.run_once() == 0  # the lease still holds
    await asyncio.sleep(0.1)
    sent = await pipe.until(record.id, SENT)
    accepted = pipe.recorder.calls[1:]
    assert [m.transport_id for m in accepted] == ["rec-stable"]
    assert sent.transport_id == "rec-stable"
    takeover = [e for e in await pipe.store.events(record.id) if e.kind == "send-attempt"][-1]
    assert takeover.detail["taken_over_from"] == "dead-worker"


async def test_a_slow_send_keeps_its_claim(store: Store, tmp_path: Path) -> None:
    lease = timedelta(milliseconds=150)
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, lease=lease))
    pipe.recorder.hold = asyncio.Event()
    record = await pipe.submit(example_invoice())
    sending = asyncio.create_task(pipe.dispatcher.run_once("slow-worker"))
    for _ in range(200):
        if pipe.recorder.calls:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.4)  # well past the first lease
    assert await store.claim_due("other-worker", 1, lease) == []
    pipe.recorder.hold.set()
    assert await sending == 1
    sent = await store.get(record.id)
    assert sent is not None
    assert sent.transport_state is TransportState.SENT
    assert len(pipe.recorder.calls) == 1


async def test_stop_releases_a_send_in_progress(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, stop_grace=0.1))
    pipe.recorder.hold = asyncio.Event()
    record = await pipe.submit(example_invoice())
    pipe.dispatcher.start()
    for _ in range(200):
        if pipe.recorder.calls:
            break
        await asyncio.sleep(0.01)
    assert pipe.recorder.calls
    await pipe.dispatcher.stop()
    released = await pipe.store.get(record.id)
    assert released is not None
    assert released.transport_state is TransportState.RETRYING
    assert released.claimed_by is None
    assert released.last_error == "the gateway stopped during this attempt"
    pipe.recorder.hold = None
    await pipe.until(record.id, SENT)


async def test_running_workers_send_everything_queued(pipe: Pipeline) -> None:
    ids = []
    for number in range(6):
        record = await pipe.submit(attrs.evolve(example_invoice(), number=f"F-{number}"))
        ids.append(record.id)
    pipe.dispatcher.start()
    try:
        for _ in range(500):
            states = [(await pipe.store.get(i)) for i in ids]
            if all(s is not None and s.transport_state is TransportState.SENT for s in states):
                break
            await asyncio.sleep(0.01)
    finally:
        await pipe.dispatcher.stop()
    assert sorted(m.message_id for m in pipe.recorder.calls) == sorted(ids)
    counts = await pipe.store.count_by_state()
    assert counts["outbound"] == {"sent": 6}


def test_backoff_grows_exponentially_up_to_the_cap_with_jitter() -> None:
    settings = DispatchSettings(backoff_base=timedelta(seconds=10),
                                backoff_cap=timedelta(minutes=5), jitter=0.5)
    rng = random.Random(7)
    for attempt, full in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (60, 300)]:
        delay = backoff_delay(attempt, settings, rng).total_seconds()
        assert full / 2 <= delay <= full
    exact = attrs.evolve(settings, jitter=0.0)
    assert backoff_delay(3, exact, rng) == timedelta(seconds=40)


async def test_an_accepted_answer_keeps_the_first_transport_id(pipe: Pipeline) -> None:
    pipe.recorder.script = [RetryableError("busy", transport_id="first"),
                            Accepted("receipt-9")]
    record = await pipe.submit(example_invoice())
    sent = await pipe.until(record.id, SENT)
    assert sent.transport_id == "first"
    assert sent.transport_ids == ("first", "receipt-9")
    found = await pipe.store.find_by_transport_id("recorder", "receipt-9")
    assert found is not None
    assert found.id == record.id


async def test_quick_tries_end_with_the_last_answer(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, quick_tries=3))
    pipe.recorder.script = [RetryableError("reset"), RetryableError("reset again"),
                            RetryableError("still down", code="503")]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.transport_state is TransportState.RETRYING
    assert retrying.last_error == "still down [503]"
    assert retrying.attempts == 1
    assert len(pipe.recorder.calls) == 3


async def test_quick_tries_count_the_first_call_against_the_budget(
    store: Store, tmp_path: Path,
) -> None:
    settings = attrs.evolve(FAST, quick_tries=3, quick_budget=0.1, quick_wait=0.01)
    pipe = await make_pipeline(store, tmp_path, settings=settings)
    pipe.recorder.script = [RetryableError("slow reset")]
    pipe.recorder.hold = asyncio.Event()
    record = await pipe.submit(example_invoice())
    sending = asyncio.create_task(pipe.dispatcher.run_once())
    await asyncio.sleep(0.2)  # the first call alone outlasts the budget
    pipe.recorder.hold.set()
    assert await sending == 1
    retrying = await pipe.store.get(record.id)
    assert retrying is not None
    assert retrying.transport_state is TransportState.RETRYING
    assert len(pipe.recorder.calls) == 1


async def test_a_round_records_every_outcome_of_its_batch(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, batch=4))
    pipe.recorder.script = [RetryableError("busy"), FinalError("refused", code="ALS100")]
    ids = [(await pipe.submit(attrs.evolve(example_invoice(), number=f"R-{n}"))).id
           for n in range(4)]
    pipe.dispatcher.start()
    try:
        for _ in range(500):
            counts = await pipe.store.count_by_state()
            if counts["outbound"] == {"sent": 3, "failed": 1}:
                break
            await asyncio.sleep(0.01)
    finally:
        await pipe.dispatcher.stop()
    assert counts["outbound"] == {"sent": 3, "failed": 1}
    timelines = {i: [e.kind for e in await pipe.store.events(i)] for i in ids}
    intake = ["intake", "check", "route", "encode", "validate", "persist"]
    assert sorted(kinds[len(intake):] for kinds in timelines.values()) == [
        ["send-attempt", "dead-lettered"],
        ["send-attempt", "retry-scheduled", "send-attempt", "sent"],
        ["send-attempt", "sent"],
        ["send-attempt", "sent"],
    ]
    assert all(kinds[:len(intake)] == intake for kinds in timelines.values())
    attempts = [[a.outcome for a in await pipe.store.attempts(i)] for i in ids]
    assert sorted(attempts) == [["accepted"], ["accepted"], ["final"],
                                ["retryable", "accepted"]]
    for message_id in ids:
        stored = await pipe.store.get(message_id)
        assert stored is not None
        assert stored.claimed_by is None


async def _rival_claims(store: Store, lease: timedelta, stop: asyncio.Event) -> list[str]:
    """Another instance's worker: claims whatever it can, as it would to send it."""
    taken: list[str] = []
    while not stop.is_set():
        taken += [record.id for record in await store.claim_due("rival", 1, lease)]
        await asyncio.sleep(0.02)
    return taken


async def test_a_batch_behind_slow_sends_keeps_the_claims_of_those_waiting(
    store: Store, tmp_path: Path,
) -> None:
    # Each send takes longer than half a lease, so the last message of the batch
    # waits longer than a whole lease for its turn.
    lease = timedelta(milliseconds=600)
    pipe = await make_pipeline(store, tmp_path,
                               settings=attrs.evolve(FAST, workers=1, batch=3, lease=lease))
    pipe.recorder.delay = 0.35
    ids = {(await pipe.submit(attrs.evolve(example_invoice(), number=f"S-{n}"))).id
           for n in range(3)}
    stop = asyncio.Event()
    rival = asyncio.create_task(_rival_claims(store, lease, stop))
    try:
        assert await pipe.dispatcher.run_once("slow-worker") == 3
    finally:
        stop.set()
    assert await rival == []
    assert sorted(m.message_id for m in pipe.recorder.calls) == sorted(ids)
    for message_id in ids:
        sent = await store.get(message_id)
        assert sent is not None
        assert sent.transport_state is TransportState.SENT
        assert sent.attempts == 1


async def test_running_workers_keep_the_claims_of_a_slow_batch(
    store: Store, tmp_path: Path,
) -> None:
    lease = timedelta(milliseconds=600)
    pipe = await make_pipeline(store, tmp_path,
                               settings=attrs.evolve(FAST, workers=1, batch=4, lease=lease))
    pipe.recorder.delay = 0.35
    ids = {(await pipe.submit(attrs.evolve(example_invoice(), number=f"W-{n}"))).id
           for n in range(4)}
    stop = asyncio.Event()
    pipe.dispatcher.start()
    for _ in range(200):  # the worker has claimed the batch and started on it
        if pipe.recorder.calls:
            break
        await asyncio.sleep(0.005)
    rival = asyncio.create_task(_rival_claims(store, lease, stop))
    try:
        for _ in range(300):
            if (await store.count_by_state())["outbound"] == {"sent": 4}:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await pipe.dispatcher.stop()
    assert await rival == []
    assert (await store.count_by_state())["outbound"] == {"sent": 4}
    assert sorted(m.message_id for m in pipe.recorder.calls) == sorted(ids)
