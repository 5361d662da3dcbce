"""Any Dutch B2G invoice the formats can carry encodes valid and decodes back unchanged.

The strategy builds invoices with :meth:`Invoice.build` between a Dutch
supplier (KvK, VAT) and an agency (OIN), within what EN 16931 and its Dutch
and Peppol CIUSes carry: identifiers under ICD codes, the house number in the
street line, at most one note per document and per line, one payment means,
categories S, Z and E. Each invoice is encoded in every UBL invoice format,
validated against the XSD and every Schematron layer of that format (no
fatal or error finding), and decoded back to an equal canonical invoice
whose Decimals keep their scale.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stdnum import ean

from gateway.formats import EncodeContext
from gateway.kinds import DocumentKind
from gateway.model import (
    Address,
    AllowanceCharge,
    Attachment,
    Contact,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    ItemClassification,
    ItemProperty,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    StandardItemId,
    VatCategory,
    VatExemption,
    round_amount,
)
from gateway.validation import Validator, validator_for
from plugins.ubl_invoice.formats import FORMATS, EN16931Invoice
from plugins.ubl_invoice.samples import GACCOUNT_SETTINGS
from strategies import amounts, assert_same, dates, decimals, optional, tuples_of

D = Decimal
SETTINGS = settings(
    max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

AGENCY_OIN = "00000099003214345001"  # the Peppol NL test receiver
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -./@éëß€&'\"<>"


def words(max_size: int = 10) -> st.SearchStrategy[str]:
    """Text without leading or trailing space: Peppol counts a blank element as empty."""
    return st.text(alphabet=_ALPHABET, min_size=1, max_size=max_size).map(str.strip).filter(bool)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def gs1(length: int) -> st.SearchStrategy[str]:
    """A GLN or GTIN with a correct check digit (PEPPOL-COMMON-R040)."""
    return digits(length - 1).map(lambda body: body + ean.calc_check_digit(body))


# Strategies are made once: building them inside every draw costs more than drawing.
WORDS = words()
LONG_WORDS = words(30)
MAYBE_WORDS = optional(WORDS)
VAT_NUMBERS = ["NL001427507B01", "NL123456782B90", "NL853746333B01"]
IBANS = ["NL91ABNA0417164300", "NL44RABO0123456789", "NL02ABNA0123456789"]
KVK = digits(8)

CONTACTS = st.builds(
    Contact, name=MAYBE_WORDS, telephone=MAYBE_WORDS, email=MAYBE_WORDS
).filter(lambda contact: contact != Contact())

DUTCH_ADDRESSES = st.builds(
    Address,
    street=WORDS,
    additional_street=MAYBE_WORDS,
    address_line=MAYBE_WORDS,
    postal_zone=st.builds(lambda n, letters: f"{n} {letters}", st.integers(1000, 9999),
                          st.text(alphabet="ABCDEFGHJKLMNPRSTVWXZ", min_size=2, max_size=2)),
    city=WORDS,
    country_subdivision=MAYBE_WORDS,
    country_code=st.just("NL"),
)


def _supplier(kvk: str, with_id: bool, **fields: Any) -> Party:
    legal = PartyId(scheme="0106", value=kvk)
    return Party(legal_id=legal, endpoint_id=legal, ids=(legal,) if with_id else (), **fields)


SUPPLIERS = st.builds(
    _supplier, KVK, st.booleans(),
    name=WORDS, registration_name=WORDS, vat_id=st.sampled_from(VAT_NUMBERS),
    tax_registration_id=MAYBE_WORDS, address=DUTCH_ADDRESSES, contact=optional(CONTACTS),
)


def _agency(with_id: bool, **fields: Any) -> Party:
    address = PartyId(scheme="0190", value=AGENCY_OIN)
    return Party(legal_id=address, endpoint_id=address, ids=(address,) if with_id else (), **fields)


AGENCIES = st.builds(
    _agency, st.booleans(), name=WORDS, registration_name=WORDS,
    address=DUTCH_ADDRESSES, contact=optional(CONTACTS),
)


# A payee is someone other than the seller (BR-17, UBL-SR-19): its own name.
PAYEES = st.builds(
    Party,
    name=WORDS.map(lambda name: f"Factoring {name}"),
    legal_id=optional(KVK.map(lambda kvk: PartyId(scheme="0106", value=kvk))),
)

VAT_GROUPS: list[tuple[VatCategory, Decimal]] = [
    (VatCategory.STANDARD, D("21")),
    (VatCategory.STANDARD, D("21.00")),
    (VatCategory.STANDARD, D("9")),
    (VatCategory.ZERO_RATED, D("0")),
    (VatCategory.EXEMPT, D("0")),
]


def _line_charge(is_charge: bool, amount: Decimal, reason: str, coded: bool,
                 percentage: Decimal | None) -> AllowanceCharge:
    code = ("FC" if is_charge else "95") if coded else None
    if percentage is not None:
        return AllowanceCharge.percent_of(
            amount, percentage, is_charge=is_charge, reason=reason, reason_code=code
        )
    return AllowanceCharge(is_charge=is_charge, amount=amount, reason=reason, reason_code=code)


LINE_CHARGES = tuples_of(st.builds(
    _line_charge, st.booleans(), amounts(0, 100), WORDS, st.booleans(),
    optional(decimals(1, 20, max_places=2)),
))

ITEMS = st.builds(
    Item,
    name=WORDS,
    description=optional(words(20)),
    seller_item_id=MAYBE_WORDS,
    buyer_item_id=MAYBE_WORDS,
    standard_item_id=optional(gs1(13).map(lambda v: StandardItemId(scheme="0160", value=v))),
    classifications=tuples_of(st.builds(
        ItemClassification, code=WORDS, list_id=st.sampled_from(["MP", "STI"]),
        list_version=optional(words(4)),
    )),
    properties=tuples_of(st.builds(ItemProperty, name=WORDS, value=WORDS)),
    origin_country=optional(st.sampled_from(["NL", "BE", "DE"])),
)

UNITS = st.sampled_from(["EA", "HUR", "DAY", "KGM", "C62"])
QUANTITIES = decimals(-100, 1000, max_places=3)
PRICE_AMOUNTS = decimals(0, 5000, max_places=4)
BASE_QUANTITIES = optional(decimals(1, 100, max_places=2))
DISCOUNTS = optional(amounts(0, 100))
LINE_NOTES = tuples_of(words(20), max_size=1)


@st.composite
def lines(
    draw: st.DrawFn, index: int, period: Period | None, with_order: bool,
    groups: list[tuple[VatCategory, Decimal]],
) -> InvoiceLine:
    unit = draw(UNITS)
    category, rate = draw(st.sampled_from(groups))
    amount, base, discount = draw(PRICE_AMOUNTS), draw(BASE_QUANTITIES), draw(DISCOUNTS)
    price = Price(
        amount=amount,
        base_quantity=Quantity(value=base, unit_code=unit) if base is not None else None,
        # EN 16931: the net price is the gross price minus the discount.
        gross_amount=amount + discount if discount is not None else None,
        discount=discount,
    )
    return InvoiceLine(
        id=str(index),
        quantity=Quantity(value=draw(QUANTITIES), unit_code=unit),
        price=price,
        allowance_charges=draw(LINE_CHARGES),
        item=draw(ITEMS),
        vat_category=category,
        vat_rate=rate,
        order_line_reference=draw(MAYBE_WORDS) if with_order else None,
        # A line period must lie within the invoice period (PEPPOL-EN16931-R110/R111).
        period=period if draw(st.booleans()) else None,
        notes=draw(LINE_NOTES),
        accounting_cost=draw(MAYBE_WORDS),
    )


ATTACHMENTS = st.builds(
    Attachment,
    content=st.binary(min_size=1, max_size=24),
    mime_type=st.sampled_from(["application/pdf", "image/png", "text/csv"]),
    filename=WORDS.map(lambda name: f"{name}.bin"),
    description=MAYBE_WORDS,
) | st.builds(
    Attachment, uri=WORDS.map(lambda path: f"https://example.org/{path}"),
    description=MAYBE_WORDS,
)

OTHER_REFERENCES = tuples_of(st.builds(
    DocumentReference,
    id=WORDS.map(lambda ref: f"REF-{ref}"),
    description=MAYBE_WORDS,
    attachment=optional(ATTACHMENTS),
))

DELIVERIES = st.builds(
    Delivery,
    date=optional(dates()),
    address=optional(DUTCH_ADDRESSES),
    location_id=optional(gs1(13).map(lambda gln: PartyId(scheme="0088", value=gln))),
    party_name=MAYBE_WORDS,
    terms=optional(st.builds(DeliveryTerms, code=st.sampled_from(["EXW", "DDP"]),
                             description=MAYBE_WORDS, location=MAYBE_WORDS)),
).filter(lambda delivery: delivery != Delivery())

PAYMENT_MEANS = st.builds(
    PaymentMeans, code=st.sampled_from(["30", "58"]), account_id=st.sampled_from(IBANS),
    payment_id=MAYBE_WORDS,
) | st.builds(
    PaymentMeans, code=st.just("49"), mandate_reference=WORDS,
    debited_account=st.sampled_from(IBANS), payment_id=MAYBE_WORDS,
)

PERIODS = optional(st.builds(
    lambda a, b: Period(start=min(a, b), end=max(a, b)), dates(), dates()
))
GROUPS = st.lists(st.sampled_from(VAT_GROUPS), min_size=1, max_size=3, unique=True)
ORDER_REFERENCES = optional(st.builds(OrderReference, id=WORDS, sales_order_id=MAYBE_WORDS))
BILLING_REFERENCE = st.builds(DocumentReference, id=WORDS, issue_date=optional(dates()))
MAYBE_DATES = optional(dates())


@st.composite
def dutch_invoices(draw: st.DrawFn, invoice_type: InvoiceType) -> Invoice:
    period = draw(PERIODS)
    tax_point = draw(MAYBE_DATES)
    if period is not None and tax_point is None and draw(st.booleans()):
        # BT-8 and BT-7 exclude each other (BR-CO-3).
        period = attrs.evolve(period, description_code="35")
    groups = draw(GROUPS)
    order = draw(ORDER_REFERENCES)
    count = draw(st.integers(1, 4))
    invoice_lines = tuple(
        draw(lines(i, period, order is not None, groups)) for i in range(1, count + 1)
    )
    # A Dutch credit note in Peppol names the invoice it credits (NL-R-001).
    billing = draw(tuples_of(
        BILLING_REFERENCE, min_size=1 if invoice_type is InvoiceType.CREDIT else 0, max_size=2
    ))
    type_code = None
    if invoice_type is InvoiceType.DEBIT and billing and draw(st.booleans()):
        type_code = "384"  # corrective: NLCIUS needs the billing reference (BR-NL-9)
    tax_currency = draw(st.sampled_from([None, None, "USD"]))
    fields: dict[str, Any] = dict(
        number=draw(WORDS),
        issue_date=draw(dates()),
        type=invoice_type,
        type_code=type_code,
        currency="EUR",
        tax_currency=tax_currency,
        tax_point_date=tax_point,
        due_date=draw(dates()),
        buyer_reference=draw(WORDS) if order is None or draw(st.booleans()) else None,
        order_reference=order,
        billing_references=billing,
        contract_reference=draw(MAYBE_WORDS),
        project_reference=draw(MAYBE_WORDS),
        tender_reference=draw(MAYBE_WORDS),
        receipt_reference=draw(MAYBE_WORDS),
        despatch_references=draw(tuples_of(WORDS, max_size=1)),
        other_references=draw(OTHER_REFERENCES),
        seller=draw(SUPPLIERS),
        buyer=draw(AGENCIES),
        payee=draw(optional(PAYEES)),
        delivery=draw(optional(DELIVERIES)),
        invoice_period=period,
        payment_means=(draw(PAYMENT_MEANS),),
        payment_terms=draw(optional(st.builds(PaymentTerms, note=LONG_WORDS))),
        notes=draw(tuples_of(LONG_WORDS, max_size=1)),
        accounting_cost=draw(MAYBE_WORDS),
        attachments=draw(tuples_of(ATTACHMENTS)),
    )
    invoice = Invoice.build(
        lines=invoice_lines,
        allowance_charges=draw(tuples_of(document_charges(groups), max_size=2)),
        prepaid=draw(optional(amounts(0, 100))),
        rounding=draw(optional(amounts(-1, 1))),
        vat_exemptions={VatCategory.EXEMPT: VatExemption(reason=draw(WORDS))},
        **fields,
    )
    if tax_currency is not None:
        # BT-111 has the sign of BT-110 (PEPPOL-EN16931-R055).
        invoice = attrs.evolve(
            invoice, tax_total_in_tax_currency=round_amount(invoice.totals.tax_total * D("1.1"))
        )
    return invoice


def document_charges(groups: list[tuple[VatCategory, Decimal]]) -> (
    st.SearchStrategy[AllowanceCharge]
):
    def build(is_charge: bool, amount: Decimal, reason: str,
              vat: tuple[VatCategory, Decimal]) -> AllowanceCharge:
        return AllowanceCharge(is_charge=is_charge, amount=amount, reason=reason,
                               vat_category=vat[0], vat_rate=vat[1])

    return st.builds(build, st.booleans(), amounts(0, 50), WORDS, st.sampled_from(groups))


# -- the property ------------------------------------------------------------------------------

FORMAT_KEYS = [format_class.key for format_class in FORMATS]


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


def _format(key: str) -> EN16931Invoice:
    return next(format_class() for format_class in FORMATS if format_class.key == key)


@pytest.mark.parametrize("key", FORMAT_KEYS)
def test_dutch_b2g_invoices_encode_valid_and_round_trip(key: str, validator: Validator) -> None:
    fmt = _format(key)
    invoice_type = InvoiceType.CREDIT if fmt.kind is DocumentKind.CREDIT_NOTE else InvoiceType.DEBIT
    context = EncodeContext(agency_oin=AGENCY_OIN, settings=GACCOUNT_SETTINGS)

    @SETTINGS
    @given(dutch_invoices(invoice_type))
    def check(invoice: Invoice) -> None:
        data = fmt.encode(invoice, context)
        report = validator.validate(data, fmt.layers(), format_key=fmt.key)
        assert report.valid, "\n".join(str(f) for f in report.findings if f.severity.rejects)
        decoded = fmt.decode(data)
        # What the format writes is the invoice as it prepares it (for Peppol:
        # a corrective invoice becomes an ordinary one); nothing else changes.
        assert_same(decoded.document, fmt.prepare(invoice, context))
        unmapped = [w for w in decoded.warnings if "not mapped" in w]
        if key.startswith("nlcius-gaccount:invoice"):
            unmapped = [w for w in unmapped if "PaymentMeans[2]" not in w
                        and "PaymentTerms" not in w]
        assert not unmapped

    check()


FEATURES: dict[str, Callable[[Invoice], bool]] = {
    "attachments": lambda invoice: bool(invoice.attachments),
    "corrective": lambda invoice: invoice.type_code == "384",
    "exempt": lambda invoice: any(
        s.category is VatCategory.EXEMPT for s in invoice.tax_breakdown),
    "tax currency": lambda invoice: invoice.tax_currency is not None,
    "document charges": lambda invoice: bool(invoice.allowance_charges),
    "payee": lambda invoice: invoice.payee is not None,
    "delivery terms": lambda invoice: invoice.delivery is not None
    and invoice.delivery.terms is not None,
}


def test_the_strategy_reaches_the_interesting_cases() -> None:
    """A guard against a strategy that quietly stopped producing what the property needs."""
    seen: set[str] = set()

    @settings(max_examples=100, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(dutch_invoices(InvoiceType.DEBIT))
    def look(invoice: Invoice) -> None:
        seen.update(name for name, present in FEATURES.items() if present(invoice))

    look()
    assert seen == FEATURES.keys()
