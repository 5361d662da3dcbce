"""Canonical invoices the UBL-OHNL formats vouch for: a Dutch supplier invoicing a ministry.

Made with :meth:`Invoice.build` from fields UBL-OHNL carries exactly, so
encoding and decoding gives the same document back (the contract kit checks
that). The agency's OIN comes from the routing context, as in production.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from gateway.formats import EncodeContext, Sample
from gateway.model import (
    Address,
    AllowanceCharge,
    Contact,
    Delivery,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    VatCategory,
)

D = Decimal
AGENCY_OIN = "00000001003227522000"

SUPPLIER = Party(
    name="Kantoorartikelen Jansen BV",
    registration_name="Kantoorartikelen Jansen B.V.",
    ids=(
        PartyId(scheme="KvK", value="30097265"),
        PartyId(scheme="Vest", value="000018727409"),
        PartyId(scheme="BTW", value="NL001427507B01"),
    ),
    vat_id="NL001427507B01",
    address=Address(
        street="Pietje Pukstraat", building_number="7", building_addition="A",
        postal_zone="1234 AA", city="Den Haag", country_code="NL",
    ),
    contact=Contact(name="Jan Klaassen", telephone="+31 70 123 4567", email="jan@jansen.nl"),
)

MINISTRY = Party(
    name="Ministerie van Voorbeeldzaken",
    ids=(PartyId(scheme="OIN", value=AGENCY_OIN),),
    address=Address(
        postbox="20011", postal_zone="2500 EA", city="Den Haag", country_code="NL",
    ),
    contact=Contact(name="Pieter Post", email="pieter.post@minvz.example.nl"),
)


def _lines() -> tuple[InvoiceLine, ...]:
    return (
        InvoiceLine(
            id="1", quantity=Quantity(value=D("1000"), unit_code="EA"),
            price=Price(amount=D("3.27")),
            item=Item(name="Pak potloden 12 stuks", description="Pak potloden 12 stuks",
                      seller_item_id="123456"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            vat_amount=D("686.70"), order_line_reference="1.1.1",
        ),
        InvoiceLine(
            id="2", quantity=Quantity(value=D("2.5"), unit_code="HUR"),
            price=Price(amount=D("80.00")),
            allowance_charges=(
                AllowanceCharge(is_charge=False, amount=D("10.00"), reason="Korting"),
            ),
            item=Item(name="Advies", description="Advies op locatie"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            order_line_reference="2.1.1",
            period=Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29),
                          description_code="D"),
        ),
        InvoiceLine(
            id="3", quantity=Quantity(value=D("3"), unit_code="KGM"),
            price=Price(amount=D("12.345")),
            item=Item(name="Koffiebonen", description="Koffiebonen, biologisch"),
            vat_category=VatCategory.STANDARD, vat_rate=D("9"),
        ),
    )


def sample_invoice(invoice_type: InvoiceType = InvoiceType.DEBIT) -> Invoice:
    """A FACTUUR-UBL for DigiInkoop order 40000695, or the credit note crediting it."""
    credit = invoice_type is InvoiceType.CREDIT
    return Invoice.build(
        number="CN2024-0001" if credit else "F2024-0001",
        issue_date=dt.date(2024, 3, 1),
        type=invoice_type,
        currency="EUR",
        due_date=dt.date(2024, 3, 31),
        order_reference=OrderReference(id="40000695", sales_order_id="SO-77"),
        billing_references=(
            (DocumentReference(id="F2024-0001", issue_date=dt.date(2024, 3, 1)),)
            if credit else ()
        ),
        seller=SUPPLIER,
        buyer=MINISTRY,
        delivery=Delivery(date=dt.date(2024, 2, 28)),
        invoice_period=Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29),
                              description_code="I"),
        payment_means=(
            PaymentMeans(code="31", account_id="NL87ABNA0123456789", bic="ABNANL2A",
                         payment_id="F2024-0001"),
        ),
        payment_terms=PaymentTerms(note="30 dagen netto"),
        notes=("Levering conform raamovereenkomst",),
        accounting_cost="H4500123456",
        lines=_lines(),
        allowance_charges=(
            AllowanceCharge(is_charge=True, amount=D("12.50"), reason="Verzendkosten",
                            vat_category=VatCategory.STANDARD, vat_rate=D("21")),
        ),
        last_invoice_on_order=not credit,
    )


def sample_e_invoice() -> Invoice:
    """An E-Factuur-UBL: no DigiInkoop order, the cost centre instead."""
    return Invoice.build(
        number="F2024-0002",
        issue_date=dt.date(2024, 4, 2),
        type=InvoiceType.DEBIT,
        currency="EUR",
        seller=SUPPLIER,
        buyer=MINISTRY,
        delivery=Delivery(date=dt.date(2024, 3, 29)),
        payment_means=(PaymentMeans(code="31", account_id="NL87ABNA0123456789"),),
        accounting_cost="H4500123456",
        lines=(
            InvoiceLine(
                id="1", quantity=Quantity(value=D("1"), unit_code="MON"),
                price=Price(amount=D("450.00")),
                item=Item(name="Onderhoudscontract printers", description="Maart 2024"),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            ),
        ),
    )


def invoice_samples() -> list[Sample]:
    context = EncodeContext(agency_oin=AGENCY_OIN, agency_name=MINISTRY.name)
    return [
        Sample(name="FACTUUR-UBL debit invoice", document=sample_invoice(), context=context),
        Sample(name="credit note", document=sample_invoice(InvoiceType.CREDIT), context=context),
        Sample(name="E-Factuur-UBL", document=sample_e_invoice(), context=context),
    ]
