"""SETU-OHNL 2.0 TimeCard (TIMECARD-HRXML): what is mapped, warned about and refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from setu_corpus import SHARED

from gateway.formats import EncodeContext
from gateway.model import Approval, TimeCard, TimeCardAction
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.samples import timecard
from plugins.setu_ohnl.timecard import SetuTimeCard20

FORMAT = SetuTimeCard20()
XML = SHARED / "ohnl-2.0" / "xml"
SCENARIO_3 = XML / "Voorbeeldbericht scenario 3 - SETU (HR-XML)-OHNL_2.0_TimeCard.xml"
EBF = XML / "EBF_Timecard.xml"


def _decode(path: Path) -> tuple[TimeCard, tuple[str, ...]]:
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    decoded = FORMAT.decode(path.read_bytes())
    assert isinstance(decoded.document, TimeCard)
    return decoded.document, decoded.warnings


def test_berichtsoort_and_key() -> None:
    assert FORMAT.berichtsoort == "TIMECARD-HRXML"
    assert FORMAT.key == "setu-ohnl:timecard:2.0"


def test_scenario_3_hours_rates_and_references() -> None:
    card, warnings = _decode(SCENARIO_3)
    assert card.id == "135664"
    assert card.order_reference == "40002147"
    assert card.assignment_id == "1234567"
    assert card.customer.id_for("OIN") == "00000002003182447001"
    assert card.supplier.id_for("KvK") == "98765432"
    assert card.supplier.id_for("BTW") == "NL009876543B01"
    assert card.worker.name == "Bakker , T"
    assert card.worker.id == "2086707"
    assert card.period.start == dt.date(2014, 3, 17)
    assert card.submitted_at == dt.datetime(2014, 10, 9, 16, 30, 16)
    overtime = card.intervals[1]
    assert (overtime.type, overtime.hours, overtime.multiplier) == (
        "Overtime", Decimal("2.00"), Decimal("150.00"),
    )
    assert overtime.order_line_reference == "3.1.1"
    assert overtime.billable
    assert {i.rate_type for i in card.intervals} == {"hourly", "hourlyconsolidated"}
    assert [e.type for e in card.expenses] == ["Avondmaaltijd", "Fietsvergoeding"]
    assert card.expenses[0].amount == Decimal("50.00")
    assert [i.action for i in card.intervals] == [TimeCardAction.ADD] * len(card.intervals)
    # PersonName parts have no canonical field: reported by XPath.
    assert "/TimeCard/ReportedResource/Person/PersonName/GivenName ('Teo') is not mapped" in (
        warnings
    )
    assert not any("@actionCode" in w for w in warnings)


def test_ebf_example_end_before_start_is_dropped_with_a_warning() -> None:
    card, warnings = _decode(EBF)
    assert card.intervals[0].end is None
    assert card.intervals[0].multiplier == Decimal("100")
    assert any("lies before StartDateTime" in w for w in warnings)


def test_billable_false_and_corrected_status_survive() -> None:
    data = FORMAT.encode(timecard(), EncodeContext())
    flipped = data.replace(b'billable="true"', b'billable="false"', 1).replace(
        b"<ReportedTime>", b'<ReportedTime status="corrected">'
    )
    decoded = FORMAT.decode(flipped)
    assert isinstance(decoded.document, TimeCard)
    assert decoded.document.intervals[0].billable is False
    assert decoded.document.billable_hours == timecard().billable_hours - Decimal("8.00")
    # A correction keeps the id of the timecard it replaces (tests/test_timecard_corrections.py).
    assert decoded.document.corrects == decoded.document.id
    assert decoded.warnings == ()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: attrs.evolve(c, notes=("x",)), "TimeCard.notes"),
        (lambda c: attrs.evolve(c, order_reference=None, assignment_id=None),
         "TimeCard.order_reference"),
        (lambda c: attrs.evolve(
            c, intervals=(attrs.evolve(c.intervals[0], approval=Approval(
                approver="P", approved_at=dt.datetime(2014, 3, 24, 9))),)),
         r"TimeCard.intervals\[0\].approval"),
        (lambda c: attrs.evolve(c, intervals=(attrs.evolve(c.intervals[0], multiplier=None),)),
         r"TimeCard.intervals\[0\].multiplier"),
        (lambda c: attrs.evolve(c, approval=Approval(approver="P")), "TimeCard.approval"),
        (lambda c: attrs.evolve(c, customer=attrs.evolve(c.customer, ids=())),
         "TimeCard.customer"),
    ],
)
def test_encode_refuses_what_setu_cannot_carry(change: object, field: str) -> None:
    assert callable(change)
    with pytest.raises(SetuEncodeError, match=field):
        FORMAT.encode(change(timecard()), EncodeContext())


def test_encode_refuses_other_documents() -> None:
    with pytest.raises(SetuEncodeError, match="encodes timecards"):
        FORMAT.encode("not a timecard", EncodeContext())


def test_unreadable_values_are_decode_errors() -> None:
    data = FORMAT.encode(timecard(), EncodeContext())
    with pytest.raises(SetuDecodeError, match="StartDateTime"):
        FORMAT.decode(data.replace(b"<StartDateTime>2014-03-17", b"<StartDateTime>17-03-2014", 1))
    with pytest.raises(SetuDecodeError, match="billable"):
        FORMAT.decode(data.replace(b'billable="true"', b'billable="ja"', 1))
    with pytest.raises(SetuDecodeError, match="multiplier"):
        FORMAT.decode(data.replace(b'multiplier="100.00"', b'multiplier="veel"', 1))
