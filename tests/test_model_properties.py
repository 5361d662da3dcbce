"""Properties of the model for any document hypothesis makes.

The invoice equations are derived again here, in the test's own words, rather
than by calling the model's helpers: a bug shared by both would go unseen.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import CanonicalDocument, Invoice, Quantity
from gateway.model.json import dumps, from_json, loads, record_from_json, record_to_json, to_json
from strategies import any_decimals, assert_same, assert_valid, documents, invoices

SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FEWER = settings(SETTINGS, max_examples=40)
CENTS = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def expected_net(line: Any) -> Decimal:
    gross = line.quantity.value * line.price.amount
    if line.price.base_quantity is not None:
        gross /= line.price.base_quantity.value
    for ac in line.allowance_charges:
        gross += ac.amount if ac.is_charge else -ac.amount
    return cents(gross)


@SETTINGS
@given(invoices())
def test_built_invoices_satisfy_en16931(invoice: Invoice) -> None:
    assert invoice.arithmetic_errors() == []

    totals = invoice.totals
    zero = Decimal(0)
    for line in invoice.lines:
        assert line.net_amount == expected_net(line)
        assert line.net_amount == cents(line.net_amount)  # two decimals at most

    allowances = [ac.amount for ac in invoice.allowance_charges if not ac.is_charge]
    charges = [ac.amount for ac in invoice.allowance_charges if ac.is_charge]
    # BR-CO-10 .. BR-CO-12
    assert totals.line_extension == sum(line.net_amount for line in invoice.lines)
    assert (totals.allowance_total or zero) == sum(allowances, zero)
    assert (totals.charge_total or zero) == sum(charges, zero)
    assert (totals.allowance_total is None) == (not allowances)
    assert (totals.charge_total is None) == (not charges)
    # BR-CO-13
    assert totals.tax_exclusive == (
        totals.line_extension - (totals.allowance_total or zero) + (totals.charge_total or zero)
    )
    # BR-CO-14, BR-CO-15, BR-CO-16
    assert totals.tax_total == sum(s.tax_amount for s in invoice.tax_breakdown)
    assert totals.tax_inclusive == totals.tax_exclusive + totals.tax_total
    assert totals.payable == (
        totals.tax_inclusive - (totals.prepaid or zero) + (totals.rounding or zero)
    )
    # BR-CO-17
    for subtotal in invoice.tax_breakdown:
        rate = subtotal.rate if subtotal.rate is not None else zero
        assert subtotal.tax_amount == cents(subtotal.taxable_amount * rate / 100)

    # one breakdown per (category, rate), taxable = lines + charges - allowances (BR-x-08)
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line in invoice.lines:
        key = (line.vat_category.value, line.vat_rate or zero)
        groups[key] = groups.get(key, zero) + line.net_amount
    for ac in invoice.allowance_charges:
        assert ac.vat_category is not None
        key = (ac.vat_category.value, ac.vat_rate or zero)
        groups[key] = groups.get(key, zero) + (ac.amount if ac.is_charge else -ac.amount)
    stated = {(s.category.value, s.rate or zero): s.taxable_amount for s in invoice.tax_breakdown}
    assert len(stated) == len(invoice.tax_breakdown)
    assert stated == groups

    # every amount the builder writes has two decimals
    for amount in (
        totals.line_extension, totals.tax_exclusive, totals.tax_total, totals.tax_inclusive,
        *(s.taxable_amount for s in invoice.tax_breakdown),
        *(s.tax_amount for s in invoice.tax_breakdown),
    ):
        assert amount.as_tuple().exponent == -2


@FEWER
@given(invoices(), st.sampled_from(["line_extension", "tax_total", "payable"]))
def test_a_changed_total_is_always_reported(invoice: Invoice, field: str) -> None:
    wrong = getattr(invoice.totals, field) + CENTS
    tampered = attrs.evolve(invoice, totals=attrs.evolve(invoice.totals, **{field: wrong}))
    rule = {"line_extension": "BR-CO-10", "tax_total": "BR-CO-14", "payable": "BR-CO-16"}[field]
    assert rule in {v.rule for v in tampered.arithmetic_errors()}


@SETTINGS
@given(documents())
def test_json_round_trip_is_lossless(document: CanonicalDocument) -> None:
    data = to_json(document)
    assert_same(from_json(data), document)
    assert_same(loads(dumps(document)), document)


@FEWER
@given(documents())
def test_json_of_any_document_fits_its_schema(document: CanonicalDocument) -> None:
    assert_valid(to_json(document))


@settings(SETTINGS, max_examples=200)
@given(any_decimals())
def test_any_decimal_survives_json(value: Decimal) -> None:
    quantity = Quantity(value=value, unit_code="EA")
    back = record_from_json(Quantity, record_to_json(quantity))
    assert str(back.value) == str(value)
