"""EN 16931 arithmetic on hand-checked numbers: rounding, line amounts, VAT, grouping."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gateway.model import VatCategory, VatExemption, line_net_amount, round_amount, vat_amount
from gateway.model.tax import TaxableAmount, vat_breakdown


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("0.005", "0.01"),  # half up, not half even
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # banker's rounding would give 0.02
        ("0.0049999", "0.00"),
        ("2.675", "2.68"),  # the classic float trap: float 2.675 rounds to 2.67
        ("-0.005", "-0.01"),  # halves go away from zero
        ("-1.115", "-1.12"),
        ("10", "10.00"),
        ("1.1", "1.10"),
    ],
)
def test_round_amount_is_half_up_to_cents(value: str, rounded: str) -> None:
    assert str(round_amount(D(value))) == rounded


def test_line_net_amount_multiplies_then_rounds() -> None:
    assert str(line_net_amount(D("3"), D("10.005"))) == "30.02"  # 30.015
    assert str(line_net_amount(D("4"), D("25.00"))) == "100.00"


def test_line_net_amount_divides_by_base_quantity() -> None:
    # 7 units at 12.50 per 5 units
    assert line_net_amount(D("7"), D("12.50"), base_quantity=D("5")) == D("17.50")
    # 1 unit at 10.00 per 3 units = 3.333... -> 3.33
    assert str(line_net_amount(D("1"), D("10.00"), base_quantity=D("3"))) == "3.33"
    # 2 at 1.00 per 3 = 0.666... -> 0.67
    assert str(line_net_amount(D("2"), D("1.00"), base_quantity=D("3"))) == "0.67"


def test_line_net_amount_adds_charges_and_subtracts_allowances() -> None:
    amount = line_net_amount(
        D("2.5"), D("80.00"), allowances=[D("10.00"), D("5.50")], charges=[D("1.25")]
    )
    assert str(amount) == "185.75"  # 200.00 - 15.50 + 1.25


def test_line_net_amount_of_a_negative_quantity() -> None:
    assert str(line_net_amount(D("-3"), D("10.005"))) == "-30.02"


@pytest.mark.parametrize(
    ("taxable", "rate", "tax"),
    [
        ("29.02", "21", "6.09"),  # 6.0942
        ("0.50", "9", "0.05"),  # 0.045: the half-up edge
        ("0.05", "9", "0.00"),  # 0.0045
        ("285.00", "21", "59.85"),
        ("39.54", "9", "3.56"),  # 3.5586
        ("100.00", "0", "0.00"),
        ("-0.50", "9", "-0.05"),
    ],
)
def test_vat_amount_br_co_17(taxable: str, rate: str, tax: str) -> None:
    assert str(vat_amount(D(taxable), D(rate))) == tax


def test_vat_amount_without_rate_is_zero() -> None:
    assert str(vat_amount(D("100.00"), None)) == "0.00"


def test_breakdown_groups_by_category_and_rate() -> None:
    amounts = [
        TaxableAmount(category=VatCategory.STANDARD, rate=D("21"), amount=D("100.00")),
        TaxableAmount(category=VatCategory.STANDARD, rate=D("9"), amount=D("37.04")),
        # 21.00 is the same rate as 21
        TaxableAmount(category=VatCategory.STANDARD, rate=D("21.00"), amount=D("190.00")),
        TaxableAmount(category=VatCategory.STANDARD, rate=D("21"), amount=D("-5.00")),
        TaxableAmount(category=VatCategory.STANDARD, rate=D("9"), amount=D("2.50")),
        # zero-rated and exempt at 0 % are different groups
        TaxableAmount(category=VatCategory.ZERO_RATED, rate=D("0"), amount=D("10.00")),
        TaxableAmount(category=VatCategory.EXEMPT, rate=D("0"), amount=D("20.00")),
    ]
    breakdown = vat_breakdown(
        amounts, {VatCategory.EXEMPT: VatExemption(reason="Vrijgesteld", code="VATEX-EU-132")}
    )
    summary = [
        (s.category.value, str(s.rate), str(s.taxable_amount), str(s.tax_amount))
        for s in breakdown
    ]
    assert summary == [
        ("S", "21", "285.00", "59.85"),
        ("S", "9", "39.54", "3.56"),
        ("Z", "0", "10.00", "0.00"),
        ("E", "0", "20.00", "0.00"),
    ]
    assert breakdown[3].exemption_reason == "Vrijgesteld"
    assert breakdown[3].exemption_reason_code == "VATEX-EU-132"
    assert breakdown[0].exemption_reason is None


def test_breakdown_of_not_subject_has_no_rate() -> None:
    (subtotal,) = vat_breakdown(
        [TaxableAmount(category=VatCategory.NOT_SUBJECT, rate=None, amount=D("40.00"))]
    )
    assert subtotal.rate is None
    assert str(subtotal.tax_amount) == "0.00"


def test_rule_prefixes_follow_en16931() -> None:
    assert VatCategory.STANDARD.rule_prefix == "BR-S"
    assert VatCategory.INTRA_COMMUNITY.rule_prefix == "BR-IC"
    assert VatCategory.CANARY_ISLANDS.rule_prefix == "BR-AF"
    assert VatCategory.CEUTA_MELILLA.rule_prefix == "BR-AG"
