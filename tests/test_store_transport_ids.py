"""Transport ids across reroutes and resubmissions: the one the message travels under now counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline_support import SUPPLIER_KVK, Pipeline, RecordingChannel

from gateway.channels import StatusReport
from gateway.model.samples import example_invoice
from gateway.pipeline import operator
from gateway.pipeline.status import StatusDesk
from gateway.store import Attempt, AttemptOutcome, MessageRecord, Store, TransportState

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
SENT = {TransportState.SENT}


async def test_store_resend_under_a_known_id_after_a_reroute(store: Store) -> None:
    record, _ = await store.add_outbound(MessageRecord.new_outbound(
        document_kind="invoice", business_key="K1", agency_oin="00000001003214345000",
        canonical_json="{}", raw_payload=b"<x/>", channel="peppol-a", format_key="f", now=T0))
    [_claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    first = Attempt(record.id, 1, T0, T0, AttemptOutcome.ACCEPTED, transport_id="T-1")
    await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                           expect_claimed_by="w", attempt=first, now=T0)
    await store.transition(record.id, event="status", transport_state=TransportState.FAILED,
                           last_error="bounced", now=T0)
    # What operator.reroute writes for a new channel: the old id belongs to the old channel.
    await store.transition(record.id, event="rerouted", transport_state=TransportState.QUEUED,
                           channel="peppol-b", transport_id=None, max_attempts=5, now=T0)
    [again] = await store.claim_due("w", 1, LEASE, now=T0)
    assert again.transport_id is None
    # peppol-b derives the same SBDH instance id from the message id (instance_id_for).
    second = Attempt(record.id, 2, T0, T0, AttemptOutcome.ACCEPTED, transport_id="T-1")
    sent = await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                                  expect_claimed_by="w", attempt=second, now=T0)
    assert sent.transport_id == "T-1", "sent, but under no transport id"
    found = await store.find_by_transport_id("peppol-b", "T-1")
    assert found is not None, "the new channel's statuses find nothing"
    assert found.id == record.id


async def test_pipeline_reroute_to_a_channel_that_reuses_the_id(pipe: Pipeline) -> None:
    other = RecordingChannel("recorder-b", {})
    pipe.channels["recorder-b"] = other
    record = await pipe.submit(example_invoice())
    sent = await pipe.until(record.id, SENT)
    tid = sent.transport_id
    assert tid == f"rec-{record.id}"
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    await desk.record("recorder", StatusReport(code="NDR", text="not delivered",
                                               transport_id=tid, failed=True, final=True))
    await operator.reroute(pipe.store, pipe.registry, None, record.id,  # type: ignore[arg-type]
                           actor="ops", channel="recorder-b", reason="other route")
    again = await pipe.until(record.id, SENT)
    assert [m.transport_id for m in other.calls] == [None]
    assert again.transport_id == tid, "sent over recorder-b but stored without a transport id"
    waiting = await desk.waiting("recorder-b")
    assert [w.message_id for w in waiting] == [record.id], "the poller never asks about it"


async def test_a_resubmission_after_non_delivery_is_polled_under_its_new_id(
    pipe: Pipeline,
) -> None:
    # Digipoort gives every accepted submission a kenmerk of its own. The first process
    # fails (non-delivery); the operator retries; the channel sees the old kenmerk has
    # failed (_already_accepted) and submits again, which Digipoort accepts as K2.
    from gateway.channels import Accepted

    pipe.recorder.script = [Accepted("K1")]
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, SENT)
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    await desk.record("recorder", StatusReport(code="ALS170", text="verwerking mislukt",
                                               transport_id="K1", failed=True, final=True))
    await operator.retry(pipe.store, record.id, actor="ops", reason="try again")
    pipe.recorder.script = [Accepted("K2")]
    again = await pipe.until(record.id, SENT)
    assert pipe.recorder.calls[-1].transport_id == "K1"
    assert again.transport_ids == ("K1", "K2")
    # The poller asks the transport about `transport_id`: it must be the live process.
    waiting = await desk.waiting("recorder")
    assert [w.transport_id for w in waiting] == ["K2"], "polled under the failed K1 forever"
