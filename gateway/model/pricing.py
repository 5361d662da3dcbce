"""Prices, allowances and charges, and the totals an order or quotation announces."""

from __future__ import annotations

from decimal import Decimal

import attrs

from gateway.model.common import Quantity
from gateway.model.record import Record
from gateway.model.shape import NON_NEGATIVE
from gateway.model.tax import HUNDRED, VatCategory, round_amount


@attrs.frozen(kw_only=True)
class Price(Record):
    """The net price of an item per ``base_quantity`` (one unit when absent).

    EN 16931: ``amount`` is the item net price (BT-146, never negative,
    BR-27), ``base_quantity`` BT-149/BT-150 (above zero, PEPPOL-EN16931-R121),
    ``gross_amount`` the price before ``discount`` (BT-148, BT-147).
    """

    amount: Decimal = attrs.field(metadata=NON_NEGATIVE)
    base_quantity: Quantity | None = None
    gross_amount: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    discount: Decimal | None = None

    def _check(self) -> None:
        if self.base_quantity is not None and self.base_quantity.value <= 0:
            raise self._fail(
                "base_quantity",
                f"must be greater than zero, got {self.base_quantity.value}",
            )


@attrs.frozen(kw_only=True)
class AllowanceCharge(Record):
    """A discount (allowance) or surcharge (charge) on a document or on one line.

    On document level EN 16931 needs the VAT category and rate (BR-32/BR-37)
    so the amount can be placed in the VAT breakdown; on line level they are
    absent, the line's VAT applies. ``percentage`` of ``base_amount`` gives
    ``amount`` when both are present (PEPPOL-EN16931-R040).
    """

    is_charge: bool
    amount: Decimal
    base_amount: Decimal | None = None
    percentage: Decimal | None = None
    reason: str | None = None
    reason_code: str | None = None
    vat_category: VatCategory | None = None
    vat_rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)

    @classmethod
    def percent_of(
        cls, base_amount: Decimal, percentage: Decimal, *, is_charge: bool,
        reason: str | None = None, reason_code: str | None = None,
        vat_category: VatCategory | None = None, vat_rate: Decimal | None = None,
    ) -> AllowanceCharge:
        """An allowance or charge of ``percentage`` percent of ``base_amount``, rounded."""
        return cls(
            is_charge=is_charge,
            amount=round_amount(base_amount * percentage / HUNDRED),
            base_amount=base_amount,
            percentage=percentage,
            reason=reason,
            reason_code=reason_code,
            vat_category=vat_category,
            vat_rate=vat_rate,
        )


@attrs.frozen(kw_only=True)
class AnticipatedTotals(Record):
    """The totals an order or quotation states (UBL AnticipatedMonetaryTotal, QuotedMonetaryTotal).

    Unlike invoice totals they are informative, and the standards leave most
    of them out: only the payable amount is always there.
    """

    line_extension: Decimal | None = None
    allowance_total: Decimal | None = None
    charge_total: Decimal | None = None
    tax_exclusive: Decimal | None = None
    tax_total: Decimal | None = None
    tax_inclusive: Decimal | None = None
    prepaid: Decimal | None = None
    rounding: Decimal | None = None
    payable: Decimal
