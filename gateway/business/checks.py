"""Preconditions shared by the builders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gateway.business.errors import BusinessError
from gateway.model import VatCategory

# Categories whose rate is 0 by EN 16931 (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05, BR-O-05).
NO_VAT = frozenset({VatCategory.ZERO_RATED, VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE,
                    VatCategory.INTRA_COMMUNITY, VatCategory.EXPORT, VatCategory.NOT_SUBJECT})
# Categories that charge VAT, so an amount in them needs its rate (BR-S-05, BR-IG-05,
# BR-IP-05); without one the VAT breakdown would charge 0 % under a taxed category.
RATED = frozenset({VatCategory.STANDARD, VatCategory.CANARY_ISLANDS,
                   VatCategory.CEUTA_MELILLA})
# The Dutch standard rate, taken when a builder is given category S and no rate.
STANDARD_RATE = Decimal("21")


def require_unique(document: str, what: str, ids: Iterable[str]) -> None:
    """Refuse repeated ids: answers and invoices refer to them by value, so one must mean one."""
    seen: set[str] = set()
    twice: list[str] = []
    for value in ids:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    if twice:
        raise BusinessError(
            f"{document} repeats {what} {', '.join(map(repr, twice))}; "
            "later documents refer to them by id, so each must be unique"
        )


def chosen_vat(category: VatCategory, rate: Decimal | None) -> Decimal | None:
    """The rate for one VAT category the ERP chose for a whole document.

    Category S without a rate is the Dutch standard rate; an exempt or zero
    category with a rate, or L/M without one, is refused: either would state
    VAT the supply does not bear. Timecard invoices and quotations share this
    so both accept and refuse the same choices.
    """
    if rate is None and category is VatCategory.STANDARD:
        return STANDARD_RATE
    if category in NO_VAT and rate:
        raise BusinessError(
            f"VAT category {category.value} charges no VAT; a rate of {rate}% "
            "contradicts it (BR-Z-05, BR-E-05, BR-AE-05, ...)"
        )
    if category in RATED and rate is None:
        raise BusinessError(f"VAT category {category.value} needs a VAT rate; pass vat_rate=")
    return rate
