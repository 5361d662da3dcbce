"""Sample documents for the contract kit: the model's examples as a Dutch B2G invoice.

The model's example invoice is written for every standard at once; here it
becomes what these formats carry exactly, so that it round-trips unchanged
and validates in each of them: identifiers under ICD codes (a vestigingsnummer
has none), the house number in the street line, a registration name for both
parties (EN 16931 BT-27/BT-44), valid IBANs, and no OHNL-only fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from gateway.kinds import DocumentKind
from gateway.model import (
    Address,
    Contact,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Price,
    Quantity,
    VatCategory,
)
from gateway.model.samples import example_invoice

AGENCY_OIN = "00000001003227522000"
SUPPLIER_KVK = "30097265"

GACCOUNT_SETTINGS: Mapping[str, Any] = {
    "gaccount_iban": "NL20INGB0001234567",
    "gaccount_percentage": "30",
}

AGENCY = Party(
    name="Naam Overheidsorganisatie",
    registration_name="Naam Overheidsorganisatie",
    ids=(PartyId(scheme="0190", value=AGENCY_OIN),),
    legal_id=PartyId(scheme="0190", value=AGENCY_OIN),
    address=Address(
        street="Anna van Hannoverstraat 4", postal_zone="2595 BJ", city="Den Haag",
        country_code="NL",
    ),
    contact=Contact(name="Pieter Post", email="Pieter@post.nl"),
    endpoint_id=PartyId(scheme="0190", value=AGENCY_OIN),
)

SUPPLIER = Party(
    name="Naam Leverancier BV",
    registration_name="Naam Leverancier B.V.",
    ids=(PartyId(scheme="0106", value=SUPPLIER_KVK),),
    legal_id=PartyId(scheme="0106", value=SUPPLIER_KVK),
    vat_id="NL001427507B01",
    address=Address(
        street="PietjePukstraat 7A", postal_zone="1234 AA", city="Den Haag",
        country_code="NL",
    ),
    contact=Contact(name="Jan Klaassen", telephone="+31 70 123 4567", email="jan@klaassen.nl"),
    endpoint_id=PartyId(scheme="0106", value=SUPPLIER_KVK),
)

PAYMENT = PaymentMeans(code="58", account_id="NL91ABNA0417164300", payment_id="F2024-0001")


def dutch_invoice(invoice_type: InvoiceType = InvoiceType.DEBIT) -> Invoice:
    """The model's example invoice (or credit note) between a Dutch supplier and agency."""
    return attrs.evolve(
        example_invoice(invoice_type),
        seller=SUPPLIER,
        buyer=AGENCY,
        payment_means=(PAYMENT,),
        last_invoice_on_order=None,
    )


def minimal_invoice(invoice_type: InvoiceType = InvoiceType.DEBIT) -> Invoice:
    """As little as NLCIUS and Peppol accept: one line, a buyer reference, a payment means."""
    return Invoice.build(
        number="F2024-0002",
        issue_date=dt.date(2024, 4, 2),
        type=invoice_type,
        currency="EUR",
        due_date=dt.date(2024, 5, 2),
        buyer_reference="40000696",
        billing_references=dutch_invoice(InvoiceType.CREDIT).billing_references
        if invoice_type is InvoiceType.CREDIT else (),
        order_reference=OrderReference(id="40000696"),
        seller=SUPPLIER,
        buyer=AGENCY,
        payment_means=(PAYMENT,),
        payment_terms=PaymentTerms(note="30 dagen netto"),
        lines=(
            InvoiceLine(
                id="1", quantity=Quantity(value=Decimal("8"), unit_code="HUR"),
                price=Price(amount=Decimal("95.00")), item=Item(name="Consultancy"),
                vat_category=VatCategory.STANDARD, vat_rate=Decimal("21"),
            ),
        ),
    )


def sample_documents(kind: DocumentKind) -> list[tuple[str, Invoice]]:
    """Named samples of ``kind`` (invoice or credit note)."""
    invoice_type = InvoiceType.CREDIT if kind is DocumentKind.CREDIT_NOTE else InvoiceType.DEBIT
    word = kind.value.replace("-", " ")
    return [
        (f"Dutch B2G {word}", dutch_invoice(invoice_type)),
        (f"minimal {word}", minimal_invoice(invoice_type)),
    ]
