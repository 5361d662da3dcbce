"""Operator actions on outbound messages: retry, cancel, reroute, each with an audit record."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, config_text, make_pipeline

from gateway.channels import FinalError, RetryableError
from gateway.config import parse_config, switch_route
from gateway.model.samples import example_invoice
from gateway.pipeline import OperatorActionError
from gateway.pipeline.operator import cancel, reroute, retry
from gateway.store import MessageRecord, Store, TransportState
from gateway.store.model import utc_now
from gateway.validation.pool import ValidationPool


async def dead_letter(pipe: Pipeline) -> MessageRecord:
    pipe.recorder.script = [FinalError("agency unreachable for good")]
    record = await pipe.submit(example_invoice())
    return await pipe.until(record.id, {TransportState.FAILED})


async def test_retry_queues_a_dead_letter_with_more_attempts(pipe: Pipeline) -> None:
    failed = await dead_letter(pipe)
    queued = await retry(pipe.store, failed.id, actor="fatima", reason="agency fixed its end",
                         extra_attempts=2)
    assert queued.transport_state is TransportState.QUEUED
    assert queued.max_attempts >= failed.attempts + 2
    sent = await pipe.until(failed.id, {TransportState.SENT})
    assert sent.attempts == 2
    events = [e.kind for e in await pipe.store.events(failed.id)]
    assert "operator-retry" in events
    [audit] = await pipe.store.audit_log()
    assert (audit.actor, audit.action, audit.subject, audit.reason) == (
        "fatima", "message.retry", failed.id, "agency fixed its end")


async def test_retry_refuses_a_message_that_is_not_failed(pipe: Pipeline) -> None:
    record = await pipe.submit(example_invoice())
    with pytest.raises(OperatorActionError, match="only failed, cancelled or retrying"):
        await retry(pipe.store, record.id, actor="fatima")


async def waiting_an_hour(pipe: Pipeline) -> MessageRecord:
    """A message whose first attempt failed, its next one an hour away, under id T-1."""
    pipe.recorder.script = [RetryableError("agency endpoint down", code="http-503",
                                           retry_after=timedelta(hours=1), transport_id="T-1")]
    record = await pipe.submit(example_invoice())
    waiting = await pipe.until(record.id, {TransportState.RETRYING})
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at > utc_now() + timedelta(minutes=50)
    return waiting


async def test_retry_sends_a_retrying_message_now_under_its_transport_id(
    pipe: Pipeline,
) -> None:
    waiting = await waiting_an_hour(pipe)
    assert await pipe.dispatcher.run_once() == 0  # not due for an hour
    queued = await retry(pipe.store, waiting.id, actor="fatima", reason="endpoint is back")
    assert queued.transport_state is TransportState.QUEUED
    assert queued.next_attempt_at is not None
    assert queued.next_attempt_at <= utc_now()
    assert (queued.attempts, queued.transport_id) == (1, "T-1")
    # Seven of eight attempts left: the operator's retry does not stretch the budget.
    assert queued.max_attempts == waiting.max_attempts
    assert queued.last_error is None
    assert await pipe.dispatcher.run_once() == 1
    sent = await pipe.store.get(waiting.id)
    assert sent is not None
    assert (sent.transport_state, sent.attempts) == (TransportState.SENT, 2)
    assert [call.transport_id for call in pipe.recorder.calls] == [None, "T-1"]
    [event] = [e for e in await pipe.store.events(waiting.id) if e.kind == "operator-retry"]
    assert event.detail["previous_state"] == "retrying"
    assert waiting.next_attempt_at is not None
    assert event.detail["was_due_at"] == waiting.next_attempt_at.isoformat()
    [audit] = await pipe.store.audit_log()
    assert (audit.actor, audit.action, audit.subject, audit.reason) == (
        "fatima", "message.retry", waiting.id, "endpoint is back")


async def test_retry_of_a_retrying_message_on_its_last_attempt_adds_attempts(
    pipe: Pipeline,
) -> None:
    pipe.outbound.settings = attrs.evolve(pipe.outbound.settings, max_attempts=2)
    waiting = await waiting_an_hour(pipe)
    queued = await retry(pipe.store, waiting.id, actor="fatima", reason="endpoint is back",
                         extra_attempts=3)
    assert (queued.attempts, queued.max_attempts) == (1, 4)


async def test_retry_of_a_message_a_worker_claimed_meanwhile_is_refused(
    pipe: Pipeline,
) -> None:
    waiting = await waiting_an_hour(pipe)
    # Another instance's worker finds it due (its clock says the hour is over).
    [claimed] = await pipe.store.claim_due("other-worker", 1, timedelta(minutes=5),
                                           now=utc_now() + timedelta(hours=2))
    assert claimed.id == waiting.id
    with pytest.raises(OperatorActionError, match="is sending"):
        await retry(pipe.store, waiting.id, actor="fatima", reason="endpoint is back")
    still = await pipe.store.get(waiting.id)
    assert still is not None
    assert (still.transport_state, still.claimed_by) == (TransportState.SENDING, "other-worker")
    assert await pipe.store.audit_log() == []


async def test_a_retry_racing_a_worker_for_a_retrying_message_sends_it_once(
    pipe: Pipeline,
) -> None:
    # The retry reads the message, then writes: a claim in between must not leave the
    # message both queued for the next worker and in the hands of this one.
    later = utc_now() + timedelta(hours=2)
    for number in range(6):
        pipe.recorder.calls.clear()
        pipe.recorder.script = [RetryableError("down", retry_after=timedelta(hours=1),
                                               transport_id=f"T-{number}")]
        record = await pipe.submit(attrs.evolve(example_invoice(), number=f"R-{number}"))
        await pipe.until(record.id, {TransportState.RETRYING})
        pipe.recorder.calls.clear()
        outcomes = await asyncio.gather(
            retry(pipe.store, record.id, actor="fatima", reason="endpoint is back"),
            pipe.store.claim_due(f"worker-{number}", 1, timedelta(minutes=5), now=later),
            return_exceptions=True,
        )
        retried, claims = outcomes
        assert isinstance(claims, list), claims
        if isinstance(retried, OperatorActionError):
            assert "sending" in str(retried) or "changed meanwhile" in str(retried), retried
        else:
            assert isinstance(retried, MessageRecord), retried
        # One claim holds it, or none (the retry came first and queued it): never two.
        for message in claims:
            sent = await pipe.dispatcher.dispatch(message, f"worker-{number}")
            assert sent is not None
        done = await pipe.until(record.id, {TransportState.SENT})
        assert done.attempts == 2, await pipe.store.events(record.id)
        assert [call.transport_id for call in pipe.recorder.calls] == [f"T-{number}"]
        retries = [e for e in await pipe.store.events(record.id) if e.kind == "operator-retry"]
        assert len(retries) == (0 if isinstance(retried, Exception) else 1)


async def test_cancel_keeps_a_queued_message_from_leaving(pipe: Pipeline) -> None:
    record = await pipe.submit(example_invoice())
    cancelled = await cancel(pipe.store, record.id, actor="fatima", reason="sent by post")
    assert cancelled.transport_state is TransportState.CANCELLED
    assert await pipe.dispatcher.run_once() == 0
    assert pipe.recorder.calls == []
    [audit] = await pipe.store.audit_log()
    assert audit.action == "message.cancel"
    await retry(pipe.store, record.id, actor="fatima", reason="after all")
    await pipe.until(record.id, {TransportState.SENT})


async def test_cancel_refuses_a_sent_message(pipe: Pipeline) -> None:
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, {TransportState.SENT})
    with pytest.raises(OperatorActionError, match="cannot go from sent to cancelled"):
        await cancel(pipe.store, record.id, actor="fatima")


async def test_reroute_sends_over_another_channel_under_a_new_transport_id(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    pipe.recorder.script = [FinalError("gone", transport_id="rec-old")]
    record = await pipe.submit(example_invoice())
    failed = await pipe.until(record.id, {TransportState.FAILED})
    assert failed.transport_id == "rec-old"
    queued = await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                           actor="fatima", channel="folder", reason="Digipoort is down")
    assert (queued.channel, queued.transport_id) == ("folder", None)
    assert queued.routing is not None
    assert "rerouted by fatima to channel folder" in queued.routing["explanation"][-1]
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.transport_id is not None
    assert sent.transport_id != "rec-old"
    assert (tmp_path / "out" / sent.transport_id).read_bytes() == record.raw_payload
    assert len(pipe.recorder.calls) == 1
    [audit] = await pipe.store.audit_log()
    assert audit.action == "message.reroute"
    assert audit.detail["to"] == {"channel": "folder", "format": "canonical:invoice:1"}


async def test_reroute_to_another_channel_drops_the_old_routes_fallback(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, invoice_fallback="folder")
    pipe.recorder.script = [FinalError("gone")]
    record = await pipe.submit(example_invoice())
    assert record.routing is not None
    assert record.routing["fallback_channel"] == "folder"
    await pipe.until(record.id, {TransportState.FAILED})
    # The same channel again: its route, and so its fallback, still holds.
    same = await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                         actor="fatima", channel="recorder", reason="try once more")
    assert same.routing is not None
    assert same.routing["fallback_channel"] == "folder"
    moved = await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                          actor="fatima", channel="folder", reason="recorder is down",
                          config=pipe.config)
    assert moved.routing is not None
    assert (moved.routing["channel"], moved.routing["fallback_channel"],
            moved.routing["used_fallback"]) == ("folder", None, False)
    assert moved.routing["explanation"][-1] == (
        "rerouted by fatima to channel folder, format canonical:invoice:1: recorder is "
        "down; fallback channel folder belonged to the old route, none is used")
    stored = await pipe.store.get(record.id)
    assert stored is not None
    assert stored.routing == moved.routing


async def test_reroute_leaves_a_message_in_flight_alone(pipe: Pipeline) -> None:
    from datetime import timedelta

    record = await pipe.submit(example_invoice())
    await pipe.store.claim_due("busy-worker", 1, timedelta(minutes=5))
    with pytest.raises(OperatorActionError, match="is sending"):
        await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                      actor="fatima", channel="folder")
    still = await pipe.store.get(record.id)
    assert still is not None
    assert (still.transport_state, still.channel) == (TransportState.SENDING, "recorder")


async def test_reroute_to_another_format_re_encodes_and_validates(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool)
        pipe.recorder.script = [FinalError("wants UBL"), FinalError("wants UBL")]
        record = await pipe.submit(example_invoice())
        # Without a buyer or order reference the UBL breaks PEPPOL-EN16931-R003.
        other = await pipe.submit(attrs.evolve(example_invoice(), number="F-2",
                                               buyer_reference=None, order_reference=None))
        await pipe.until(record.id, {TransportState.FAILED})
        await pipe.until(other.id, {TransportState.FAILED})
        queued = await reroute(store, pipe.registry, pool, record.id, actor="fatima",
                               format_key="nlcius:invoice:1.0")
        assert queued.format_key == "nlcius:invoice:1.0"
        assert queued.raw_payload is not None
        assert queued.raw_payload.lstrip().startswith(b"<")
        assert queued.validation is not None
        assert queued.validation["valid"]
        with pytest.raises(OperatorActionError, match="invalid"):
            await reroute(store, pipe.registry, pool, other.id, actor="fatima",
                          format_key="peppol-bis:invoice:3.0")
        unchanged = await store.get(other.id)
        assert unchanged is not None
        assert (unchanged.transport_state, unchanged.format_key) == (
            TransportState.FAILED, "canonical:invoice:1")


async def test_a_reroute_naming_nothing_follows_the_agencys_route_as_switched(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    """The agency moved to another channel after the message was stored: the operator
    need not retype the route the configuration has already."""
    pipe.recorder.script = [FinalError("Digipoort is gone for us")]
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, {TransportState.FAILED})
    with pytest.raises(OperatorActionError, match="nothing to reroute"):
        await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                      actor="fatima", reason="moved?", config=pipe.config)
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    switch_route(path, AGENCY_OIN, "invoice", "folder", reason="moved to the folder")
    switched = parse_config(path.read_text("utf-8"), path)

    queued = await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                           actor="fatima", reason="agency moved", config=switched)
    assert (queued.channel, queued.format_key, queued.transport_state) == (
        "folder", "canonical:invoice:1", TransportState.QUEUED)
    assert queued.routing is not None
    assert queued.routing["explanation"][-3] == (
        f"rerouted by fatima to channel folder, format canonical:invoice:1 as {path} now "
        "routes invoice to Naam Overheidsorganisatie: agency moved")
    assert "routed by [agencies." in queued.routing["explanation"][-2]
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.transport_id is not None
    assert (tmp_path / "out" / sent.transport_id).read_bytes() == record.raw_payload
    [audit] = await pipe.store.audit_log()
    assert audit.action == "message.reroute"
    assert (audit.detail["to"], audit.detail["followed_route"]) == (
        {"channel": "folder", "format": "canonical:invoice:1"}, str(path))
