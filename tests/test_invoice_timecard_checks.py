"""An invoice for hours is held against the timecards the agency sent and approved.

The walk-through that found it: the SETU sample invoice bills 40 regular and
4 overtime hours on timecard 135664, which approved 16 regular and 2 overtime
(and 8 shift hours on another order line, and a meal). It was sent as it was.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, document_json, make_pipeline

from gateway.api.outbound import rejection_problem
from gateway.channels import InboundDocument
from gateway.formats import EncodeContext
from gateway.model import Invoice, Party, PartyId, TimeCard, TimeCardStatus
from gateway.pipeline.errors import DocumentRejected
from gateway.store import Store, TransportState
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
    record = await pipe.submit(invoice(regular="16.00", overtime="2.00"))
    assert record.transport_state is TransportState.QUEUED
    record = await pipe.submit(invoice(regular="8.00", overtime="1.00", number="F-2"))
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
