"""Operator actions on outbound messages: retry, cancel, reroute, each with an audit record."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from pipeline_support import Pipeline, make_pipeline

from gateway.channels import FinalError
from gateway.model.samples import example_invoice
from gateway.pipeline import OperatorActionError
from gateway.pipeline.operator import cancel, reroute, retry
from gateway.store import MessageRecord, Store, TransportState
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
    with pytest.raises(OperatorActionError, match="only failed or cancelled"):
        await retry(pipe.store, record.id, actor="fatima")


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
