"""The invoice builder and arithmetic check on hand-checked numbers, and model validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import attrs
import pytest

from gateway.kinds import DocumentKind
from gateway.model import (
    AllowanceCharge,
    Attachment,
    FieldTypeError,
    FieldValueError,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    OrderLine,
    Period,
    Price,
    Quantity,
    TimeInterval,
    VatCategory,
    kind_of,
)
from gateway.model.samples import (
    AGENCY,
    SUPPLIER,
    example_credit_note,
    example_invoice,
    example_invoice_lines,
    example_order,
)

# The example invoice, worked out by hand:
#   line 1: 4 x 25.00                      = 100.00  S 21
#   line 2: 2.5 x 80.00 - 10.00 allowance  = 190.00  S 21.00 (same group as 21)
#   line 3: 3 x 12.345 = 37.035            =  37.04  S 9
#   document allowance 5.00 at S 21, document charge 2.50 at S 9
#   S 21: 100.00 + 190.00 - 5.00 = 285.00, VAT 59.85
#   S  9:  37.04 +   2.50        =  39.54, VAT 3.5586 -> 3.56
#   lines 327.04, without VAT 327.04 - 5.00 + 2.50 = 324.54, VAT 63.41, with VAT 387.95
#   prepaid 50.00, rounding 0.05: due 338.00


def test_built_invoice_has_hand_checked_amounts() -> None:
    invoice = example_invoice()
    assert [str(line.net_amount) for line in invoice.lines] == ["100.00", "190.00", "37.04"]
    breakdown = [
        (s.category, str(s.rate), str(s.taxable_amount), str(s.tax_amount))
        for s in invoice.tax_breakdown
    ]
    assert breakdown == [
        (VatCategory.STANDARD, "21", "285.00", "59.85"),
        (VatCategory.STANDARD, "9", "39.54", "3.56"),
    ]
    totals = invoice.totals
    assert str(totals.line_extension) == "327.04"
    assert str(totals.allowance_total) == "5.00"
    assert str(totals.charge_total) == "2.50"
    assert str(totals.tax_exclusive) == "324.54"
    assert str(totals.tax_total) == "63.41"
    assert str(totals.tax_inclusive) == "387.95"
    assert str(totals.prepaid) == "50.00"
    assert str(totals.rounding) == "0.05"
    assert str(totals.payable) == "338.00"
    assert invoice.arithmetic_errors() == []


def test_build_leaves_out_allowance_and_charge_totals_when_there_are_none() -> None:
    invoice = Invoice.build(
        number="F1", issue_date=dt.date(2024, 1, 1), type=InvoiceType.DEBIT, currency="EUR",
        seller=SUPPLIER, buyer=AGENCY, lines=example_invoice_lines(),
    )
    assert invoice.totals.allowance_total is None
    assert invoice.totals.charge_total is None
    assert invoice.totals.prepaid is None
    # S 21: 290.00, VAT 60.90; S 9: 37.04, VAT 3.3336 -> 3.33; 327.04 + 64.23
    assert str(invoice.totals.tax_total) == "64.23"
    assert str(invoice.totals.payable) == str(invoice.totals.tax_inclusive) == "391.27"
    assert invoice.arithmetic_errors() == []


def test_stated_line_net_amount_is_kept() -> None:
    line = attrs.evolve(example_invoice_lines()[0], net_amount=D("99.99"))
    assert line.net_amount == D("99.99")
    invoice = attrs.evolve(example_invoice(), lines=(line, *example_invoice().lines[1:]))
    rules = {v.rule for v in invoice.arithmetic_errors()}
    assert "PEPPOL-EN16931-R120" in rules
    assert "BR-CO-10" in rules


def test_line_net_amount_uses_base_quantity() -> None:
    line = InvoiceLine(
        id="1", quantity=Quantity(value=D("7"), unit_code="EA"),
        price=Price(amount=D("12.50"), base_quantity=Quantity(value=D("5"), unit_code="EA")),
        item=Item(name="x"), vat_category=VatCategory.STANDARD, vat_rate=D("21"),
    )
    assert str(line.net_amount) == "17.50"


def test_build_refuses_totals() -> None:
    with pytest.raises(TypeError, match="computes totals"):
        Invoice.build(
            number="F1", issue_date=dt.date(2024, 1, 1), type=InvoiceType.DEBIT,
            currency="EUR", seller=SUPPLIER, buyer=AGENCY, lines=example_invoice_lines(),
            totals=example_invoice().totals,
        )


def test_build_needs_vat_category_on_document_allowances() -> None:
    with pytest.raises(FieldValueError, match=r"allowance_charges\[0\].vat_category.*BR-32"):
        Invoice.build(
            number="F1", issue_date=dt.date(2024, 1, 1), type=InvoiceType.DEBIT,
            currency="EUR", seller=SUPPLIER, buyer=AGENCY, lines=example_invoice_lines(),
            allowance_charges=(AllowanceCharge(is_charge=False, amount=D("1.00")),),
        )


def _rules(invoice: Invoice) -> set[str]:
    return {violation.rule for violation in invoice.arithmetic_errors()}


def _with_totals(invoice: Invoice, **changes: Any) -> Invoice:
    return attrs.evolve(invoice, totals=attrs.evolve(invoice.totals, **changes))


def test_wrong_line_total_is_br_co_10() -> None:
    invoice = _with_totals(example_invoice(), line_extension=D("327.05"))
    # the tax exclusive amount no longer follows from the stated line total either
    assert _rules(invoice) == {"BR-CO-10", "BR-CO-13"}
    messages = [v.message for v in invoice.arithmetic_errors() if v.rule == "BR-CO-10"]
    assert messages == ["sum of line net amounts (BT-106) is 327.05, expected 327.04"]


def test_wrong_allowance_total_is_br_co_11() -> None:
    assert _rules(_with_totals(example_invoice(), allowance_total=None)) == {
        "BR-CO-11", "BR-CO-13",
    }


def test_wrong_charge_total_is_br_co_12() -> None:
    assert "BR-CO-12" in _rules(_with_totals(example_invoice(), charge_total=D("2.49")))


def test_wrong_tax_exclusive_is_br_co_13() -> None:
    invoice = _with_totals(example_invoice(), tax_exclusive=D("324.55"))
    assert _rules(invoice) == {"BR-CO-13", "BR-CO-15"}


def test_wrong_tax_total_is_br_co_14() -> None:
    invoice = _with_totals(example_invoice(), tax_total=D("63.40"))
    assert _rules(invoice) == {"BR-CO-14", "BR-CO-15"}


def test_wrong_tax_inclusive_is_br_co_15() -> None:
    invoice = _with_totals(example_invoice(), tax_inclusive=D("387.96"))
    assert _rules(invoice) == {"BR-CO-15", "BR-CO-16"}


def test_wrong_payable_is_br_co_16() -> None:
    assert _rules(_with_totals(example_invoice(), payable=D("338.05"))) == {"BR-CO-16"}
    assert _rules(_with_totals(example_invoice(), prepaid=None)) == {"BR-CO-16"}


def test_wrong_category_vat_is_br_co_17() -> None:
    invoice = example_invoice()
    wrong = attrs.evolve(invoice.tax_breakdown[1], tax_amount=D("3.55"))
    invoice = attrs.evolve(invoice, tax_breakdown=(invoice.tax_breakdown[0], wrong))
    assert _rules(invoice) == {"BR-CO-17", "BR-CO-14"}


def test_slack_allows_rounding_differences_where_the_standard_does() -> None:
    invoice = example_invoice()
    wrong = attrs.evolve(invoice.tax_breakdown[1], tax_amount=D("3.55"))
    invoice = attrs.evolve(
        invoice,
        tax_breakdown=(invoice.tax_breakdown[0], wrong),
        totals=attrs.evolve(
            invoice.totals, tax_total=D("63.40"), tax_inclusive=D("387.94"),
            payable=D("337.99"),
        ),
    )
    assert _rules(invoice) == {"BR-CO-17"}
    assert invoice.arithmetic_errors(slack=D("1.00")) == []


def test_wrong_taxable_amount_of_a_group_is_the_category_rule() -> None:
    invoice = example_invoice()
    wrong = attrs.evolve(invoice.tax_breakdown[0], taxable_amount=D("290.00"))
    invoice = attrs.evolve(invoice, tax_breakdown=(wrong, invoice.tax_breakdown[1]))
    assert "BR-S-08" in _rules(invoice)


def test_missing_breakdown_group_is_the_category_rule() -> None:
    invoice = example_invoice()
    invoice = attrs.evolve(invoice, tax_breakdown=invoice.tax_breakdown[:1])
    violations = [v for v in invoice.arithmetic_errors() if v.rule == "BR-S-08"]
    assert [v.message for v in violations] == [
        "no VAT breakdown for category S at 9%, which lines or allowances/charges use"
    ]


def test_empty_breakdown_is_br_co_18() -> None:
    invoice = attrs.evolve(example_invoice(), tax_breakdown=())
    assert "BR-CO-18" in _rules(invoice)


def test_document_allowance_without_category_is_br_32() -> None:
    invoice = example_invoice()
    stripped = attrs.evolve(invoice.allowance_charges[0], vat_category=None, vat_rate=None)
    invoice = attrs.evolve(
        invoice, allowance_charges=(stripped, invoice.allowance_charges[1])
    )
    assert "BR-32" in _rules(invoice)


def test_credit_note_is_an_invoice_of_type_credit() -> None:
    credit = example_credit_note()
    assert credit.is_credit
    assert kind_of(credit) is DocumentKind.CREDIT_NOTE
    assert kind_of(example_invoice()) is DocumentKind.INVOICE
    assert credit.arithmetic_errors() == []


def test_order_delivery_applies_per_line_or_from_the_header() -> None:
    order = example_order()
    line = order.lines[0]
    assert order.delivery_for(line) is line.delivery
    header_only = attrs.evolve(
        order, delivery=line.delivery,
        lines=tuple(attrs.evolve(item, delivery=None) for item in order.lines),
    )
    assert header_only.delivery_for(header_only.lines[1]) is line.delivery


# -- field checks -------------------------------------------------------------------------------


def test_float_is_refused_with_a_clear_type_error() -> None:
    with pytest.raises(TypeError) as caught:
        Quantity(value=1.5, unit_code="EA")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "Quantity.value: expected a Decimal, got float 1.5; a float would lose precision, "
        "write Decimal('1.5')"
    )


def test_int_is_not_a_decimal() -> None:
    with pytest.raises(FieldTypeError, match="expected a Decimal, got int 3"):
        Price(amount=3)  # type: ignore[arg-type]


def test_list_is_refused_where_a_tuple_belongs() -> None:
    invoice = example_invoice()
    with pytest.raises(TypeError, match=r"Invoice\.lines: expected a tuple, got list"):
        attrs.evolve(invoice, lines=list(invoice.lines))  # type: ignore[arg-type]


def test_enum_given_as_text_is_refused() -> None:
    with pytest.raises(TypeError, match=r"use InvoiceType\('debit'\)"):
        attrs.evolve(example_invoice(), type="debit")  # type: ignore[arg-type]


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Item.name: must not be empty"):
        Item(name="")


def test_currency_must_be_iso_4217_capitals() -> None:
    with pytest.raises(ValueError, match=r"Invoice.currency: expected an ISO 4217"):
        attrs.evolve(example_invoice(), currency="eur")


def test_datetime_is_not_a_date() -> None:
    with pytest.raises(TypeError, match=r"Invoice.issue_date: expected a date, got datetime"):
        attrs.evolve(example_invoice(), issue_date=dt.datetime(2024, 1, 1, 12, 0))


def test_invoice_needs_a_line() -> None:
    with pytest.raises(ValueError, match=r"Invoice.lines: needs at least one item"):
        attrs.evolve(example_invoice(), lines=())


def test_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Price.amount: must not be negative"):
        Price(amount=D("-1.00"))
    with pytest.raises(ValueError, match="must not be negative"):
        Price(amount=D("-0.00"))


def test_base_quantity_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"Price.base_quantity: must be greater than zero"):
        Price(amount=D("1"), base_quantity=Quantity(value=D("0"), unit_code="EA"))


def test_order_quantity_must_not_be_negative() -> None:
    line = example_order().lines[0]
    with pytest.raises(ValueError, match=r"OrderLine.quantity: must not be negative"):
        attrs.evolve(line, quantity=Quantity(value=D("-1"), unit_code="EA"))
    assert isinstance(line, OrderLine)


def test_invoice_quantity_may_be_negative() -> None:
    line = InvoiceLine(
        id="1", quantity=Quantity(value=D("-4"), unit_code="EA"),
        price=Price(amount=D("25.00")), item=Item(name="retour"),
        vat_category=VatCategory.STANDARD, vat_rate=D("21"),
    )
    assert str(line.net_amount) == "-100.00"


def test_evolve_keeps_the_stated_net_amount_until_recomputed() -> None:
    line = attrs.evolve(
        example_invoice_lines()[0], quantity=Quantity(value=D("5"), unit_code="EA")
    )
    assert str(line.net_amount) == "100.00"  # stale: evolve passes every field on
    assert str(line.recomputed().net_amount) == "125.00"


def test_period_checks() -> None:
    with pytest.raises(ValueError, match="a period needs a start date, an end date or both"):
        Period()
    with pytest.raises(ValueError, match=r"Period.end: ends \(2024-01-01\) before"):
        Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 1, 1))


def test_attachment_checks() -> None:
    with pytest.raises(ValueError, match="needs content or a uri"):
        Attachment(filename="x.pdf")
    with pytest.raises(ValueError, match=r"Attachment.mime_type: embedded content needs"):
        Attachment(content=b"x")
    assert Attachment(uri="https://example.org/x.pdf").content is None


def test_time_interval_with_rate_needs_currency() -> None:
    with pytest.raises(ValueError, match=r"TimeInterval.currency: a rate needs a currency"):
        TimeInterval(type="Regular", start=dt.date(2024, 1, 1), hours=D("8"), rate=D("40"))


def test_models_are_immutable_and_hashable() -> None:
    invoice = example_invoice()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        invoice.number = "other"  # type: ignore[misc]
    assert hash(invoice) == hash(example_invoice())
    assert invoice == example_invoice()


def test_each_arithmetic_error_names_the_json_path_of_the_stated_value() -> None:
    invoice = example_invoice()
    line = attrs.evolve(invoice.lines[1], net_amount=invoice.lines[1].net_amount + 1)
    tampered = attrs.evolve(invoice, lines=(invoice.lines[0], line, *invoice.lines[2:]))
    paths = {v.rule: v.path for v in tampered.arithmetic_errors()}
    assert paths["PEPPOL-EN16931-R120"] == "lines[1].net_amount"
    assert paths["BR-CO-10"] == "totals.line_extension"
