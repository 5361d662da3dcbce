"""Property: every Dutch B2G invoice UBL-OHNL can carry encodes valid and decodes back equal.

The strategy builds invoices with :meth:`Invoice.build` from the fields the
format maps exactly (see ``plugins/ubl_ohnl/invoice.py`` for those it leaves
out or refuses): debit and credit, proposals from the agency side, several
VAT categories and rates, allowances and charges, line periods, payment means,
the NL extensions. Each encoded document must pass the UBL-OHNL 1.9 XSD and
Schematron without an error and decode to an equal invoice with no warning.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.formats import EncodeContext
from gateway.model import (
    Address,
    AllowanceCharge,
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
)
from gateway.validation.engine import Validator
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.invoice import ALLOW_PROPOSAL, OhnlInvoice19
from strategies import amounts, currencies, dates, decimals, optional, texts

FORMAT = OhnlInvoice19()
AGENCY_OIN = "00000001003227522000"
D = Decimal

VAT = [
    (VatCategory.STANDARD, D("21")),
    (VatCategory.STANDARD, D("21.00")),
    (VatCategory.STANDARD, D("9")),
    (VatCategory.ZERO_RATED, D("0")),
    (VatCategory.EXEMPT, D("0")),
    (VatCategory.REVERSE_CHARGE, D("0")),
]


def words(max_size: int = 8) -> st.SearchStrategy[str]:
    """Text as the strategies make it, minus blank text (which reads back as absent)."""
    return texts(max_size).filter(lambda text: text.strip() != "")


def periods() -> st.SearchStrategy[Period]:
    return st.builds(
        lambda a, b, code: Period(start=min(a, b), end=max(a, b), description_code=code),
        dates(), dates(), st.sampled_from(codes.PERIOD_DESCRIPTION_CODES),
    )


def addresses() -> st.SearchStrategy[Address]:
    def build(kind: str, street: str, number: str, addition: str | None, postbox: str,
              extra: dict[str, Any]) -> Address:
        if kind == "postbox":
            return Address(postbox=postbox, **extra)
        if kind == "street":
            return Address(street=street, building_number=number,
                           building_addition=addition, **extra)
        return Address(**extra)

    extra = st.fixed_dictionaries(
        {"country_code": st.sampled_from(["NL", "BE", "DE"])},
        optional={"city": words(), "postal_zone": words(7), "additional_street": words(),
                  "country_subdivision": words(), "address_line": words()},
    )
    return st.builds(
        build, st.sampled_from(["street", "postbox", "neither"]), words(),
        st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True),
        optional(st.from_regex(r"[A-Za-z0-9]{1,3}", fullmatch=True)),
        st.from_regex(r"[0-9]{1,5}", fullmatch=True), extra,
    )


def contacts() -> st.SearchStrategy[Contact]:
    return st.builds(Contact, name=words(), telephone=optional(words()), email=optional(words()))


SELLER_SCHEMES = [("KvK",), ("KvK", "Vest"), ("KvK", "BTW"), ("KvK", "Vest", "BTW"), ("Fi",),
                  ("BSN",), ("XXX", "BTW")]


def parties(schemes: st.SearchStrategy[tuple[str, ...]]) -> st.SearchStrategy[Party]:
    def build(names: tuple[str, ...], values: list[str], fields: dict[str, Any]) -> Party:
        ids = tuple(PartyId(scheme=scheme, value=value) for scheme, value in zip(
            names, values, strict=False))
        vat_id = next((p.value for p in ids if p.scheme == "BTW"), None)
        return Party(ids=ids, vat_id=vat_id, **fields)

    return st.builds(
        build, schemes, st.lists(words(12), min_size=3, max_size=3),
        st.fixed_dictionaries(
            {"name": words(), "address": addresses()},
            optional={"registration_name": words(), "contact": contacts()},
        ),
    )


def buyers() -> st.SearchStrategy[Party]:
    agency = parties(st.sampled_from([("OIN",), ("OIN", "BTW"), ("BTW", "OIN")]))
    return agency.map(lambda party: Party(
        name=party.name, registration_name=party.registration_name, vat_id=party.vat_id,
        address=party.address, contact=party.contact,
        ids=tuple(PartyId(scheme="OIN", value=AGENCY_OIN) if p.scheme == "OIN" else p
                  for p in party.ids),
    ))


def references() -> st.SearchStrategy[DocumentReference]:
    return st.builds(DocumentReference, id=words(), issue_date=optional(dates()),
                     type_code=optional(words()))


def allowance_charges(*, document: bool) -> st.SearchStrategy[AllowanceCharge]:
    def build(is_charge: bool, amount: Decimal, percentage: Decimal | None,
              vat: tuple[VatCategory, Decimal], reason: str | None,
              reason_code: str | None) -> AllowanceCharge:
        category, rate = vat if document else (None, None)
        if percentage is not None:
            return AllowanceCharge.percent_of(
                amount, percentage, is_charge=is_charge, reason=reason,
                reason_code=reason_code, vat_category=category, vat_rate=rate,
            )
        return AllowanceCharge(is_charge=is_charge, amount=amount, reason=reason,
                               reason_code=reason_code, vat_category=category, vat_rate=rate)

    return st.builds(
        build, st.booleans(), amounts(0, 500), optional(decimals(0, 30, max_places=2)),
        st.sampled_from(VAT), optional(words()), optional(st.sampled_from(["1", "41", "ZZZ"])),
    )


def items() -> st.SearchStrategy[Item]:
    return st.builds(
        Item,
        name=words(),
        description=words(),
        seller_item_id=optional(words()),
        buyer_item_id=optional(words()),
        standard_item_id=optional(st.builds(StandardItemId, scheme=st.just("0160"),
                                            value=words())),
        classifications=st.lists(st.builds(
            ItemClassification, code=words(), list_id=st.sampled_from(["MP", "STI"]),
            list_version=optional(st.from_regex(r"[A-Za-z0-9.]{1,4}", fullmatch=True)),
        ), max_size=2).map(tuple),
        properties=st.lists(st.builds(ItemProperty, name=words(), value=words()),
                            max_size=2).map(tuple),
        origin_country=optional(st.sampled_from(["NL", "BE", "DE"])),
    )


def prices(unit: str) -> st.SearchStrategy[Price]:
    base = optional(st.builds(
        Quantity, value=decimals(2, 100, max_places=2),
        unit_code=st.sampled_from(sorted(codes.UNITS)),
    ))
    gross = optional(st.tuples(decimals(0, 5_000, max_places=2), amounts(0, 100)))
    return st.builds(
        lambda amount, base_quantity, gross_discount: Price(
            amount=amount, base_quantity=base_quantity,
            gross_amount=gross_discount[0] if gross_discount else None,
            discount=gross_discount[1] if gross_discount else None,
        ),
        decimals(0, 5_000, max_places=4), base, gross,
    )


@st.composite
def invoice_lines(draw: st.DrawFn, index: int, with_order: bool) -> InvoiceLine:
    unit = draw(st.sampled_from(sorted(codes.UNITS)))
    category, rate = draw(st.sampled_from(VAT))
    extra: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={
        "vat_amount": amounts(0, 1000),
        "period": periods(),
        "notes": st.tuples(words(20)),
        "accounting_cost": words(),
        **({"order_line_reference": words()} if with_order else {}),
    }))
    return InvoiceLine(
        id=f"{index + 1}{draw(st.sampled_from(['', '.1', '-a']))}",
        quantity=Quantity(value=draw(decimals(-100, 1_000, max_places=3)), unit_code=unit),
        price=draw(prices(unit)),
        allowance_charges=tuple(draw(st.lists(allowance_charges(document=False), max_size=2))),
        item=draw(items()),
        vat_category=category,
        vat_rate=rate,
        **extra,
    )


@st.composite
def ohnl_invoices(draw: st.DrawFn) -> tuple[Invoice, EncodeContext]:
    invoice_type = draw(st.sampled_from(list(InvoiceType)))
    proposal = draw(st.booleans()) and draw(st.booleans())
    credit = invoice_type is InvoiceType.CREDIT
    order = draw(optional(st.builds(OrderReference, id=words(), sales_order_id=optional(words()),
                                    issue_date=optional(dates()))))
    lines = tuple(
        draw(invoice_lines(i, order is not None))
        for i in range(draw(st.integers(1, 4)))
    )
    means = tuple(draw(st.lists(st.builds(
        PaymentMeans, code=st.sampled_from(["30", "31", "42", "49", "58"]),
        account_id=st.sampled_from(["NL87ABNA0123456789", "NL91INGB0002445588"]),
        text=optional(words()), account_name=optional(words()),
        bic=optional(st.just("ABNANL2A")), payment_id=optional(words()),
        debited_account=optional(words()),
    ), max_size=2)))
    fields: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={
        "tax_point_date": dates(),
        "tax_currency": currencies(),
        "contract_reference": words(),
        "receipt_reference": words(),
        "despatch_references": st.lists(words(), min_size=1, max_size=2).map(tuple),
        "other_references": st.lists(references(), min_size=1, max_size=2).map(tuple),
        "payee": parties(st.sampled_from(SELLER_SCHEMES)),
        "tax_representative": parties(st.sampled_from(SELLER_SCHEMES)),
        "invoice_period": periods(),
        "payment_terms": st.builds(PaymentTerms, note=words(30)),
        "notes": st.lists(words(30), min_size=1, max_size=2).map(tuple),
        "accounting_cost": words(),
        "last_invoice_on_order": st.booleans(),
        "received_date": dates(),
        "prepaid": amounts(0, 1_000),
        "rounding": amounts(-1, 1),
    }))
    due_date = draw(optional(dates()))
    if means and due_date is not None:
        fields["due_date"] = due_date
    buyer = draw(buyers())
    if order is None and "accounting_cost" not in fields and buyer.contact is None:
        fields["accounting_cost"] = draw(words())
    if not credit and not proposal and draw(st.booleans()):
        fields["type_code"] = codes.PROFORMA
    invoice = Invoice.build(
        number=draw(words(24)),
        issue_date=draw(dates()),
        type=invoice_type,
        proposal=proposal,
        currency=draw(currencies()),
        order_reference=order,
        billing_references=tuple(draw(st.lists(
            references(), min_size=1 if credit else 0, max_size=2))),
        seller=draw(parties(st.sampled_from(SELLER_SCHEMES))),
        buyer=buyer,
        delivery=Delivery(
            date=draw(dates()),
            address=draw(optional(addresses())),
            location_id=draw(optional(st.builds(PartyId, scheme=st.just("0088"),
                                                value=words(13)))),
            party_name=draw(optional(words())),
            contact=draw(optional(contacts())),
            terms=draw(optional(st.builds(
                DeliveryTerms, code=st.sampled_from(sorted(codes.DELIVERY_TERMS_CODES)),
                description=optional(words()), location=optional(words()),
            ))),
        ),
        payment_means=means,
        lines=lines,
        allowance_charges=tuple(draw(st.lists(allowance_charges(document=True), max_size=3))),
        vat_exemptions={
            VatCategory.EXEMPT: VatExemption(reason="Vrijgesteld (art. 11 Wet OB)"),
            VatCategory.REVERSE_CHARGE: VatExemption(reason="BTW verlegd",
                                                     code="VATEX-EU-AE"),
        },
        **fields,
    )
    context = EncodeContext(agency_oin=AGENCY_OIN,
                            settings={ALLOW_PROPOSAL: True} if proposal else {})
    return invoice, context


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    found = Validator(installed_standards)
    found.prepare(FORMAT.layers())
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=ohnl_invoices())
def test_ohnl_invoices_encode_valid_and_decode_equal(
    validator: Validator, case: tuple[Invoice, EncodeContext],
) -> None:
    invoice, context = case
    event(f"{invoice.type.value}{' proposal' if invoice.proposal else ''}")
    for subtotal in invoice.tax_breakdown:
        event(f"VAT {subtotal.category.value}")
    data = FORMAT.encode(invoice, context)
    report = validator.validate(data, FORMAT.layers(), format_key=FORMAT.key)
    problems = [f for f in report.findings if f.severity.rejects]
    assert not problems, "\n".join(f"{f.layer} {f.location}: {f.text}" for f in problems)
    decoded = FORMAT.decode(data)
    assert decoded.warnings == ()
    assert decoded.document == invoice
