"""Quotations built from a request for quotation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from gateway.business import BusinessError, MissingLineData, UnknownLines, quotation_from_rfq
from gateway.model import (
    AnticipatedTotals,
    Period,
    Price,
    Quantity,
    RequestForQuotationLine,
    TaxSubtotal,
    VatCategory,
)
from gateway.model.item import Item
from gateway.model.json import dumps, loads
from gateway.model.samples import AGENCY, SUPPLIER, example_request_for_quotation

D = Decimal
DAY = dt.date(2011, 1, 11)
VALID = Period(end=dt.date(2011, 3, 12))


def test_a_quotation_answers_every_requested_line_by_value() -> None:
    rfq = example_request_for_quotation()
    quotation = quotation_from_rfq(rfq, number="55889", issue_date=DAY, prices={"1": D("200.00")},
                                   validity=VALID, vat_category=VatCategory.STANDARD,
                                   vat_rate=D("21"))
    assert (quotation.rfq_reference, quotation.currency) == ("OAU123456", "USD")
    assert (quotation.seller, quotation.buyer) == (SUPPLIER, AGENCY)
    assert quotation.validity_period == VALID
    [line] = quotation.lines
    assert (line.id, line.rfq_line_reference) == ("1", "1")
    assert line.quantity == Quantity(value=D("10"), unit_code="C62")
    assert line.item == rfq.lines[0].item
    assert line.price == Price(amount=D("200.00"))
    # 10 x 200.00 = 2000.00; 21 % = 420.00.
    assert line.line_amount == D("2000.00")
    assert quotation.tax_breakdown == (TaxSubtotal(
        category=VatCategory.STANDARD, rate=D("21"), taxable_amount=D("2000.00"),
        tax_amount=D("420.00")),)
    assert quotation.totals == AnticipatedTotals(
        line_extension=D("2000.00"), tax_exclusive=D("2000.00"), tax_total=D("420.00"),
        tax_inclusive=D("2420.00"), payable=D("2420.00"))
    assert loads(dumps(quotation)) == quotation


def test_without_vat_there_are_no_totals() -> None:
    rfq = attrs.evolve(example_request_for_quotation(), currency=None)
    quotation = quotation_from_rfq(rfq, number="Q-2", issue_date=DAY, validity=VALID,
                                   prices={"1": D("2.345")}, currency="EUR")
    assert quotation.currency == "EUR"
    assert quotation.lines[0].line_amount == D("23.45")
    assert (quotation.totals, quotation.tax_breakdown) == (None, ())


def test_two_lines_and_missing_or_unknown_prices() -> None:
    rfq = example_request_for_quotation()
    rfq = attrs.evolve(rfq, lines=(*rfq.lines, RequestForQuotationLine(
        id="2", quantity=Quantity(value=D("3"), unit_code="C62"), item=Item(name="gum"))))
    with pytest.raises(MissingLineData) as missing:
        quotation_from_rfq(rfq, number="Q-3", issue_date=DAY, validity=VALID,
                           prices={"1": D("1")})
    assert missing.value.line_ids == ("2",)
    with pytest.raises(UnknownLines) as unknown:
        quotation_from_rfq(rfq, number="Q-3", issue_date=DAY, validity=VALID,
                           prices={"1": D("1"), "2": D("1"), "3": D("1")})
    assert unknown.value.line_ids == ("3",)
    quotation = quotation_from_rfq(rfq, number="Q-3", issue_date=DAY, validity=VALID,
                                   prices={"1": D("1.50"), "2": D("0.99")},
                                   vat_category=VatCategory.STANDARD, vat_rate=D("9"))
    # 15.00 + 2.97 = 17.97; 9 % = 1.6173, rounded 1.62.
    assert quotation.totals is not None
    assert (quotation.totals.tax_exclusive, quotation.totals.payable) == (
        D("17.97"), D("19.59"))
    assert [line.rfq_line_reference for line in quotation.lines] == ["1", "2"]


@pytest.mark.parametrize(("asked", "currency", "message"), [
    ("USD", "EUR", "asks for prices in USD, not EUR"),
    (None, None, "names no currency"),
])
def test_the_currency_must_be_known_and_agree(
    asked: str | None, currency: str | None, message: str,
) -> None:
    rfq = attrs.evolve(example_request_for_quotation(), currency=asked)
    with pytest.raises(BusinessError, match=message):
        quotation_from_rfq(rfq, number="Q-4", issue_date=DAY, validity=VALID,
                           prices={"1": D("1")}, currency=currency)


def test_a_rate_without_category_is_refused() -> None:
    with pytest.raises(BusinessError, match="VAT category"):
        quotation_from_rfq(example_request_for_quotation(), number="Q-5", issue_date=DAY,
                           validity=VALID, prices={"1": D("1")}, vat_rate=D("21"))
