"""Peppol BIS Ordering 3 at its edges: a T01 order with a tax total and no totals."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.validation import Validator, validator_for
from plugins.ubl_ordering.formats import PeppolOrder
from validation_layers import SHARED_STANDARDS

ORDER = PeppolOrder()
EXAMPLE = SHARED_STANDARDS / "peppol-bis-ordering-3" / "examples" / "Order_Example.xml"


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


def test_t01_tax_total_without_anticipated_total_is_not_dropped_silently(
    validator: Validator,
) -> None:
    """T01: TaxTotal 0..1 and AnticipatedMonetaryTotal 0..1 are independent.

    ``_read_totals`` reads (marks) TaxTotal/TaxAmount, then returns None when
    there is no AnticipatedMonetaryTotal: the order's VAT amount is gone and
    no warning says so.
    """
    if not EXAMPLE.is_file():
        pytest.skip(f"{EXAMPLE} is not present")
    data = re.sub(rb"\s*<cac:AnticipatedMonetaryTotal>.*?</cac:AnticipatedMonetaryTotal>", b"",
                  EXAMPLE.read_bytes(), flags=re.S)
    assert b"<cac:TaxTotal>" in data
    assert b"AnticipatedMonetaryTotal" not in data
    report = validator.validate(data, ORDER.layers(), format_key=ORDER.key)
    assert report.valid, [str(f) for f in report.findings]
    decoded = ORDER.decode(data)
    totals = decoded.document.totals
    kept = totals is not None and totals.tax_total == Decimal("100.00")
    reported = any("TaxTotal" in warning for warning in decoded.warnings)
    assert kept or reported, decoded.warnings
