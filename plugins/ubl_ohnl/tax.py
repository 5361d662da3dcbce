"""VAT categories in UBL-OHNL: named categories with a percentage, under tax scheme BTW.

OHNL has no category code: a ``cac:TaxCategory`` (or ``ClassifiedTaxCategory``)
carries ``cbc:Name`` ("BTW HOOG" in the examples), ``cbc:Percent`` and
``cac:TaxScheme/cbc:Name`` (BTW, Accijns, Toeslag or Overige). The mapping
to the canonical :class:`VatCategory` plus rate:

=======================  =========================  ==========================
canonical                OHNL TaxCategory/Name      decoded back as
=======================  =========================  ==========================
S, a Dutch low rate      BTW LAAG                   S (rate from Percent)
S, any other rate        BTW HOOG                   S (rate from Percent)
Z                        BTW NUL                    Z
E                        BTW VRIJGESTELD            E
AE                       BTW VERLEGD                AE
K, G, O, L, M            (encode error)
=======================  =========================  ==========================

Decoding matches the words HOOG, LAAG, NUL, VRIJ and VERLEGD in any case; a
category without a recognisable name is read from its percentage (above 0:
S, 0: Z) with a warning. Subtotals under another tax scheme than BTW are not
VAT and are reported, not mapped.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.model import VatCategory
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.errors import OhnlEncodeError
from plugins.ubl_ohnl.xmltools import Element, Reader, add, add_decimal, add_text

ZERO = Decimal("0")


def category_name(category: VatCategory, rate: Decimal | None, role: str) -> str:
    if category is VatCategory.STANDARD:
        if rate is not None and rate in codes.NL_LOW_RATES:
            return codes.TAX_LOW
        return codes.TAX_HIGH
    name = codes.TAX_NAMES.get(category)
    if name is None:
        known = ", ".join(c.value for c in (VatCategory.STANDARD, *codes.TAX_NAMES))
        raise OhnlEncodeError(
            f"{role}: VAT category {category.value} has no UBL-OHNL name; OHNL invoices "
            f"carry the categories {known}"
        )
    return name


def add_tax_category(
    parent: Element, tag: str, category: VatCategory, rate: Decimal | None, role: str, *,
    exemption_reason: str | None = None, exemption_reason_code: str | None = None,
) -> None:
    """Append a TaxCategoryType element (``cac:TaxCategory``, ``cac:ClassifiedTaxCategory``)."""
    element = add(parent, tag)
    add(element, "cbc:Name", category_name(category, rate, role))
    add_decimal(element, "cbc:Percent", rate)
    add_text(element, "cbc:TaxExemptionReasonCode", exemption_reason_code)
    add_text(element, "cbc:TaxExemptionReason", exemption_reason)
    add(add(element, "cac:TaxScheme"), "cbc:Name", codes.TAX_SCHEME_VAT)


def is_vat(r: Reader, category: Element) -> bool:
    """Whether a TaxCategoryType element is VAT (tax scheme BTW, or none named)."""
    scheme = r.token(category, "cac:TaxScheme/cbc:Name")
    return scheme is None or scheme.upper() == codes.TAX_SCHEME_VAT


def read_tax_category(
    r: Reader, category: Element, percent: Decimal | None = None,
) -> tuple[VatCategory, Decimal | None]:
    """The canonical category and rate of a TaxCategoryType element.

    ``percent`` is a percentage stated beside the category (TaxSubtotal/Percent),
    used when the category states none.
    """
    own = r.decimal(category, "cbc:Percent")
    if own is not None and percent is not None and own != percent:
        r.warn(category, f"percentage {own} differs from the subtotal's {percent}; "
                         f"{percent} is kept")
    rate = percent if percent is not None else own
    name_node = r.first(category, "cbc:Name")
    name = r.token(category, "cbc:Name")
    if name is not None:
        upper = name.upper()
        for word, found in codes.TAX_NAME_WORDS:
            if word in upper:
                return found, rate
    guess = VatCategory.STANDARD if rate is not None and rate > ZERO else VatCategory.ZERO_RATED
    r.warn(
        name_node if name_node is not None else category,
        f"tax category {'name ' + repr(name) if name else 'without a name'}; "
        f"read as {guess.value} from percentage {rate if rate is not None else 'none'}",
    )
    return guess, rate
