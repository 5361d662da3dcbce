"""VAT categories, the VAT breakdown, and the EN 16931 arithmetic behind invoice totals.

Amounts are ``Decimal`` in the document currency. Results are rounded to two
decimals with ``ROUND_HALF_UP`` (halves away from zero): 0.005 becomes 0.01
and -0.005 becomes -0.01. The official Schematron uses XPath ``round()``,
which rounds negative halves towards zero; the two differ only on exact
negative halves, and the rules where that could matter (BR-CO-17, BR-x-08)
allow a slack of 1.00 there anyway.

Rules implemented here (EN 16931-1 names):

- line net amount (BT-131) = quantity x (net price / base quantity)
  + line charges - line allowances, rounded (PEPPOL-EN16931-R120);
- VAT category tax amount (BT-117) = taxable amount (BT-116) x rate / 100,
  rounded (BR-CO-17);
- one breakdown per (category, rate) whose taxable amount is the sum of line
  net amounts plus document charges minus document allowances with that
  category and rate (BR-S-08, BR-Z-08, ...).

The invoice totals (BR-CO-10 to BR-CO-16) are in :mod:`gateway.model.invoice`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

import attrs

from gateway.model.record import Record
from gateway.model.shape import NON_NEGATIVE

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


class VatCategory(enum.StrEnum):
    """VAT category codes of EN 16931 (UNCL 5305 subset, BT-118/BT-151)."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"  # intra-community supply of goods and services
    EXPORT = "G"  # free export item, VAT not charged
    NOT_SUBJECT = "O"  # services outside the scope of VAT
    CANARY_ISLANDS = "L"  # IGIC
    CEUTA_MELILLA = "M"  # IPSI

    @property
    def rule_prefix(self) -> str:
        """The prefix of this category's EN 16931 rules, e.g. ``BR-S`` or ``BR-IC``."""
        return _RULE_PREFIX[self]


_RULE_PREFIX = {
    VatCategory.STANDARD: "BR-S",
    VatCategory.ZERO_RATED: "BR-Z",
    VatCategory.EXEMPT: "BR-E",
    VatCategory.REVERSE_CHARGE: "BR-AE",
    VatCategory.INTRA_COMMUNITY: "BR-IC",
    VatCategory.EXPORT: "BR-G",
    VatCategory.NOT_SUBJECT: "BR-O",
    VatCategory.CANARY_ISLANDS: "BR-AF",
    VatCategory.CEUTA_MELILLA: "BR-AG",
}


@attrs.frozen(kw_only=True)
class VatExemption(Record):
    """Why VAT is not charged: free text (BT-120) and/or a VATEX code (BT-121)."""

    reason: str | None = None
    code: str | None = None


@attrs.frozen(kw_only=True)
class TaxSubtotal(Record):
    """One line of the VAT breakdown (EN 16931 BG-23): the VAT due per category and rate.

    ``rate`` is a percentage (21 means 21 %). It is None where the standard
    forbids one, e.g. category O (not subject to VAT).
    """

    category: VatCategory
    rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason: str | None = None
    exemption_reason_code: str | None = None

    @property
    def key(self) -> tuple[VatCategory, Decimal]:
        """The (category, rate) pair this subtotal groups by; no rate counts as 0."""
        return vat_key(self.category, self.rate)


@attrs.frozen(kw_only=True)
class TaxableAmount:
    """An amount that counts towards the taxable amount of one (category, rate) group.

    Line net amounts and document charges count positive, document allowances
    negative.
    """

    category: VatCategory
    rate: Decimal | None
    amount: Decimal


def round_amount(value: Decimal) -> Decimal:
    """``value`` rounded to two decimals, halves away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_key(category: VatCategory, rate: Decimal | None) -> tuple[VatCategory, Decimal]:
    """The grouping key of the VAT breakdown; Decimal("21") and Decimal("21.00") are one key."""
    return (category, ZERO if rate is None else rate)


def line_net_amount(
    quantity: Decimal,
    price: Decimal,
    *,
    base_quantity: Decimal | None = None,
    allowances: Iterable[Decimal] = (),
    charges: Iterable[Decimal] = (),
) -> Decimal:
    """EN 16931 line net amount: quantity x (price / base quantity) + charges - allowances."""
    # Multiply before dividing so the common case (no base quantity) stays exact.
    gross = quantity * price
    if base_quantity is not None:
        gross = gross / base_quantity
    return round_amount(gross + sum(charges, ZERO) - sum(allowances, ZERO))


def vat_amount(taxable_amount: Decimal, rate: Decimal | None) -> Decimal:
    """BR-CO-17: the VAT on ``taxable_amount`` at ``rate`` percent, rounded to cents."""
    if rate is None:
        return round_amount(ZERO)
    return round_amount(taxable_amount * rate / HUNDRED)


def vat_breakdown(
    amounts: Iterable[TaxableAmount],
    exemptions: Mapping[VatCategory, VatExemption] | None = None,
) -> tuple[TaxSubtotal, ...]:
    """One :class:`TaxSubtotal` per (category, rate), in order of first appearance.

    ``exemptions`` supplies the exemption reason of categories that need one
    (E, AE, K, G, O); the invoice lines do not carry it.
    """
    exemptions = exemptions or {}
    groups: dict[tuple[VatCategory, Decimal], list[TaxableAmount]] = {}
    for item in amounts:
        groups.setdefault(vat_key(item.category, item.rate), []).append(item)
    subtotals = []
    for items in groups.values():
        first = items[0]
        taxable = round_amount(sum((i.amount for i in items), ZERO))
        exemption = exemptions.get(first.category)
        subtotals.append(
            TaxSubtotal(
                category=first.category,
                rate=first.rate,
                taxable_amount=taxable,
                tax_amount=vat_amount(taxable, first.rate),
                exemption_reason=exemption.reason if exemption else None,
                exemption_reason_code=exemption.code if exemption else None,
            )
        )
    return tuple(subtotals)
