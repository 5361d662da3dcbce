"""Invoices made from orders and timecards, against amounts worked out by hand.

The expected values follow EN 16931 and the functions' own promises.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import attrs
import pytest

from gateway.business import (
    BusinessError,
    LineChange,
    accept_with_changes,
    invoice_from_order,
    invoice_from_timecards,
)
from gateway.model import (
    AllowanceCharge,
    Period,
    StaffingOrder,
    StaffingRate,
    TimeCard,
    TimeCardStatus,
    TimeInterval,
    VatCategory,
)
from gateway.model.samples import example_order, example_staffing_order, example_timecard

DAY = dt.date(2024, 4, 1)
ORDER_ID = "PO-2024-17"


def staffing_order(*rates: StaffingRate) -> StaffingOrder:
    return attrs.evolve(example_staffing_order(), order_id=ORDER_ID, rates=rates)


def week_of_hours() -> list[TimeCard]:
    intervals = tuple(
        TimeInterval(type="Regular", start=dt.date(2024, 3, d), end=dt.date(2024, 3, d),
                     hours=D("8"), multiplier=D("100"), order_line_reference="1")
        for d in (4, 5, 6, 7, 8)
    )
    return [attrs.evolve(example_timecard(), id="TK-1", status=TimeCardStatus.APPROVED,
                         order_reference=ORDER_ID,
                         period=Period(start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 10)),
                         intervals=intervals)]


BILL_85 = StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR", rate_type="bill")


# -- document-level allowances/charges of the order are dropped --------------------------

def test_order_level_allowance_reaches_the_invoice() -> None:
    # Lines 3270.00 + 27600.00 = 30870.00; order-level discount 870.00 (S 21 %)
    # -> taxable 30000.00, VAT 6300.00, payable 36300.00 (BR-CO-13, BR-S-08, BR-CO-15).
    discount = AllowanceCharge(is_charge=False, amount=D("870.00"), reason="Korting",
                               vat_category=VatCategory.STANDARD, vat_rate=D("21"))
    order = attrs.evolve(example_order(), allowance_charges=(discount,))
    invoice = invoice_from_order(order, number="F-1", issue_date=DAY)
    assert invoice.allowance_charges == (discount,)
    assert invoice.totals.payable == D("36300.00")


# -- line allowances are copied unchanged when the response changes the quantity ---------

def test_percentage_line_allowance_follows_the_confirmed_quantity() -> None:
    order = example_order()
    # 10 % off line 2.1.1 as ordered: 10000 x 2.76 = 27600.00 -> allowance 2760.00.
    line = attrs.evolve(order.lines[1], allowance_charges=(
        AllowanceCharge.percent_of(D("27600.00"), D("10"), is_charge=False, reason="Korting"),))
    order = attrs.evolve(order, lines=(order.lines[0], line))
    response = accept_with_changes(order, {"2.1.1": LineChange(quantity=D("100"))},
                                   number="R-1", issue_date=DAY)
    invoice = invoice_from_order(order, number="F-2", issue_date=DAY, confirmed_by=response)
    second = invoice.lines[1]
    assert second.quantity.value == D("100")
    # 100 x 2.76 = 276.00, less 10 % = 248.40. The allowance for all 10000 pieces
    # (2760.00) must not stay: 276.00 - 2760.00 = -2484.00, a negative line on a debit invoice.
    assert second.net_amount >= 0
    assert second.net_amount == D("248.40")


# -- a reverse-charge (or zero/exempt) timecard invoice gets 21 % VAT -------------------

@pytest.mark.parametrize("category", [VatCategory.REVERSE_CHARGE, VatCategory.EXEMPT,
                                      VatCategory.ZERO_RATED])
def test_a_non_standard_category_charges_no_vat(category: VatCategory) -> None:
    invoice = invoice_from_timecards(staffing_order(BILL_85), week_of_hours(), number="F-4",
                                     issue_date=DAY, vat_category=category)
    # 40 h x 85.00 = 3400.00; BR-AE-05/BR-E-05/BR-Z-05: rate 0, BR-xx-09: VAT 0.
    assert invoice.totals.line_extension == D("3400.00")
    assert [s.rate or D(0) for s in invoice.tax_breakdown] == [D(0)]
    assert invoice.totals.tax_total == D("0.00")
    assert invoice.totals.payable == D("3400.00")


# -- the rate's period is ignored: a daily rate is billed per hour ------------------------

def test_a_daily_rate_is_not_billed_per_hour() -> None:
    order = staffing_order(StaffingRate(order_line_id="1", amount=D("680.00"), currency="EUR",
                                        rate_type="bill", period="daily"))
    # 5 days of 8 h at 680.00 a day is 3400.00; billing 40 h x 680.00 = 27200.00 is 8x too
    # much. Hours can only be priced at an hourly rate: refused, with the reason.
    with pytest.raises(BusinessError, match="daily rate; approved hours can only be priced"):
        invoice_from_timecards(order, week_of_hours(), number="F-5", issue_date=DAY)


# -- requested delivery dates make the invoice lose the delivery address ----------

def test_same_address_different_requested_dates_keeps_the_address() -> None:
    order = example_order()
    first, second = order.lines[0].delivery, order.lines[1].delivery
    assert first is not None
    assert second is not None
    later = attrs.evolve(second, period=Period(end=dt.date(2014, 10, 20)))
    order = attrs.evolve(order, lines=(order.lines[0],
                                       attrs.evolve(order.lines[1], delivery=later)))
    invoice = invoice_from_order(order, number="F-6", issue_date=DAY, delivery_date=DAY)
    assert invoice.delivery is not None
    # Both lines go to Anna van Hannoverstraat 4; only the *requested* dates differ,
    # which _delivery's own docstring says are no invoice delivery data.
    assert invoice.delivery.address == first.address


def test_an_order_allowance_without_vat_among_several_rates_needs_one() -> None:
    """EN 16931 places every document-level allowance in the VAT breakdown (BR-32)."""
    order = example_order()
    lines = (order.lines[0], attrs.evolve(order.lines[1], vat_rate=D("9")))
    discount = AllowanceCharge(is_charge=False, amount=D("10.00"), reason="Kwantumkorting")
    order = attrs.evolve(order, lines=lines, allowance_charges=(discount,))
    with pytest.raises(BusinessError, match="names no VAT category and the invoiced lines have"):
        invoice_from_order(order, number="F-7", issue_date=DAY)
    chosen = invoice_from_order(order, number="F-7", issue_date=DAY,
                                allowance_vat=(VatCategory.STANDARD, D("21")))
    assert [(ac.amount, ac.vat_category, ac.vat_rate) for ac in chosen.allowance_charges] == [
        (D("10.00"), VatCategory.STANDARD, D("21"))]
    assert chosen.arithmetic_errors() == []
    left = invoice_from_order(order, number="F-7", issue_date=DAY, order_allowances=False)
    assert left.allowance_charges == ()
