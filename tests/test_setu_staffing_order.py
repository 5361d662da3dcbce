"""SETU-OHNL 2.0 StaffingOrder (BESTELLING-HRXML): the agency's order to hire a person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from setu_corpus import SHARED

from gateway.formats import EncodeContext
from gateway.model import StaffingOrder, Worker
from plugins.setu_ohnl.errors import SetuEncodeError
from plugins.setu_ohnl.samples import staffing_order
from plugins.setu_ohnl.staffingorder import SetuStaffingOrder20

FORMAT = SetuStaffingOrder20()
EBF = SHARED / "ohnl-2.0" / "xml" / "EBF_StaffingOrderNL_Order.xml"


def test_berichtsoort_and_key() -> None:
    assert FORMAT.berichtsoort == "BESTELLING-HRXML"
    assert FORMAT.key == "setu-ohnl:staffing-order:2.0"


def test_ebf_example() -> None:
    if not EBF.is_file():
        pytest.skip(f"{EBF} is not present")
    decoded = FORMAT.decode(EBF.read_bytes())
    order = decoded.document
    assert isinstance(order, StaffingOrder)
    assert order.order_id == "PO450012345"
    assert order.issue_date == dt.date(2011, 1, 20)
    assert (order.order_type, order.order_status) == ("order", "new")
    assert order.master_order_id == "C987"
    assert order.customer.id_for("KvK") == "39576093"
    assert order.contact is not None
    assert order.contact.name == "I.Nkoper"
    assert order.position_description == "schoonmaak"
    assert order.start_date == dt.date(2011, 3, 15)
    assert order.rates[0].amount == Decimal("200")
    assert order.rates[0].rate_type == "pay"
    assert order.work_site is not None
    assert order.work_site.building_number == "2 naast 9"
    assert (order.shift_hours, order.shift_period) == (Decimal("50"), "weekly")
    assert order.cost_centre == "H4500123456"
    assert order.offer_id == "55889"
    assert order.inclusive_rate is True
    assert order.notes == ("inhuur LB",)
    assert decoded.warnings == ("/StaffingOrder/MultiVendorDistribution ('true') is not mapped",)


def _rate0(order: StaffingOrder, **changes: Any) -> StaffingOrder:
    return attrs.evolve(order, rates=(attrs.evolve(order.rates[0], **changes),))


REFUSALS: list[tuple[Callable[[StaffingOrder], StaffingOrder], str]] = [
    (lambda o: attrs.evolve(o, order_type=None), "StaffingOrder.order_type"),
    (lambda o: attrs.evolve(o, contact=None), "StaffingOrder.contact"),
    (lambda o: attrs.evolve(o, shift_hours=None), "StaffingOrder.shift_hours"),
    (lambda o: attrs.evolve(o, worker=Worker(name="T. Bakker")), "StaffingOrder.worker"),
    (lambda o: _rate0(o, order_line_id="1.1.1"), r"StaffingOrder.rates\[0\].order_line_id"),
    (lambda o: _rate0(o, max_hours=Decimal(400)), r"StaffingOrder.rates\[0\].max_hours"),
    (lambda o: _rate0(o, rate_type=None), r"StaffingOrder.rates\[0\].rate_type"),
]


@pytest.mark.parametrize(("change", "field"), REFUSALS, ids=[f for _, f in REFUSALS])
def test_encode_refuses_what_setu_cannot_carry(
    change: Callable[[StaffingOrder], StaffingOrder], field: str
) -> None:
    with pytest.raises(SetuEncodeError, match=field):
        FORMAT.encode(change(staffing_order()), EncodeContext())


def test_encode_refuses_other_documents() -> None:
    with pytest.raises(SetuEncodeError, match="encodes staffing orders"):
        FORMAT.encode("not an order", EncodeContext())
