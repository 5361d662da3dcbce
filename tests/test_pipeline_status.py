"""Statuses a channel reports after sending: timeline events, business state, non-delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from pipeline_support import AGENCY_OIN, SUPPLIER_KVK, Pipeline

from gateway.channels import StatusReport
from gateway.kinds import DocumentKind
from gateway.model.samples import example_invoice
from gateway.pipeline.operator import retry
from gateway.pipeline.status import StatusDesk
from gateway.store import BusinessState, MessageRecord, Store, TimelineMoved, TransportState

SENT = {TransportState.SENT}


@pytest.fixture
def desk(store: Store) -> StatusDesk:
    return StatusDesk(store, lambda: SUPPLIER_KVK)


async def sent_invoice(pipe: Pipeline) -> MessageRecord:
    record = await pipe.submit(example_invoice())
    return await pipe.until(record.id, SENT)


async def sent_invoice_numbered(pipe: Pipeline, number: str) -> MessageRecord:
    record = await pipe.submit(attrs.evolve(example_invoice(), number=number))
    return await pipe.until(record.id, SENT)


async def test_each_status_is_an_event_and_moves_the_business_state(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    sent = await sent_invoice(pipe)
    assert sent.transport_id is not None
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert await desk.record("recorder", StatusReport(
        "400", "Afleveren uitvragende partij gelukt", transport_id=sent.transport_id,
        business_state=BusinessState.DELIVERED_TO_AGENCY, at=at)) == sent.id
    assert await desk.record("recorder", StatusReport(
        "500", "Validatie bij de uitvragende partij gelukt", transport_id=sent.transport_id,
        business_state=BusinessState.ACKNOWLEDGED, final=True,
        detail={"kenmerk": "abc"})) == sent.id

    record = await pipe.store.get(sent.id)
    assert record is not None
    assert record.transport_state is TransportState.SENT
    assert record.business_state == "acknowledged"
    statuses = [e for e in await pipe.store.events(sent.id) if e.kind == "status"]
    assert [(e.detail["code"], e.business_state) for e in statuses] == [
        ("400", "delivered-to-agency"), ("500", "acknowledged")]
    assert statuses[0].detail["at"] == at.isoformat()
    assert statuses[1].detail["final"] is True
    assert statuses[1].detail["kenmerk"] == "abc"


async def test_a_status_seen_before_is_not_recorded_twice(pipe: Pipeline, desk: StatusDesk) -> None:
    sent = await sent_invoice(pipe)
    assert sent.transport_id is not None
    report = StatusReport("301", "Validatie gelukt", transport_id=sent.transport_id,
                          at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC))
    await desk.record("recorder", report)
    await desk.record("recorder", report)
    later = StatusReport("301", "Validatie gelukt", transport_id=sent.transport_id,
                         at=datetime(2026, 11, 29, 10, 5, tzinfo=UTC))
    await desk.record("recorder", later)  # Digipoort may report 301 twice, at other times
    codes = [e.detail["code"] for e in await pipe.store.events(sent.id) if e.kind == "status"]
    assert codes == ["301", "301"]


async def test_non_delivery_moves_a_sent_message_to_the_dead_letter(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    sent = await sent_invoice(pipe)
    assert sent.transport_id is not None
    await desk.record("recorder", StatusReport(
        "410", "Afleveren uitvragende partij niet gelukt", transport_id=sent.transport_id,
        failed=True, final=True, detail={"foutcode": "AFS400"}))
    record = await pipe.store.get(sent.id)
    assert record is not None
    assert record.transport_state is TransportState.FAILED
    assert record.last_error is not None
    assert "410" in record.last_error
    assert "niet gelukt" in record.last_error


async def test_a_conditional_report_is_recorded_only_on_the_timeline_it_was_decided_on(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    sent = await sent_invoice(pipe)
    assert sent.transport_id is not None
    seen = (await pipe.store.events(sent.id))[-1].seq
    await desk.record("recorder", StatusReport(
        "400", "Afleveren gelukt", transport_id=sent.transport_id, after_event=seen,
        business_state=BusinessState.DELIVERED_TO_AGENCY))
    # A second decision taken on the same, now outdated, reading is refused whole.
    with pytest.raises(TimelineMoved, match=f"decided at event {seen}"):
        await desk.record("recorder", StatusReport(
            "410", "Afleveren mislukt", transport_id=sent.transport_id, after_event=seen,
            failed=True))
    record = await pipe.store.get(sent.id)
    assert record is not None
    assert (record.transport_state, record.business_state) == (
        TransportState.SENT, "delivered-to-agency")
    codes = [e.detail["code"] for e in await pipe.store.events(sent.id) if e.kind == "status"]
    assert codes == ["400"]


async def test_a_business_response_finds_its_invoice_by_number(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    invoice = example_invoice()
    sent = await sent_invoice(pipe)
    found = await desk.record("recorder", StatusReport(
        "AP", "Accepted", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
        document_number=invoice.number, business_state=BusinessState.ACCEPTED))
    assert found == sent.id
    record = await pipe.store.get(sent.id)
    assert record is not None
    assert record.business_state == "accepted"


async def test_a_report_for_an_unknown_message_is_not_recorded(desk: StatusDesk) -> None:
    assert await desk.record("recorder", StatusReport("100", transport_id="nope")) is None
    assert await desk.record("recorder", StatusReport(
        "AP", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE, document_number="X-1")) is None


def test_a_report_must_name_its_message() -> None:
    with pytest.raises(ValueError, match="transport_id"):
        StatusReport("AP", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE)


async def test_waiting_lists_sent_messages_until_the_agency_answers(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    first = await sent_invoice(pipe)
    second = await pipe.submit(attrs.evolve(example_invoice(), number="F-second"))
    second = await pipe.until(second.id, SENT)
    waiting = await desk.waiting("recorder")
    assert [m.message_id for m in waiting] == [first.id, second.id]
    assert waiting[0].transport_id == first.transport_id
    assert waiting[0].agency_oin == AGENCY_OIN

    assert first.transport_id is not None
    await desk.record("recorder", StatusReport(
        "400", transport_id=first.transport_id, business_state="delivered-to-agency"))
    # Not yet delivered before delivered, whatever their age.
    assert [m.message_id for m in await desk.waiting("recorder")] == [second.id, first.id]
    await desk.record("recorder", StatusReport(
        "500", transport_id=first.transport_id, business_state="acknowledged", final=True))
    assert [m.message_id for m in await desk.waiting("recorder")] == [second.id]
    assert await desk.waiting("folder") == []
    assert len(await desk.waiting("recorder", limit=1)) == 1


async def test_old_delivered_messages_do_not_keep_a_poller_from_new_ones(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    # Delivered invoices whose agency never answers pile up; a poller asking for a
    # few at a time must still reach the invoice that has no status at all yet.
    delivered = []
    for n in range(3):
        record = await pipe.submit(attrs.evolve(example_invoice(), number=f"F-old-{n}"))
        record = await pipe.until(record.id, SENT)
        assert record.transport_id is not None
        await desk.record("recorder", StatusReport(
            "400", transport_id=record.transport_id, business_state="delivered-to-agency"))
        delivered.append(record.id)
    new = await sent_invoice(pipe)

    assert [m.message_id for m in await desk.waiting("recorder", limit=2)] == [
        new.id, delivered[0]]
    assert [m.message_id for m in await desk.waiting(
        "recorder", limit=2, business_states=["none"])] == [new.id]
    assert [m.message_id for m in await desk.waiting(
        "recorder", business_states=["delivered-to-agency"])] == delivered
    with pytest.raises(ValueError, match="wait for nothing"):
        await desk.waiting("recorder", business_states=["acknowledged"])
    # The listing carries no payloads: a poller needs the ids only.
    [listed] = await pipe.store.waiting_for_status("recorder", "none", 10)
    assert listed.id == new.id
    assert listed.raw_payload is None
    assert listed.canonical_json is None


async def test_a_poller_asking_a_few_at_a_time_goes_round_every_waiting_message(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    # Processes that never get a status (lost by the other side, say) must not keep a
    # poller that asks two at a time from the messages sent after them.
    stuck = [(await sent_invoice_numbered(pipe, f"F-stuck-{n}")).id for n in range(3)]

    async def turn() -> list[str]:
        return [m.message_id for m in await desk.waiting("recorder", limit=2)]

    assert await turn() == stuck[:2]
    assert await turn() == [stuck[2], stuck[0]]  # on from the oldest after the newest
    new = await sent_invoice(pipe)
    assert await turn() == [stuck[1], stuck[2]]
    assert await turn() == [new.id, stuck[0]]
    # When all of them fit, in order of age.
    assert [m.message_id for m in await desk.waiting("recorder", limit=10)] == [*stuck, new.id]
    assert await desk.waiting("folder", limit=2) == []


async def test_the_undelivered_come_first_in_a_round_that_reaches_the_delivered(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    undelivered = [(await sent_invoice_numbered(pipe, f"F-none-{n}")).id for n in range(3)]
    record = await sent_invoice_numbered(pipe, "F-delivered")
    assert record.transport_id is not None
    await desk.record("recorder", StatusReport(
        "400", transport_id=record.transport_id, business_state="delivered-to-agency"))

    async def turn() -> list[str]:
        return [m.message_id for m in await desk.waiting("recorder", limit=2)]

    assert await turn() == undelivered[:2]
    # The delivered get their turn too, however many undelivered wait.
    assert await turn() == [undelivered[2], record.id]
    assert await turn() == undelivered[:2]
    assert [m.message_id for m in await desk.waiting("recorder", limit=5)] == [
        *undelivered, record.id]
    # A state named twice is asked for once.
    assert [m.message_id for m in await desk.waiting(
        "recorder", limit=10, business_states=["delivered-to-agency"] * 2)] == [record.id]


async def test_waiting_for_status_pages_by_id(pipe: Pipeline) -> None:
    ids = [(await sent_invoice_numbered(pipe, f"F-page-{n}")).id for n in range(3)]
    store = pipe.store
    assert [r.id for r in await store.waiting_for_status("recorder", "none", 2)] == ids[:2]
    assert [r.id for r in await store.waiting_for_status("recorder", "none", 2,
                                                         after=ids[0])] == ids[1:]
    assert await store.waiting_for_status("recorder", "none", 2, after=ids[2]) == []


async def test_the_answers_to_a_resend_are_not_held_back_by_the_earlier_sends_answer(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    """A final answer (rejected) stands against late words about the same send, not
    against the answers to the message sent again after it."""
    sent = await sent_invoice(pipe)
    assert sent.transport_id is not None
    await desk.record("recorder", StatusReport(
        "RE", "Rejected", transport_id=sent.transport_id, failed=True, final=True,
        business_state=BusinessState.REJECTED, at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC)))
    await pipe.until(sent.id, {TransportState.FAILED})
    await retry(pipe.store, sent.id, actor="operator", reason="corrected at the agency")
    again = await pipe.until(sent.id, SENT)
    assert again.transport_id is not None
    await desk.record("recorder", StatusReport(
        "AP", "Accepted", transport_id=again.transport_id,
        business_state=BusinessState.ACCEPTED, at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC)))
    record = await pipe.store.get(sent.id)
    assert record is not None
    assert record.business_state == "accepted"
