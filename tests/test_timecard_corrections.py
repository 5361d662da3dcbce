"""Corrected timecards: billed once, in their latest version, and not swallowed as repeats.

SETU-OHNL 2.0 marks a corrected timecard with ``ReportedTime/@status="corrected"``
(the only values the OHNL TimeCard Schematron allows there are ``rejected`` and
``corrected``) and its lines with HR-XML ``actionCode`` (Add, Change, Void,
Unchanged). It has no element that names another timecard: the OHNL Schematron
forbids ``ReferenceInformation/DocumentId`` and TimeCardAdditionalData has no
TimeCardId, so a correction can only be tied to what it corrects by keeping the
timecard's ``Id``. The documents here are the published scenario 2 timecard and
corrections made from it by those markers alone; the official XSD and Schematron
accept every one of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from pipeline_support import Pipeline
from setu_corpus import SHARED, rule_errors

from gateway.business.errors import BusinessError
from gateway.business.invoicing import invoice_from_timecards
from gateway.channels import InboundDocument
from gateway.delivery.envelope import envelope, file_stem
from gateway.formats import EncodeContext
from gateway.kinds import Direction
from gateway.model import (
    StaffingOrder,
    StaffingRate,
    TimeCard,
    TimeCardAction,
    TimeCardExpense,
    TimeCardStatus,
)
from gateway.model.json import from_json, loads, to_json
from gateway.model.samples import example_staffing_order
from gateway.store import TransportState
from gateway.validation.engine import Validator
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.timecard import SetuTimeCard20
from strategies import assert_valid

FORMAT = SetuTimeCard20()
SCENARIO_2 = (SHARED / "ohnl-2.0" / "xml"
              / "Voorbeeldbericht scenario 2 - SETU (HR-XML)-OHNL_2.0_TimeCard.xml")
OIN = "00000002003182447001"
DAY = dt.date(2014, 10, 10)

FIRST_SENT = b"<SubmittedDateTime>2014-10-06T13:44:55</SubmittedDateTime>"


def original() -> bytes:
    """Timecard 129532: 8 + 8 hours on order line 1.1.1, submitted 2014-10-06."""
    if not SCENARIO_2.is_file():
        pytest.skip(f"{SCENARIO_2} is not present")
    return SCENARIO_2.read_bytes()


def corrected(
    data: bytes, *, hours: str = "6.00", submitted: str = "2014-10-08T09:15:00",
    card_id: str | None = None, second_day: str = "Change",
) -> bytes:
    """``data`` as the agency corrects it: the second day's hours changed (or voided)."""
    assert data.count(b"<TimeInterval ") == 2
    assert FIRST_SENT in data
    head, start, tail = data.rpartition(b"<TimeInterval ")
    head = head.replace(b'actionCode="Add"', b'actionCode="Unchanged"')
    tail = tail.replace(b'actionCode="Add"', f'actionCode="{second_day}"'.encode())
    tail = tail.replace(b"<Duration>8.00</Duration>", f"<Duration>{hours}</Duration>".encode())
    result = (head + start + tail).replace(b"<ReportedTime>", b'<ReportedTime status="corrected">')
    result = result.replace(FIRST_SENT, f"<SubmittedDateTime>{submitted}</SubmittedDateTime>"
                            .encode())
    if card_id is not None:
        result = result.replace(b"<IdValue>129532</IdValue>",
                                f"<IdValue>{card_id}</IdValue>".encode())
    return result


def rejected(data: bytes) -> bytes:
    return data.replace(b"<ReportedTime>", b'<ReportedTime status="rejected">')


def decode(data: bytes) -> TimeCard:
    card = FORMAT.decode(data).document
    assert isinstance(card, TimeCard)
    return card


def staffing_order() -> StaffingOrder:
    """The order the scenario timecards book on: 40002147, line 1.1.1 at 43.78 an hour."""
    return attrs.evolve(
        example_staffing_order(), order_id="40002147",
        rates=(StaffingRate(order_line_id="1.1.1", amount=Decimal("43.78"), currency="EUR",
                            rate_type="bill"),))


def billed_hours(cards: list[TimeCard], received: list[TimeCard] | None = None) -> Decimal:
    invoice = invoice_from_timecards(staffing_order(), cards, number="F-1", issue_date=DAY,
                                     received=received or ())
    return sum((line.quantity.value for line in invoice.lines), Decimal(0))


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def errors(validator: Validator, data: bytes) -> list[str]:
    return rule_errors(validator, FORMAT, data)


# -- on the wire --------------------------------------------------------------------------


def test_the_documents_here_are_valid_timecard_hrxml(validator: Validator) -> None:
    for data in (original(), corrected(original()), corrected(original(), card_id="129540"),
                 corrected(original(), second_day="Void"), rejected(original())):
        assert errors(validator, data) == []
    # The Schematron allows no other status: HR-XML's "Approved" is refused.
    approved = original().replace(b"<ReportedTime>", b'<ReportedTime status="Approved">')
    assert any("rejected, corrected" in e for e in errors(validator, approved))


def test_the_decoder_keeps_what_makes_a_correction() -> None:
    first = FORMAT.decode(original())
    assert isinstance(first.document, TimeCard)
    assert first.document.corrects is None
    assert [i.action for i in first.document.intervals] == [TimeCardAction.ADD] * 2

    again = FORMAT.decode(corrected(original()))
    card = again.document
    assert isinstance(card, TimeCard)
    assert (card.id, card.corrects, card.status) == ("129532", "129532",
                                                     TimeCardStatus.APPROVED)
    assert [(i.action, i.hours) for i in card.intervals] == [
        (TimeCardAction.UNCHANGED, Decimal("8.00")), (TimeCardAction.CHANGE, Decimal("6.00"))]
    assert card.submitted_at == dt.datetime(2014, 10, 8, 9, 15)
    assert card.billable_hours == Decimal("14.00")
    # Read, so no longer among what was not mapped.
    assert not [w for w in again.warnings if "@status" in w or "@actionCode" in w]


def test_a_voided_line_is_kept_but_its_hours_do_not_count() -> None:
    card = decode(corrected(original(), second_day="Void", hours="8.00"))
    assert [i.action for i in card.intervals] == [TimeCardAction.UNCHANGED, TimeCardAction.VOID]
    assert card.billable_hours == Decimal("8.00")
    assert billed_hours([decode(original()), card]) == Decimal("8.00")


def test_a_rejected_timecard_is_neither_approved_nor_billed() -> None:
    card = decode(rejected(original()))
    assert card.status is TimeCardStatus.REJECTED
    with pytest.raises(BusinessError, match="'129532' are not approved"):
        billed_hours([card])


@pytest.mark.parametrize(("change", "where"), [
    ((b"<ReportedTime>", b'<ReportedTime status="Approved">'), "/TimeCard/ReportedTime/@status"),
    ((b'actionCode="Add"', b'actionCode="Replace"'),
     r"/TimeCard/ReportedTime/TimeInterval\[1\]/@actionCode"),
])
def test_a_status_or_action_setu_does_not_know_is_refused(
    change: tuple[bytes, bytes], where: str,
) -> None:
    with pytest.raises(SetuDecodeError, match=where):
        FORMAT.decode(original().replace(*change, 1))


def test_a_correction_is_written_as_setu_marks_one(validator: Validator) -> None:
    card = decode(corrected(original()))
    data = FORMAT.encode(card, EncodeContext())
    assert b'<ReportedTime status="corrected">' in data
    assert b'actionCode="Unchanged"' in data
    assert b'actionCode="Change"' in data
    assert errors(validator, data) == []
    assert decode(data).corrects == "129532"
    assert decode(data).intervals == card.intervals
    assert b'status="rejected"' in FORMAT.encode(decode(rejected(original())), EncodeContext())


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: attrs.evolve(c, corrects="129000"),
     "no element naming the timecard a correction replaces"),
    (lambda c: attrs.evolve(c, status=TimeCardStatus.REJECTED), "rejected or corrected, not both"),
])
def test_a_correction_setu_cannot_carry_is_refused(
    change: Callable[[TimeCard], TimeCard], message: str,
) -> None:
    card = change(decode(corrected(original())))
    with pytest.raises(SetuEncodeError, match=f"TimeCard.corrects: .*{message}"):
        FORMAT.encode(card, EncodeContext())


def test_the_new_fields_round_trip_through_canonical_json() -> None:
    card = attrs.evolve(
        decode(corrected(original())), status=TimeCardStatus.REJECTED,
        expenses=(TimeCardExpense(type="Fietsvergoeding", amount=Decimal("19.00"),
                                  currency="EUR", action=TimeCardAction.VOID),))
    data = to_json(card)
    assert data["corrects"] == "129532"
    assert data["status"] == "rejected"
    assert [i["action"] for i in data["intervals"]] == ["unchanged", "change"]
    assert data["expenses"][0]["action"] == "void"
    assert_valid(data)
    assert from_json(data) == card
    # An original writes none of them: the JSON of timecards sent so far is unchanged.
    plain = to_json(attrs.evolve(card, corrects=None, intervals=tuple(
        attrs.evolve(i, action=None) for i in card.intervals), expenses=()))
    assert "corrects" not in plain
    assert all("action" not in i for i in plain["intervals"])


# -- billing ------------------------------------------------------------------------------


def test_a_correction_under_a_new_id_is_not_billed_next_to_the_original() -> None:
    first = decode(original())
    correction = decode(corrected(original(), card_id="129540"))
    assert billed_hours([first]) == Decimal("16.00")
    # Nothing on the wire says that 129540 replaces 129532: billing both would
    # charge the agency 30 hours for a week it approved 14 hours of.
    with pytest.raises(BusinessError, match=r"129540.*129532|129532.*129540"):
        billed_hours([first, correction])
    # Nor may the original be billed while that correction is in hand.
    with pytest.raises(BusinessError, match=r"'129540' \(a correction.*'129532'"):
        billed_hours([first], received=[correction])
    assert billed_hours([correction], received=[first]) == Decimal("14.00")


def test_only_the_latest_version_of_a_timecard_is_billed() -> None:
    first = decode(original())
    correction = decode(corrected(original()))
    assert billed_hours([first, correction]) == Decimal("14.00")
    assert billed_hours([correction, first]) == Decimal("14.00")
    assert billed_hours([correction]) == Decimal("14.00")
    invoice = invoice_from_timecards(staffing_order(), [first, correction], number="F-2",
                                     issue_date=DAY, per_timecard=True)
    assert invoice.timecard_references == ("129532",)
    assert [line.timecard_reference for line in invoice.lines] == ["129532"]


def test_of_two_corrections_the_later_stands() -> None:
    first = decode(original())
    one = decode(corrected(original(), hours="6.00", submitted="2014-10-08T09:15:00"))
    two = decode(corrected(original(), hours="4.00", submitted="2014-10-09T11:00:00"))
    assert billed_hours([first, one, two]) == Decimal("12.00")
    assert billed_hours([two, first, one]) == Decimal("12.00")
    assert billed_hours([two], received=[first, one]) == Decimal("12.00")
    with pytest.raises(BusinessError, match=r"14\.00 billable hours.*was replaced by.*12\.00"):
        billed_hours([one], received=[first, one, two])


@pytest.mark.parametrize(("first", "second", "why"), [
    # Two corrections sent at the same moment: either may be the one meant.
    (lambda: corrected(original(), hours="6.00"), lambda: corrected(original(), hours="4.00"),
     "both are corrections"),
    # A correction dated before what it corrects.
    (original, lambda: corrected(original(), submitted="2014-10-01T08:00:00"),
     "dated before the version it corrects"),
    # The same id twice, neither marked corrected.
    (original, lambda: original().replace(b"<Duration>8.00</Duration>",
                                          b"<Duration>7.00</Duration>", 1),
     "neither is marked as a correction"),
])
def test_versions_of_which_none_clearly_stands_are_refused(
    first: Callable[[], bytes], second: Callable[[], bytes], why: str,
) -> None:
    one, two = decode(first()), decode(second())
    with pytest.raises(BusinessError, match=why) as refused:
        billed_hours([one, two])
    message = str(refused.value)
    assert message.count("timecard '129532'") == 2
    assert f"{one.billable_hours} billable hours" in message
    assert f"{two.billable_hours} billable hours" in message
    with pytest.raises(BusinessError, match=why):
        billed_hours([one], received=[two])


def test_the_very_same_timecard_twice_is_still_refused() -> None:
    card = decode(corrected(original()))
    with pytest.raises(BusinessError, match=r"repeats timecard id.*'129532'"):
        billed_hours([card, card])
    # Handing what is billed in ``received`` as well changes nothing.
    assert billed_hours([card], received=[card, decode(original())]) == Decimal("14.00")


# -- inbound deduplication ----------------------------------------------------------------


def delivery(data: bytes, transport_id: str) -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id,
                           filename="timecard.xml")


async def state_of(pipe: Pipeline, message_id: str) -> tuple[TransportState, str | None]:
    record = await pipe.store.get(message_id)
    assert record is not None
    return record.transport_state, record.business_key


async def test_a_correction_is_not_swallowed_as_a_repeat_of_the_original(pipe: Pipeline) -> None:
    first_id = await pipe.inbound.receive(delivery(original(), "t-1"))
    correction_id = await pipe.inbound.receive(delivery(corrected(original()), "t-2"))
    first_state, first_key = await state_of(pipe, first_id)
    state, key = await state_of(pipe, correction_id)
    assert first_state is TransportState.DECODED
    assert first_key == f"{OIN}:timecard:129532"
    assert state is TransportState.DECODED
    assert key is not None
    assert key.startswith(f"{OIN}:timecard:129532:correction:")

    # What the ERP then holds bills the corrected hours, once.
    cards = []
    for message_id in (first_id, correction_id):
        record = await pipe.store.get(message_id)
        assert record is not None
        assert record.canonical_json is not None
        # The ERP is told the timecard's own number, the mark is the key's alone.
        assert envelope(record)["document_number"] == "129532"
        assert file_stem(record).startswith("timecard-129532-")
        card = loads(record.canonical_json)
        assert isinstance(card, TimeCard)
        cards.append(card)
    assert billed_hours(cards) == Decimal("14.00")


async def test_repeats_are_still_repeats_and_a_second_correction_is_new(pipe: Pipeline) -> None:
    first_id = await pipe.inbound.receive(delivery(original(), "t-1"))
    correction_id = await pipe.inbound.receive(delivery(corrected(original()), "t-2"))
    repeats = [
        (await pipe.inbound.receive(delivery(corrected(original()), "t-3")), correction_id),
        (await pipe.inbound.receive(delivery(original(), "t-4")), first_id),
    ]
    for repeat_id, original_id in repeats:
        assert (await state_of(pipe, repeat_id))[0] is TransportState.DUPLICATE
        events = await pipe.store.events(repeat_id)
        assert events[-1].detail["original"] == original_id
    second = await pipe.inbound.receive(delivery(
        corrected(original(), hours="4.00", submitted="2014-10-09T11:00:00"), "t-5"))
    state, key = await state_of(pipe, second)
    assert state is TransportState.DECODED
    assert key not in {(await state_of(pipe, i))[1] for i in (first_id, correction_id)}
    decoded = await pipe.store.list_messages(direction=Direction.INBOUND,
                                             transport_state=TransportState.DECODED)
    assert {m.id for m in decoded.items} == {first_id, correction_id, second}


async def test_an_approval_withdrawn_is_a_document_of_its_own(pipe: Pipeline) -> None:
    first_id = await pipe.inbound.receive(delivery(original(), "t-1"))
    # The agency withdraws its approval: the same timecard again, unmarked, rejected.
    withdrawn_id = await pipe.inbound.receive(delivery(rejected(original()), "t-2"))
    state, key = await state_of(pipe, withdrawn_id)
    assert state is TransportState.DECODED
    assert key == f"{OIN}:timecard:129532:status:rejected"
    record = await pipe.store.get(withdrawn_id)
    assert record is not None
    assert envelope(record)["document_number"] == "129532"
    # Found by the number the agency gave it, as the original is.
    found = await pipe.store.list_messages(direction=Direction.INBOUND, number="129532")
    assert {m.id for m in found.items} == {first_id, withdrawn_id}

    # The same withdrawal, and the original, delivered again are still repeats.
    for data, transport_id, first in ((rejected(original()), "t-3", withdrawn_id),
                                      (original(), "t-4", first_id)):
        repeat_id = await pipe.inbound.receive(delivery(data, transport_id))
        assert (await state_of(pipe, repeat_id))[0] is TransportState.DUPLICATE
        events = await pipe.store.events(repeat_id)
        assert events[-1].detail["original"] == first
        assert "differs" not in events[-1].detail
