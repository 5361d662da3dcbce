"""Invoices built from orders (goods) and from approved timecards (nacalculatie).

Amounts are checked against sums worked out by hand; references by value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.business import (
    BusinessError,
    LineChange,
    MissingLineData,
    UnknownLines,
    accept_all,
    accept_with_changes,
    invoice_from_order,
    invoice_from_timecards,
    reject,
)
from gateway.model import (
    AllowanceCharge,
    Delivery,
    Invoice,
    InvoiceType,
    LineResponse,
    LineStatus,
    Order,
    OrderReference,
    OrderResponse,
    Period,
    Quantity,
    ResponseStatus,
    StaffingOrder,
    StaffingRate,
    TimeCard,
    TimeCardStatus,
    TimeInterval,
    VatCategory,
)
from gateway.model.samples import (
    AGENCY,
    SUPPLIER,
    example_order,
    example_staffing_order,
    example_timecard,
)
from strategies import decimals, orders

D = Decimal
DAY = dt.date(2014, 11, 1)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def totals(invoice: Invoice) -> tuple[Decimal, Decimal, Decimal]:
    return (invoice.totals.line_extension, invoice.totals.tax_total, invoice.totals.payable)


# -- from an order ------------------------------------------------------------------------------


def test_an_order_invoiced_as_ordered() -> None:
    invoice = invoice_from_order(example_order(), number="F-1", issue_date=DAY,
                                 sales_order_id="SO-9", due_date=dt.date(2014, 12, 1))
    # 1000 x 3.27 = 3270.00 and 10000 x 2.76 = 27600.00; 21 % of 30870.00 is 6482.70,
    # which is what the order itself announced.
    assert totals(invoice) == (D("30870.00"), D("6482.70"), D("37352.70"))
    assert invoice.arithmetic_errors() == []
    assert invoice.order_reference == OrderReference(
        id="40000695", sales_order_id="SO-9", issue_date=dt.date(2014, 10, 7))
    assert [(ln.id, ln.order_line_reference, ln.quantity.value, ln.net_amount)
            for ln in invoice.lines] == [
        ("1", "1.1.1", D("1000.00"), D("3270.00")),
        ("2", "2.1.1", D("10000.00"), D("27600.00")),
    ]
    assert invoice.lines[0].item == example_order().lines[0].item
    assert (invoice.seller, invoice.buyer, invoice.currency) == (SUPPLIER, AGENCY, "EUR")
    assert invoice.type is InvoiceType.DEBIT
    assert not invoice.proposal
    assert invoice.due_date == dt.date(2014, 12, 1)
    # The delivery address goes along; the requested period is no delivery date.
    ordered = example_order().lines[0].delivery
    assert ordered is not None
    assert invoice.delivery is not None
    assert invoice.delivery.address == ordered.address
    assert invoice.delivery.period is None


def test_a_delivery_date_and_the_invoicee() -> None:
    invoicee = attrs.evolve(AGENCY, name="Financiële administratie")
    order = attrs.evolve(example_order(), invoicee=invoicee, buyer_reference="BR-1")
    invoice = invoice_from_order(order, number="F-2", issue_date=DAY,
                                 delivery_date=dt.date(2014, 10, 14))
    assert invoice.buyer == invoicee
    assert invoice.buyer_reference == "BR-1"
    assert invoice.delivery is not None
    assert invoice.delivery.date == dt.date(2014, 10, 14)


def test_the_confirmed_quantities_are_invoiced_and_rejected_lines_left_out() -> None:
    order = example_order()
    response = accept_with_changes(order, {"2.1.1": LineChange(quantity=D("8000"))},
                                   number="B-1", issue_date=DAY, sales_order_id="SO-4711")
    response = attrs.evolve(response, line_responses=(
        LineResponse(line_id="1.1.1", status=LineStatus.REJECTED),
        *response.line_responses[1:],
    ))
    invoice = invoice_from_order(order, number="F-3", issue_date=DAY, confirmed_by=response)
    # 8000 x 2.76 = 22080.00; 21 % = 4636.80.
    assert totals(invoice) == (D("22080.00"), D("4636.80"), D("26716.80"))
    assert [(ln.order_line_reference, ln.quantity) for ln in invoice.lines] == [
        ("2.1.1", Quantity(value=D("8000"), unit_code="EA"))]
    assert invoice.order_reference == OrderReference(
        id="40000695", sales_order_id="SO-4711", issue_date=dt.date(2014, 10, 7))


def test_an_accepted_response_changes_nothing() -> None:
    order = example_order()
    response = accept_all(order, number="B-2", issue_date=DAY)
    assert totals(invoice_from_order(order, number="F-4", issue_date=DAY,
                                     confirmed_by=response))[0] == D("30870.00")


def not_confirming(how: str) -> OrderResponse:
    order = example_order()
    if how == "rejected":
        return reject(order, "nee", number="B-3", issue_date=DAY)
    response = accept_all(order, number="B-3", issue_date=DAY)
    if how == "acknowledged":
        return attrs.evolve(response, status=ResponseStatus.ACKNOWLEDGED)
    return attrs.evolve(response, order_reference=OrderReference(id="OTHER"))


@pytest.mark.parametrize(("how", "message"), [
    ("rejected", "was rejected"),
    ("acknowledged", "only acknowledges"),
    ("other order", "answers order OTHER, not order 40000695"),
])
def test_a_response_that_does_not_confirm_this_order_is_refused(how: str, message: str) -> None:
    with pytest.raises(BusinessError, match=message):
        invoice_from_order(example_order(), number="F-5", issue_date=DAY,
                           confirmed_by=not_confirming(how))


def test_a_response_naming_unknown_lines_is_refused() -> None:
    order = example_order()
    response = attrs.evolve(accept_all(order, number="B-4", issue_date=DAY), line_responses=(
        LineResponse(line_id="7", status=LineStatus.ACCEPTED),))
    with pytest.raises(UnknownLines) as caught:
        invoice_from_order(order, number="F-6", issue_date=DAY, confirmed_by=response)
    assert caught.value.line_ids == ("7",)


def test_lines_without_a_price_are_listed_and_can_be_priced() -> None:
    order = example_order()
    unpriced = attrs.evolve(order, lines=tuple(
        attrs.evolve(line, price=None) for line in order.lines))
    with pytest.raises(MissingLineData) as caught:
        invoice_from_order(unpriced, number="F-7", issue_date=DAY, prices={"1.1.1": D("3.27")})
    assert caught.value.what == "price"
    assert caught.value.line_ids == ("2.1.1",)
    assert "prices=" in str(caught.value)
    invoice = invoice_from_order(unpriced, number="F-7", issue_date=DAY,
                                 prices={"1.1.1": D("3.27"), "2.1.1": D("2.50")})
    # 3270.00 + 10000 x 2.50 = 28270.00
    assert invoice.totals.line_extension == D("28270.00")


def test_a_given_price_keeps_the_ordered_base_quantity() -> None:
    order = example_order()
    price = order.lines[0].price
    assert price is not None
    line = attrs.evolve(order.lines[0], price=attrs.evolve(
        price, base_quantity=Quantity(value=D("12"), unit_code="EA")))
    invoice = invoice_from_order(attrs.evolve(order, lines=(line,)), number="F-8",
                                 issue_date=DAY, prices={"1.1.1": D("30.00")})
    # 1000 x 30.00 / 12 = 2500.00
    assert invoice.lines[0].net_amount == D("2500.00")


def test_lines_without_vat_are_listed_and_can_be_given_it() -> None:
    order = example_order()
    no_vat = attrs.evolve(order, lines=tuple(
        attrs.evolve(line, vat_category=None, vat_rate=None) for line in order.lines))
    with pytest.raises(MissingLineData) as caught:
        invoice_from_order(no_vat, number="F-9", issue_date=DAY)
    assert (caught.value.what, caught.value.line_ids) == ("VAT category", ("1.1.1", "2.1.1"))
    invoice = invoice_from_order(no_vat, number="F-9", issue_date=DAY, vat={
        "1.1.1": (VatCategory.STANDARD, D("9")), "2.1.1": (VatCategory.STANDARD, D("21"))})
    # 9 % of 3270.00 = 294.30; 21 % of 27600.00 = 5796.00
    assert [s.tax_amount for s in invoice.tax_breakdown] == [D("294.30"), D("5796.00")]


def test_prices_for_unknown_lines_are_refused() -> None:
    with pytest.raises(UnknownLines, match="'x'"):
        invoice_from_order(example_order(), number="F-10", issue_date=DAY, prices={"x": D(1)})


def test_nothing_left_to_invoice_is_refused() -> None:
    order = example_order()
    response = accept_with_changes(order, {"1.1.1": LineChange(quantity=D(0)),
                                           "2.1.1": LineChange(quantity=D(0))},
                                   number="B-5", issue_date=DAY)
    with pytest.raises(BusinessError, match="nothing of order 40000695"):
        invoice_from_order(order, number="F-11", issue_date=DAY, confirmed_by=response)


def test_line_allowances_go_along() -> None:
    order = example_order()
    line = attrs.evolve(order.lines[1], allowance_charges=(
        AllowanceCharge(is_charge=False, amount=D("600.00"), reason="Korting"),))
    invoice = invoice_from_order(attrs.evolve(order, lines=(order.lines[0], line)),
                                 number="F-12", issue_date=DAY)
    assert invoice.lines[1].net_amount == D("27000.00")
    assert invoice.arithmetic_errors() == []


@SETTINGS
@given(orders(), st.data())
def test_invoices_from_orders_always_add_up(order: Order, data: st.DataObject) -> None:
    ids = [line.id for line in order.lines]
    assume(len(set(ids)) == len(ids))
    prices = {line.id: data.draw(decimals(0, 1000, max_places=4))
              for line in order.lines if line.price is None}
    vat = {line.id: (VatCategory.STANDARD, D("21"))
           for line in order.lines if line.vat_category is None}
    changes = data.draw(st.dictionaries(
        st.sampled_from(ids),
        st.builds(LineChange, quantity=st.one_of(st.none(), decimals(0, 500, max_places=2)))))
    response = accept_with_changes(order, changes, number="B", issue_date=DAY)
    confirmed = {r.line_id: r.quantity for r in response.line_responses if r.quantity}
    left = [i for i in ids if (confirmed.get(i) or order.lines[ids.index(i)].quantity).value]
    if not left:
        with pytest.raises(BusinessError, match="nothing"):
            invoice_from_order(order, number="F", issue_date=DAY, prices=prices, vat=vat,
                               confirmed_by=response)
        return
    invoice = invoice_from_order(order, number="F", issue_date=DAY, prices=prices, vat=vat,
                                 confirmed_by=response)
    assert invoice.arithmetic_errors() == []
    assert [line.order_line_reference for line in invoice.lines] == left
    assert invoice.order_reference is not None
    assert (invoice.order_reference.id, invoice.currency) == (order.number, order.currency)


# -- from timecards -----------------------------------------------------------------------------


ORDER_ID = "PO-2024-17"


def staffing_order(*rates: StaffingRate) -> StaffingOrder:
    return attrs.evolve(example_staffing_order(), order_id=ORDER_ID, rates=rates or (
        StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR", rate_type="bill",
                     cost_centre="KP-12", description="Schoonmaak"),
        StaffingRate(order_line_id="1", amount=D("60.00"), currency="EUR", rate_type="pay"),
    ))


def hours(day: int, kind: str, amount: str, multiplier: str = "100.00", *,
          billable: bool = True, line: str | None = "1") -> TimeInterval:
    date = dt.date(2024, 3, day)
    return TimeInterval(type=kind, start=date, end=date, hours=D(amount),
                        multiplier=D(multiplier), billable=billable,
                        order_line_reference=line)


def timecard(card_id: str, start: int, *intervals: TimeInterval,
             status: TimeCardStatus = TimeCardStatus.APPROVED,
             order: str | None = ORDER_ID) -> TimeCard:
    return attrs.evolve(
        example_timecard(), id=card_id, status=status, order_reference=order,
        period=Period(start=dt.date(2024, 3, start), end=dt.date(2024, 3, start + 6)),
        intervals=intervals,
    )


def two_weeks() -> list[TimeCard]:
    return [
        timecard("TK-1", 4, hours(4, "Regular", "8"), hours(5, "Regular", "8"),
                 hours(6, "Regular", "8"), hours(6, "Overtime", "2", "125.00"),
                 hours(7, "Regular", "3", billable=False)),
        timecard("TK-2", 11, hours(11, "Regular", "8"), hours(12, "Regular", "6"),
                 hours(13, "Overtime", "2", "125")),
    ]


def test_two_timecards_of_regular_and_overtime_hours() -> None:
    invoice = invoice_from_timecards(staffing_order(), two_weeks(), number="F-20",
                                     issue_date=DAY)
    # 38 h x 85.00 = 3230.00; 4 h x 85.00 x 125 % = 4 x 106.25 = 425.00;
    # 3655.00 + 21 % (767.55) = 4422.55. The 3 unbillable hours are not invoiced.
    assert totals(invoice) == (D("3655.00"), D("767.55"), D("4422.55"))
    assert invoice.arithmetic_errors() == []
    regular, overtime = invoice.lines
    assert (regular.quantity, regular.price.amount, regular.net_amount) == (
        Quantity(value=D("38"), unit_code="HUR"), D("85.00"), D("3230.00"))
    assert (overtime.quantity.value, overtime.price.amount, overtime.net_amount) == (
        D("4"), D("106.25"), D("425.00"))
    assert regular.item.name == "Regular 100%"
    assert overtime.item.name == "Overtime 125%"
    assert {line.order_line_reference for line in invoice.lines} == {"1"}
    assert {line.accounting_cost for line in invoice.lines} == {"KP-12"}
    # Each line draws on both timecards, so only the header can name them.
    assert [line.timecard_reference for line in invoice.lines] == [None, None]
    assert invoice.timecard_references == ("TK-1", "TK-2")
    assert regular.period == Period(start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 12))
    assert invoice.order_reference == OrderReference(id=ORDER_ID)
    assert invoice.invoice_period == Period(start=dt.date(2024, 3, 4),
                                            end=dt.date(2024, 3, 17))
    assert (invoice.seller, invoice.buyer, invoice.currency) == (SUPPLIER, AGENCY, "EUR")


def test_per_timecard_lines_name_their_timecard() -> None:
    invoice = invoice_from_timecards(staffing_order(), two_weeks(), number="F-21",
                                     issue_date=DAY, per_timecard=True)
    assert [(ln.timecard_reference, ln.item.name, ln.quantity.value)
            for ln in invoice.lines] == [
        ("TK-1", "Regular 100%", D("24")), ("TK-1", "Overtime 125%", D("2")),
        ("TK-2", "Regular 100%", D("14")), ("TK-2", "Overtime 125%", D("2")),
    ]
    assert invoice.totals.payable == D("4422.55")


def test_the_sample_timecard_at_the_rates_of_its_order() -> None:
    order = attrs.evolve(example_staffing_order(), order_id="40002147", rates=(
        StaffingRate(order_line_id="1.1.1", amount=D("43.78"), currency="EUR"),
        StaffingRate(order_line_id="3.1.1", amount=D("34.34"), currency="EUR"),
        StaffingRate(order_line_id="2.1.1", amount=D("40.63"), currency="EUR"),
    ))
    invoice = invoice_from_timecards(order, [example_timecard()], number="F-22",
                                     issue_date=DAY, vat_rate=D("21"))
    # 16 h x 43.78 = 700.48; 2 h x 51.51 = 103.02; 8 h x 60.945 = 487.56 (rounded);
    # 1291.06 + 21 % (271.12) = 1562.18.
    assert [ln.net_amount for ln in invoice.lines] == [D("700.48"), D("103.02"), D("487.56")]
    assert totals(invoice) == (D("1291.06"), D("271.12"), D("1562.18"))
    assert [ln.order_line_reference for ln in invoice.lines] == ["1.1.1", "3.1.1", "2.1.1"]
    assert {ln.timecard_reference for ln in invoice.lines} == {"135664"}
    assert invoice.order_reference == OrderReference(id="40002147")
    # The night shift ends on the 23rd.
    assert invoice.lines[2].period == Period(start=dt.date(2014, 3, 22),
                                             end=dt.date(2014, 3, 23))


def test_timecards_of_another_order_are_refused() -> None:
    with pytest.raises(BusinessError, match=r"'135664'.* do not belong to staffing order "
                                            r"PO450012345"):
        invoice_from_timecards(example_staffing_order(), [example_timecard()], number="F-23",
                               issue_date=DAY)
    with pytest.raises(BusinessError, match="'TK-3'"):
        invoice_from_timecards(staffing_order(),
                               [*two_weeks(), timecard("TK-3", 18, hours(18, "Regular", "8"),
                                                       order=None)],
                               number="F-23", issue_date=DAY)


def test_timecards_not_yet_approved_are_refused() -> None:
    cards = two_weeks()
    cards[1] = attrs.evolve(cards[1], status=TimeCardStatus.SUBMITTED)
    with pytest.raises(BusinessError, match="'TK-2' are not approved"):
        invoice_from_timecards(staffing_order(), cards, number="F-24", issue_date=DAY)


def test_hours_on_an_order_line_without_a_rate_are_listed() -> None:
    cards = [timecard("TK-1", 4, hours(4, "Regular", "8"), hours(5, "Regular", "8", line="2"),
                      hours(5, "Regular", "1", line=None))]
    with pytest.raises(MissingLineData) as caught:
        invoice_from_timecards(staffing_order(), cards, number="F-25", issue_date=DAY)
    assert caught.value.line_ids == ("(none)", "2")
    assert "rate on the staffing order" in str(caught.value)


def test_ambiguous_rates_are_refused() -> None:
    order = staffing_order(
        StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR"),
        StaffingRate(order_line_id="1", amount=D("90.00"), currency="EUR"),
    )
    with pytest.raises(BusinessError, match="2 rates for order line '1'"):
        invoice_from_timecards(order, two_weeks(), number="F-26", issue_date=DAY)


@pytest.mark.parametrize(("cards", "message"), [
    ([], "no timecards"),
    ([timecard("TK-1", 4, hours(4, "Regular", "8", billable=False))], "no billable hours"),
    ([timecard("TK-1", 4, hours(4, "Regular", "8")),
      timecard("TK-1", 4, hours(4, "Regular", "8"))], "repeats timecard id"),
])
def test_nothing_or_twice_to_invoice_is_refused(cards: list[TimeCard], message: str) -> None:
    with pytest.raises(BusinessError, match=message):
        invoice_from_timecards(staffing_order(), cards, number="F-27", issue_date=DAY)


def test_more_hours_than_the_rate_allows_are_refused() -> None:
    capped = staffing_order(StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR",
                                         max_hours=D("41.50")))
    with pytest.raises(BusinessError, match=r"order line\(s\) '1' \(42 > 41.50\)"):
        invoice_from_timecards(capped, two_weeks(), number="F-29", issue_date=DAY)
    exact = staffing_order(StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR",
                                        max_hours=D("42")))
    assert invoice_from_timecards(exact, two_weeks(), number="F-29",
                                  issue_date=DAY).totals.payable == D("4422.55")


def test_rates_in_two_currencies_are_refused() -> None:
    order = staffing_order(
        StaffingRate(order_line_id="1", amount=D("85.00"), currency="EUR"),
        StaffingRate(order_line_id="2", amount=D("85.00"), currency="USD"),
    )
    cards = [timecard("TK-1", 4, hours(4, "Regular", "8"), hours(5, "Regular", "8", line="2"))]
    with pytest.raises(BusinessError, match="EUR, USD"):
        invoice_from_timecards(order, cards, number="F-28", issue_date=DAY)


LINES = ("1", "2", "3")


@st.composite
def nacalculatie(draw: st.DrawFn) -> tuple[StaffingOrder, list[TimeCard]]:
    rates = tuple(
        StaffingRate(order_line_id=line, amount=draw(decimals(0, 300, max_places=2)),
                     currency="EUR")
        for line in LINES
    )
    intervals = st.builds(
        TimeInterval,
        type=st.sampled_from(["Regular", "Overtime", "Shift"]),
        start=st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        hours=decimals(0, 24, max_places=2),
        billable=st.booleans(),
        multiplier=st.one_of(st.none(), st.sampled_from(
            [D("100.00"), D("125"), D("150.00"), D("133.33"), D("87.5")])),
        order_line_reference=st.sampled_from(LINES),
    )
    count = draw(st.integers(1, 3))
    cards = [
        timecard(f"TK-{n}", 1, *draw(st.lists(intervals, max_size=6)))
        for n in range(count)
    ]
    return staffing_order(*rates), cards


@SETTINGS
@given(nacalculatie(), st.sampled_from([(VatCategory.STANDARD, D("21")),
                                        (VatCategory.STANDARD, D("9")),
                                        (VatCategory.REVERSE_CHARGE, D("0"))]),
       st.booleans())
def test_invoices_from_timecards_always_add_up(
    case: tuple[StaffingOrder, Sequence[TimeCard]],
    vat: tuple[VatCategory, Decimal], per_timecard: bool,
) -> None:
    order, cards = case
    billable = sum((i.hours for card in cards for i in card.intervals if i.billable), D(0))
    assume(billable > 0)
    invoice = invoice_from_timecards(order, cards, number="F", issue_date=DAY,
                                     vat_category=vat[0], vat_rate=vat[1],
                                     per_timecard=per_timecard)
    assert invoice.arithmetic_errors() == []
    assert sum((line.quantity.value for line in invoice.lines), D(0)) == billable
    assert invoice.timecard_references == tuple(card.id for card in cards)
    # Each line is its hours at the rate times the multiplier, rounded once.
    for line in invoice.lines:
        rate = {r.order_line_id: r.amount for r in order.rates}[line.order_line_reference]
        percent = D(line.item.name.split()[-1].rstrip("%"))
        expected = (line.quantity.value * rate * percent / 100).quantize(
            D("0.01"), rounding=ROUND_HALF_UP)
        assert line.net_amount == expected


def test_delivery_is_left_out_when_the_order_has_none() -> None:
    order = attrs.evolve(example_order(), lines=tuple(
        attrs.evolve(line, delivery=None) for line in example_order().lines))
    assert invoice_from_order(order, number="F-30", issue_date=DAY).delivery is None
    order = attrs.evolve(order, delivery=Delivery(party_name="Magazijn"))
    delivery = invoice_from_order(order, number="F-30", issue_date=DAY).delivery
    assert delivery == Delivery(party_name="Magazijn")
