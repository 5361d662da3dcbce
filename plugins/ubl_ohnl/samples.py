"""Canonical documents the UBL-OHNL formats vouch for: a Dutch supplier trading with a ministry.

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
    AnticipatedTotals,
    Attachment,
    Contact,
    Delivery,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    LineResponse,
    LineStatus,
    Order,
    OrderLine,
    OrderReference,
    OrderResponse,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    Quotation,
    QuotationLine,
    RequestForQuotation,
    RequestForQuotationCancellation,
    RequestForQuotationLine,
    ResponseStatus,
    TaxSubtotal,
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


def sample_order(*, per_line_delivery: bool = False) -> Order:
    """A BESTELLING-UBL from the ministry; delivery data on the header or on every line."""
    delivery = Delivery(
        period=Period(end=dt.date(2024, 2, 20)),
        address=Address(street="Anna van Hannoverstraat", building_number="4",
                        postal_zone="2595 BJ", city="Den Haag", country_code="NL"),
        party_name="Pieter Post",
        contact=Contact(name="Pieter Post", email="pieter.post@minvz.example.nl"),
    )
    lines = (
        OrderLine(
            id="1.1.1", quantity=Quantity(value=D("1000"), unit_code="EA"),
            price=Price(amount=D("3.27")), line_amount=D("3270.00"), vat_amount=D("686.70"),
            item=Item(name="Pak potloden 12 stuks", seller_item_id="123456",
                      buyer_item_id="K-991"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            accounting_cost=None if not per_line_delivery else "H4500123456",
            delivery=delivery if per_line_delivery else None,
            notes=("Niet aanbellen",),
        ),
        OrderLine(
            id="2.1.1", quantity=Quantity(value=D("2.5"), unit_code="HUR"),
            price=Price(amount=D("80.00"), base_quantity=Quantity(value=D("1"), unit_code="HUR")),
            line_amount=D("200.00"),
            item=Item(name="Advies", description="Advies op locatie", seller_item_id="ADV-1"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            accounting_cost=None if not per_line_delivery else "H4500123457",
            delivery=delivery if per_line_delivery else None,
        ),
    )
    return Order(
        number="40000695",
        issue_date=dt.date(2024, 2, 1),
        issue_time=dt.time(14, 11, 22),
        currency="EUR",
        buyer=MINISTRY,
        seller=SUPPLIER,
        customer_reference="987654321",
        quotation_reference="OFF-2024-12",
        contract_reference="RC-2023-77",
        notes=("Levering conform raamovereenkomst",),
        accounting_cost=None if per_line_delivery else "H4500123456",
        delivery=None if per_line_delivery else delivery,
        payment_terms=PaymentTerms(note="30 dagen netto"),
        attachments=(
            Attachment(content=b"%PDF-1.4 bestekje", mime_type="application/pdf",
                       filename="bestek.pdf", description="Bestek"),
        ),
        allowance_charges=(AllowanceCharge(is_charge=True, amount=D("12.50"),
                                           reason="Verzendkosten"),),
        lines=lines,
        tax_breakdown=(
            TaxSubtotal(category=VatCategory.STANDARD, rate=D("21"),
                        taxable_amount=D("3482.50"), tax_amount=D("731.33")),
        ),
        totals=AnticipatedTotals(
            line_extension=D("3470.00"), charge_total=D("12.50"), tax_exclusive=D("3482.50"),
            tax_inclusive=D("4213.83"), payable=D("4213.83"),
        ),
    )


def order_samples() -> list[Sample]:
    context = EncodeContext(agency_oin=AGENCY_OIN, agency_name=MINISTRY.name)
    return [
        Sample(name="order, delivery on the header", document=sample_order(), context=context),
        Sample(name="order, delivery on every line",
               document=sample_order(per_line_delivery=True), context=context),
    ]


SUPPLIER_NUMBER = "13023"
"""The supplier's number at the ministry (an agency directory setting)."""


def sample_order_response() -> OrderResponse:
    """Confirms :func:`sample_order`: fewer pencils, advice a week later."""
    return OrderResponse(
        number="BEV-40000695",
        issue_date=dt.date(2024, 2, 2),
        order_reference=OrderReference(id="40000695", sales_order_id="SO-77",
                                       issue_date=dt.date(2024, 2, 1)),
        status=ResponseStatus.ACCEPTED_WITH_CHANGES,
        seller=SUPPLIER,
        buyer=MINISTRY,
        currency="EUR",
        note="Potloden deels uit voorraad",
        line_responses=(
            LineResponse(line_id="1.1.1", status=LineStatus.CHANGED,
                         quantity=Quantity(value=D("800"), unit_code="EA"),
                         delivery_date=dt.date(2024, 2, 20), note="800 op voorraad"),
            LineResponse(line_id="2.1.1", status=LineStatus.CHANGED,
                         quantity=Quantity(value=D("2.5"), unit_code="HUR"),
                         delivery_date=dt.date(2024, 2, 27)),
        ),
    )


def order_response_context(order: Order | None = None) -> EncodeContext:
    """The context an OHNL order response needs: the order answered, the supplier number."""
    return EncodeContext(
        agency_oin=AGENCY_OIN, agency_name=MINISTRY.name,
        answers=order or sample_order(per_line_delivery=True), supplier_number=SUPPLIER_NUMBER,
    )


def order_response_samples() -> list[Sample]:
    return [Sample(name="order response with changes", document=sample_order_response(),
                   context=order_response_context())]


def sample_rfq_cancellation(*, rfq: bool = False) -> RequestForQuotationCancellation:
    """An AFWIJZING-UBL turning down a quotation, or withdrawing the request."""
    return RequestForQuotationCancellation(
        number="AFW-2024-3",
        issue_date=dt.date(2024, 1, 20),
        rfq_reference="OAU-2024-12" if rfq else None,
        quotation_reference=None if rfq else "OFF-2024-12",
        reason="niet meer nodig" if rfq else "te duur",
        buyer=MINISTRY,
        seller=SUPPLIER,
        accounting_cost="H4500123456",
    )


def rfq_cancellation_samples() -> list[Sample]:
    return [
        Sample(name="quotation turned down", document=sample_rfq_cancellation()),
        Sample(name="request withdrawn", document=sample_rfq_cancellation(rfq=True)),
    ]


def sample_rfq() -> RequestForQuotation:
    """An OFFERTE-AANVRAAG-UBL: the ministry asks for pencils and advice."""
    delivery = Delivery(
        period=Period(end=dt.date(2024, 2, 20)),
        address=Address(street="Anna van Hannoverstraat", building_number="4",
                        postal_zone="2595 BJ", city="Den Haag", country_code="NL"),
    )
    return RequestForQuotation(
        number="OAU-2024-12",
        issue_date=dt.date(2024, 1, 10),
        issue_time=dt.time(10, 55, 23),
        currency="EUR",
        buyer=MINISTRY,
        seller=SUPPLIER,
        requested_validity=Period(start=dt.date(2024, 1, 15), end=dt.date(2024, 3, 15)),
        negotiation_style="E",
        delivery=delivery,
        notes=("Graag inclusief bezorgkosten",),
        attachments=(Attachment(content=b"%PDF-1.4 eisen", mime_type="application/pdf",
                                filename="eisen.pdf", description="Programma van eisen"),),
        lines=(
            RequestForQuotationLine(
                id="1", quantity=Quantity(value=D("1000"), unit_code="EA"),
                item=Item(name="Pak potloden 12 stuks", seller_item_id="123456"),
                accounting_cost="H4500123456", notes=("HB of harder",),
                references=(DocumentReference(id="RC-2023-77", type_code="Contract"),),
            ),
            RequestForQuotationLine(
                id="2", quantity=Quantity(value=D("2.5"), unit_code="HUR"),
                item=Item(name="Advies", description="Advies op locatie"),
                accounting_cost="H4500123456",
            ),
        ),
    )


def rfq_samples() -> list[Sample]:
    return [Sample(name="request for quotation", document=sample_rfq())]


def sample_quotation() -> Quotation:
    """An OFFERTE-UBL answering :func:`sample_rfq`; delivery promised per line."""
    def delivery(day: int) -> Delivery:
        return Delivery(
            period=Period(end=dt.date(2024, 2, day)),
            address=Address(street="Anna van Hannoverstraat", building_number="4",
                            postal_zone="2595 BJ", city="Den Haag", country_code="NL"),
            party_name="Ministerie van Voorbeeldzaken",
            contact=Contact(name="Pieter Post"),
        )
    return Quotation(
        number="OFF-2024-12",
        issue_date=dt.date(2024, 1, 12),
        currency="EUR",
        rfq_reference="OAU-2024-12",
        validity_period=Period(start=dt.date(2024, 1, 12), end=dt.date(2024, 3, 15)),
        seller=SUPPLIER,
        buyer=MINISTRY,
        payment_terms=PaymentTerms(note="30 dagen netto"),
        notes=("Prijzen exclusief BTW",),
        lines=(
            QuotationLine(
                id="1", quantity=Quantity(value=D("1000"), unit_code="EA"),
                price=Price(amount=D("3.27")), line_amount=D("3270.00"),
                item=Item(name="Pak potloden 12 stuks", seller_item_id="123456"),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"),
                delivery=delivery(20), accounting_cost="H4500123456",
                references=(DocumentReference(id="RC-2023-77", type_code="Contract"),),
            ),
            QuotationLine(
                id="2", quantity=Quantity(value=D("2.5"), unit_code="HUR"),
                price=Price(amount=D("80.00")), line_amount=D("200.00"),
                item=Item(name="Advies", description="Advies op locatie"),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"),
                delivery=delivery(27), notes=("Op locatie",),
            ),
        ),
        tax_breakdown=(TaxSubtotal(category=VatCategory.STANDARD, rate=D("21"),
                                   taxable_amount=D("3470.00"), tax_amount=D("728.70")),),
        totals=AnticipatedTotals(line_extension=D("3470.00"), tax_exclusive=D("3470.00"),
                                 tax_inclusive=D("4198.70"), payable=D("4198.70")),
    )


def quotation_samples() -> list[Sample]:
    return [Sample(name="quotation", document=sample_quotation())]
