"""An invoice for hours is held against the timecards the agency sent and approved.

The walk-through that found it: the SETU sample invoice billed 40 regular and
4 overtime hours on timecard 135664, which approved 16 regular and 2 overtime
(and 8 shift hours on another order line, and a meal). It was sent as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, document_json, make_pipeline

from gateway.api.outbound import rejection_problem
from gateway.channels import FinalError, InboundDocument
from gateway.formats import EncodeContext
from gateway.model import (
    DocumentReference,
    Invoice,
    InvoiceType,
    OrderReference,
    Party,
    PartyId,
    TimeCard,
    TimeCardStatus,
)
from gateway.pipeline.errors import DocumentRejected
from gateway.store import BusinessState, Store, TransportState
from plugins.setu_ohnl import samples
from plugins.setu_ohnl.timecard import SetuTimeCard20

AGENCY = Party(ids=(PartyId(scheme="OIN", value=AGENCY_OIN),))


def timecard(**changes: Any) -> TimeCard:
    """Timecard 135664 from our agency: Regular 16.00 on 1.1.1, Overtime 2.00 on 3.1.1."""
    return attrs.evolve(samples.timecard(), **{"customer": AGENCY, **changes})


def invoice(regular: str = "40.00", overtime: str = "4.00", **changes: Any) -> Invoice:
    """The sample invoice to our agency, billing ``regular`` and ``overtime`` hours."""
    sample = samples.invoice()
    hours = {"110": regular, "310": overtime}
    lines = tuple(
        attrs.evolve(line, quantity=attrs.evolve(line.quantity, value=Decimal(hours[line.id])),
                     vat_amount=None).recomputed()
        if line.id in hours else attrs.evolve(line, vat_amount=None)
        for line in sample.lines)
    buyer = attrs.evolve(sample.buyer, ids=AGENCY.ids)
    return Invoice.build(**{
        **{field.name: getattr(sample, field.name) for field in attrs.fields(Invoice)
           if field.name not in ("lines", "tax_breakdown", "totals")},
        "buyer": buyer, "lines": lines, **changes})


async def receive(pipe: Pipeline, card: TimeCard, transport_id: str) -> None:
    data = SetuTimeCard20().encode(card, EncodeContext())
    message_id = await pipe.inbound.receive(InboundDocument(
        data=data, channel="folder", transport_id=transport_id, filename="timecard.xml"))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED


async def refused(
    pipe: Pipeline, document: Invoice,
) -> tuple[DocumentRejected, list[dict[str, Any]]]:
    """The rejection of ``document``, stored as rejected, and the errors of its 422."""
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(document_json(document), agency_oin=AGENCY_OIN)
    problem = await rejection_problem(pipe.store, caught.value)
    assert problem.status == 422
    assert caught.value.message_id is not None
    record = await pipe.store.get(caught.value.message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED
    return caught.value, problem.errors


async def test_hours_beyond_what_the_timecard_approved_are_refused(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    rejection, errors = await refused(pipe, invoice())
    assert rejection.rules == ("timecard-hours",)
    assert [e["field"] for e in errors] == ["$.lines[0].quantity.value",
                                            "$.lines[1].quantity.value"]
    assert "invoices 40.00 hours on order line '1.1.1' of timecard '135664'" in errors[0]["message"]
    assert "approved 16.00 hours (Regular 16.00)" in errors[0]["message"]
    assert "approved 2.00 hours (Overtime 2.00)" in errors[1]["message"]
    queued = await pipe.store.list_messages(transport_state=TransportState.QUEUED)
    assert queued.items == ()


async def test_the_approved_hours_or_fewer_are_sent(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    # The meal line (order line 4.1.1, an expense on the timecard) is no hours line.
    record = await pipe.submit(invoice(regular="10.00", overtime="1.00"))
    assert record.transport_state is TransportState.QUEUED
    # The rest on another invoice.
    record = await pipe.submit(invoice(regular="6.00", overtime="1.00", number="F-2"))
    assert record.transport_state is TransportState.QUEUED


async def test_hours_an_earlier_invoice_billed_are_not_billed_again(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    await pipe.submit(invoice(regular="16.00", overtime="0.50", number="F-1"))
    rejection, errors = await refused(pipe, invoice(regular="16.00", overtime="1.50",
                                                    number="F-2"))
    assert rejection.rules == ("timecard-hours",)
    assert errors == [{
        "field": "$.lines[0].quantity.value", "rule": "timecard-hours",
        "message": "line '110' invoices 16.00 hours on order line '1.1.1' of timecard "
                   "'135664', but the timecard approved 16.00 hours (Regular 16.00) on that "
                   "order line, of which earlier invoices billed 16.00 (F-1 16.00): 0.00 "
                   "are left"}]
    # The overtime fits: 0.50 billed, 1.50 left. Less regular time fits nowhere.
    _, errors = await refused(pipe, invoice(regular="1.00", overtime="1.50", number="F-3"))
    assert [e["field"] for e in errors] == ["$.lines[0].quantity.value"]
    record = await pipe.submit(invoice(regular="0.00", overtime="1.50", number="F-4"))
    assert record.transport_state is TransportState.QUEUED
    _, errors = await refused(pipe, invoice(regular="0.00", overtime="0.25", number="F-5"))
    assert errors[0]["field"] == "$.lines[1].quantity.value"
    assert "earlier invoices billed 2.00 (F-1 0.50, F-4 1.50): 0.00 are left" in (
        errors[0]["message"])


async def test_two_invoices_on_one_timecard_at_once_are_checked_in_turn(pipe: Pipeline) -> None:
    # An ERP that submits its invoices side by side: each checked against the store as
    # it was before either, both would pass with the same 16 hours.
    await receive(pipe, timecard(), "t-1")
    outcomes = await asyncio.gather(*(
        pipe.outbound.submit(document_json(invoice(regular="16.00", overtime="0.00",
                                                   number=number)), agency_oin=AGENCY_OIN)
        for number in ("F-1", "F-2")), return_exceptions=True)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "DocumentRejected", "tuple"]
    rejected = next(o for o in outcomes if isinstance(o, DocumentRejected))
    assert rejected.rules == ("timecard-hours",)
    queued = await pipe.store.list_messages(transport_state=TransportState.QUEUED)
    assert len(queued.items) == 1


async def test_a_credit_note_takes_the_hours_back(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    await pipe.submit(invoice(regular="16.00", overtime="2.00", number="F-1"))
    credit = invoice(regular="6.00", overtime="0.00", number="C-1", type=InvoiceType.CREDIT,
                     billing_references=(DocumentReference(id="F-1"),))
    record = await pipe.submit(credit)
    assert record.document_kind == "credit-note"
    _, errors = await refused(pipe, invoice(regular="7.00", overtime="0.00", number="F-2"))
    assert "earlier invoices billed 10.00 (F-1 16.00, C-1 -6.00): 6.00 are left" in (
        errors[0]["message"])
    record = await pipe.submit(invoice(regular="6.00", overtime="0.00", number="F-2"))
    assert record.transport_state is TransportState.QUEUED


async def test_invoices_the_agency_will_not_pay_do_not_count(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    # Refused at intake: billed nothing.
    await refused(pipe, invoice(regular="40.00", overtime="0.00", number="F-0"))
    cancelled = await pipe.submit(invoice(regular="16.00", overtime="0.00", number="F-1"))
    await pipe.store.transition(cancelled.id, event="cancelled",
                                transport_state=TransportState.CANCELLED)
    refused_by_agency = await pipe.submit(invoice(regular="16.00", overtime="0.00",
                                                  number="F-2"))
    await pipe.store.transition(refused_by_agency.id, event="status",
                                business_state=BusinessState.REJECTED)
    # A dead letter may be retried by an operator, and then reaches the agency.
    dead = await pipe.submit(invoice(regular="10.00", overtime="0.00", number="F-3"))
    pipe.recorder.script = [FinalError("refused by the access point")] * 2  # F-2 and F-3
    assert (await pipe.until(dead.id, {TransportState.FAILED})).transport_state == "failed"
    _, errors = await refused(pipe, invoice(regular="7.00", overtime="0.00", number="F-4"))
    assert "earlier invoices billed 10.00 (F-3 10.00): 6.00 are left" in errors[0]["message"]
    record = await pipe.submit(invoice(regular="6.00", overtime="0.00", number="F-4"))
    assert record.transport_state is TransportState.QUEUED


async def test_the_same_invoice_again_is_not_counted_twice(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path)
    await receive(pipe, timecard(), "t-1")
    first = await pipe.submit(invoice(regular="16.00", overtime="2.00", number="F-1"))
    # Another gateway instance (or this one restarted) remembers no recent keys: the
    # repeat goes through the checks, where its own stored hours are not earlier ones.
    again = await make_pipeline(store, tmp_path)
    record, created = await again.outbound.submit(
        document_json(invoice(regular="16.00", overtime="2.00", number="F-1")),
        agency_oin=AGENCY_OIN)
    assert (record.id, created) == (first.id, False)
    _, errors = await refused(again, invoice(regular="1.00", overtime="0.00", number="F-2"))
    assert "earlier invoices billed 16.00 (F-1 16.00): 0.00 are left" in errors[0]["message"]


async def test_a_correction_of_the_timecard_is_held_against_what_was_billed(
    pipe: Pipeline,
) -> None:
    original = timecard()
    await receive(pipe, original, "t-1")
    await pipe.submit(invoice(regular="10.00", overtime="0.00", number="F-1"))
    fewer = tuple(attrs.evolve(i, hours=Decimal("6.00")) if i.type == "Regular" else i
                  for i in original.intervals)
    await receive(pipe, timecard(corrects="135664", intervals=fewer), "t-2")
    _, errors = await refused(pipe, invoice(regular="4.00", overtime="0.00", number="F-2"))
    assert ("the timecard approved 12.00 hours (Regular 12.00) on that order line, of which "
            "earlier invoices billed 10.00 (F-1 10.00): 2.00 are left") in errors[0]["message"]
    record = await pipe.submit(invoice(regular="2.00", overtime="0.00", number="F-2"))
    assert record.transport_state is TransportState.QUEUED


async def test_the_latest_approved_correction_counts(pipe: Pipeline) -> None:
    original = timecard()
    await receive(pipe, original, "t-1")
    fewer = tuple(attrs.evolve(i, hours=Decimal("5.00")) if i.type == "Regular" else i
                  for i in original.intervals)
    await receive(pipe, timecard(corrects="135664", intervals=fewer), "t-2")
    _, errors = await refused(pipe, invoice(regular="16.00", overtime="2.00"))
    assert [e["field"] for e in errors] == ["$.lines[0].quantity.value"]
    assert "approved 10.00 hours (Regular 10.00)" in errors[0]["message"]
    # A second correction, received later, stands in its turn.
    more = tuple(attrs.evolve(i, hours=Decimal("6.00")) if i.type == "Regular" else i
                 for i in original.intervals)
    await receive(pipe, timecard(corrects="135664", intervals=more), "t-3")
    record = await pipe.submit(invoice(regular="12.00", overtime="2.00", number="F-3"))
    assert record.transport_state is TransportState.QUEUED


async def test_hours_on_a_rejected_timecard_are_refused(pipe: Pipeline) -> None:
    await receive(pipe, timecard(status=TimeCardStatus.REJECTED), "t-1")
    rejection, errors = await refused(pipe, invoice(regular="16.00", overtime="2.00"))
    assert rejection.rules == ("timecard-not-approved",)
    assert errors[0]["field"] == "$.lines[0].timecard_reference"
    assert "is rejected, not approved" in errors[0]["message"]


async def test_a_timecard_from_another_agency_does_not_count(pipe: Pipeline) -> None:
    other = Party(ids=(PartyId(scheme="OIN", value="00000001003214345000"),))
    await receive(pipe, timecard(customer=other), "t-1")
    record = await pipe.submit(invoice())  # not received from this agency: a warning
    events = await pipe.store.events(record.id)
    check = next(e for e in events if e.kind == "check")
    assert "timecard '135664' was never received from agency" in check.detail["warnings"][-1]


async def test_a_timecard_never_received_is_a_warning_by_default(pipe: Pipeline) -> None:
    record = await pipe.submit(invoice())
    assert record.transport_state is TransportState.QUEUED
    check = next(e for e in await pipe.store.events(record.id) if e.kind == "check")
    assert check.detail["warnings"][-1:] == [
        f"timecard '135664' was never received from agency {AGENCY_OIN} (Naam "
        "Overheidsorganisatie); only hours on a timecard the agency sent and approved may be "
        "invoiced (at lines[0].timecard_reference)"]


@pytest.mark.parametrize("setting", ["refuse", "off"])
async def test_a_timecard_never_received_as_the_agency_is_set(
    store: Store, tmp_path: Path, setting: str,
) -> None:
    pipe = await make_pipeline(store, tmp_path,
                               agency_settings=f'unreceived_timecards = "{setting}"\n')
    if setting == "off":
        record = await pipe.submit(invoice())
        check = next(e for e in await pipe.store.events(record.id) if e.kind == "check")
        assert not [w for w in check.detail.get("warnings", []) if "timecard" in w]
        return
    rejection, errors = await refused(pipe, invoice())
    assert rejection.rules == ("timecard-not-received",)
    assert errors == [{
        "field": "$.lines[0].timecard_reference", "rule": "timecard-not-received",
        "message": f"timecard '135664' was never received from agency {AGENCY_OIN} (Naam "
                   "Overheidsorganisatie); only hours on a timecard the agency sent and "
                   "approved may be invoiced"}]


async def test_an_approval_withdrawn_later_refuses_the_hours(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    fewer = tuple(attrs.evolve(i, hours=Decimal("5.00")) if i.type == "Regular" else i
                  for i in timecard().intervals)
    await receive(pipe, timecard(corrects="135664", intervals=fewer), "t-2")
    # The agency then sends the timecard again, rejected: its approval is withdrawn.
    await receive(pipe, timecard(status=TimeCardStatus.REJECTED), "t-3")
    rejection, errors = await refused(pipe, invoice(regular="8.00", overtime="2.00"))
    assert rejection.rules == ("timecard-not-approved",)
    assert "timecard '135664' is rejected, not approved" in errors[0]["message"]
    # A correction approved after the withdrawal stands in its turn.
    more = tuple(attrs.evolve(i, hours=Decimal("6.00")) if i.type == "Regular" else i
                 for i in timecard().intervals)
    await receive(pipe, timecard(corrects="135664", intervals=more), "t-4")
    record = await pipe.submit(invoice(regular="12.00", overtime="2.00", number="F-2"))
    assert record.transport_state is TransportState.QUEUED


async def test_an_approval_given_again_after_a_withdrawal_stands(pipe: Pipeline) -> None:
    await receive(pipe, timecard(), "t-1")
    await receive(pipe, timecard(status=TimeCardStatus.REJECTED), "t-2")
    rejection, _ = await refused(pipe, invoice(regular="16.00", overtime="2.00"))
    assert rejection.rules == ("timecard-not-approved",)
    # The first approval sent again late is still a repeat of it.
    late = await pipe.inbound.receive(InboundDocument(
        data=SetuTimeCard20().encode(timecard(), EncodeContext()), channel="folder",
        transport_id="t-2b", filename="timecard.xml"))
    record = await pipe.store.get(late)
    assert record is not None
    assert record.transport_state is TransportState.DUPLICATE
    # The agency approves it again, sending the timecard unmarked as the first time, with
    # the new approval: no repeat of that first approval, but the turn the ERP and the
    # check must see.
    approved = timecard().approval
    assert approved is not None
    assert approved.approved_at is not None
    again = timecard(approval=attrs.evolve(
        approved, approved_at=approved.approved_at + dt.timedelta(days=3)))
    await receive(pipe, again, "t-3")
    record = await pipe.submit(invoice(regular="16.00", overtime="2.00", number="F-2"))
    assert record.transport_state is TransportState.QUEUED
    # The same approval delivered once more is one document.
    repeat_id = await pipe.inbound.receive(InboundDocument(
        data=SetuTimeCard20().encode(again, EncodeContext()), channel="folder",
        transport_id="t-4", filename="timecard.xml"))
    repeat = await pipe.store.get(repeat_id)
    assert repeat is not None
    assert repeat.transport_state is TransportState.DUPLICATE
    # Withdrawn once more: a turn again, not a repeat of the first withdrawal.
    await receive(pipe, attrs.evolve(again, status=TimeCardStatus.REJECTED), "t-5")
    rejection, _ = await refused(pipe, invoice(regular="1.00", overtime="0.00", number="F-3"))
    assert rejection.rules == ("timecard-not-approved",)


async def test_a_timecard_reference_the_store_cannot_keep_is_refused(pipe: Pipeline) -> None:
    long_id = "T" * 1001
    sample = invoice(regular="1.00", overtime="1.00")
    lines = tuple(attrs.evolve(line, timecard_reference=long_id) for line in sample.lines)
    rejection, errors = await refused(pipe, attrs.evolve(sample, lines=lines,
                                                         timecard_references=()))
    assert rejection.rules == ("timecard-reference-invalid",)
    assert errors == [{
        "field": "$.lines[0].timecard_reference", "rule": "timecard-reference-invalid",
        "message": "timecard reference is 1001 bytes; at most 1000 can be stored"}]


async def test_hours_billed_on_another_order_than_the_timecard_are_refused(
    pipe: Pipeline,
) -> None:
    await receive(pipe, timecard(), "t-1")  # on staffing order 40002147
    other = invoice(regular="8.00", overtime="1.00",
                    order_reference=OrderReference(id="40009999"))
    rejection, errors = await refused(pipe, other)
    assert rejection.rules == ("timecard-order-mismatch",)
    assert errors == [{
        "field": "$.lines[0].timecard_reference", "rule": "timecard-order-mismatch",
        "message": "timecard '135664' books hours on order '40002147', but the invoice names "
                   "order '40009999' (order_reference.id): the agency refuses hours billed on "
                   "another order than they were worked on"}]
    # Where either names no order, there is nothing to compare.
    record = await pipe.submit(invoice(regular="8.00", overtime="1.00", number="F-2",
                                       order_reference=None))
    assert record.transport_state is TransportState.QUEUED
    await receive(pipe, timecard(id="135665", order_reference=None), "t-2")
    lines = tuple(attrs.evolve(line, timecard_reference="135665") for line in other.lines)
    record = await pipe.submit(attrs.evolve(other, number="F-3", lines=lines,
                                            timecard_references=("135665",)))
    assert record.transport_state is TransportState.QUEUED
