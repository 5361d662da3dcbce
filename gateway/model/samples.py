"""Sample documents: one hand-written, realistic document of every kind.

They are modelled on the examples the standards publish (UBL-OHNL, SETU,
EN 16931) and serve three readers: the ERP integrator (``examples/erp-payloads``
holds them as canonical JSON, written by ``python -m gateway.model.samples
--write examples/erp-payloads``), the contract kit (format plugins declare them
as samples), and the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

from gateway.model import (
    Address,
    AllowanceCharge,
    AnticipatedTotals,
    Approval,
    Attachment,
    CanonicalDocument,
    Contact,
    Delivery,
    DocumentReference,
    HumanResource,
    HumanResourceStatus,
    Invoice,
    InvoiceLine,
    InvoiceResponse,
    InvoiceStatus,
    InvoiceType,
    Item,
    LineResponse,
    LineStatus,
    MessageLevelResponse,
    MessageLineResponse,
    MessageStatus,
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
    StaffingOrder,
    StaffingRate,
    StatusClarification,
    StatusCondition,
    TaxSubtotal,
    TimeCard,
    TimeCardExpense,
    TimeCardStatus,
    TimeInterval,
    VatCategory,
    Worker,
    kind_of,
)

D = Decimal


AGENCY = Party(
    name="Naam Overheidsorganisatie",
    ids=(PartyId(scheme="OIN", value="00000001003227522000"),),
    legal_id=PartyId(scheme="0190", value="00000001003227522000"),
    address=Address(
        street="Anna van Hannoverstraat", building_number="4", postal_zone="2595 BJ",
        city="Den Haag", country_code="NL",
    ),
    contact=Contact(name="Pieter Post", email="Pieter@post.nl"),
    endpoint_id=PartyId(scheme="0190", value="00000001003227522000"),
)

SUPPLIER = Party(
    name="Naam Leverancier BV",
    registration_name="Naam Leverancier B.V.",
    ids=(
        PartyId(scheme="KvK", value="30097265"),
        PartyId(scheme="Vest", value="000018727409"),
    ),
    legal_id=PartyId(scheme="0106", value="30097265"),
    vat_id="NL001427507B01",
    address=Address(
        street="PietjePukstraat", building_number="7", building_addition="A",
        postal_zone="1234 AA", city="Den Haag", country_code="NL",
    ),
    contact=Contact(name="Jan Klaassen", telephone="+31 70 123 4567", email="jan@klaassen.nl"),
    endpoint_id=PartyId(scheme="0106", value="30097265"),
)

S21 = (VatCategory.STANDARD, D("21"))


def example_invoice_lines() -> tuple[InvoiceLine, ...]:
    """Three lines at 21 % and 9 % (see test_model_invoice for the hand-checked sums)."""
    return (
        InvoiceLine(
            id="1", quantity=Quantity(value=D("4"), unit_code="EA"),
            price=Price(amount=D("25.00")), item=Item(name="Pak potloden 12 stuks"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            order_line_reference="1.1.1",
        ),
        InvoiceLine(
            id="2", quantity=Quantity(value=D("2.5"), unit_code="HUR"),
            price=Price(amount=D("80.00")),
            allowance_charges=(
                AllowanceCharge(is_charge=False, amount=D("10.00"), reason="Korting"),
            ),
            item=Item(name="Advies", description="Advies op locatie"),
            vat_category=VatCategory.STANDARD, vat_rate=D("21.00"),
        ),
        InvoiceLine(
            id="3", quantity=Quantity(value=D("3"), unit_code="KGM"),
            price=Price(amount=D("12.345")), item=Item(name="Koffie"),
            vat_category=VatCategory.STANDARD, vat_rate=D("9"),
        ),
    )


def example_invoice(invoice_type: InvoiceType = InvoiceType.DEBIT) -> Invoice:
    """A built invoice with most fields filled, including an embedded PDF."""
    return Invoice.build(
        number="F2024-0001",
        issue_date=dt.date(2024, 3, 1),
        type=invoice_type,
        currency="EUR",
        due_date=dt.date(2024, 3, 31),
        buyer_reference="40000695",
        order_reference=OrderReference(id="40000695", sales_order_id="SO-77"),
        billing_references=(
            (DocumentReference(id="F2024-0000", issue_date=dt.date(2024, 2, 1)),)
            if invoice_type is InvoiceType.CREDIT else ()
        ),
        seller=SUPPLIER,
        buyer=AGENCY,
        delivery=Delivery(date=dt.date(2024, 2, 28)),
        invoice_period=Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)),
        payment_means=(
            PaymentMeans(
                code="58", account_id="NL87ABNA0123456789", bic="ABNANL2A",
                payment_id="F2024-0001",
            ),
        ),
        payment_terms=PaymentTerms(note="30 dagen netto"),
        notes=("Omschrijving op de kop van de factuur",),
        attachments=(
            Attachment(
                content=b"%PDF-1.4 example", mime_type="application/pdf",
                filename="factuur.pdf",
            ),
        ),
        lines=example_invoice_lines(),
        allowance_charges=(
            AllowanceCharge(
                is_charge=False, amount=D("5.00"), reason="Kwantumkorting",
                vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            ),
            AllowanceCharge(
                is_charge=True, amount=D("2.50"), reason="Verzendkosten",
                vat_category=VatCategory.STANDARD, vat_rate=D("9"),
            ),
        ),
        prepaid=D("50.00"),
        rounding=D("0.05"),
        last_invoice_on_order=True,
    )


def example_credit_note() -> Invoice:
    return example_invoice(InvoiceType.CREDIT)


def example_order() -> Order:
    """Shaped like the OHNL 1.9 scenario 1 order: delivery on every line."""
    delivery = Delivery(
        period=Period(end=dt.date(2014, 10, 14)),
        address=Address(
            street="Anna van Hannoverstraat", building_number="4",
            address_line="3de etage groen", postal_zone="2595 BJ", city="Den Haag",
            country_code="NL",
        ),
        party_name="Pieter Post",
        contact=Contact(name="Pieter Post", email="Pieter@post.nl"),
    )
    return Order(
        number="40000695",
        issue_date=dt.date(2014, 10, 7),
        issue_time=dt.time(14, 11, 22),
        currency="EUR",
        buyer=AGENCY,
        seller=SUPPLIER,
        customer_reference="987654321",
        lines=(
            OrderLine(
                id="1.1.1", quantity=Quantity(value=D("1000.00"), unit_code="EA"),
                price=Price(
                    amount=D("3.27"), base_quantity=Quantity(value=D("1"), unit_code="EA")
                ),
                line_amount=D("3270.00"), vat_amount=D("686.70"),
                item=Item(
                    name="Pak potloden12 stuks", description="Pak potloden12 stuks",
                    seller_item_id="123456",
                ),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"), delivery=delivery,
            ),
            OrderLine(
                id="2.1.1", quantity=Quantity(value=D("10000.00"), unit_code="EA"),
                price=Price(amount=D("2.76")), line_amount=D("27600.00"),
                item=Item(name="Pak pennen 12 stuks", seller_item_id="98765"),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"), delivery=delivery,
            ),
        ),
        tax_breakdown=(
            TaxSubtotal(
                category=VatCategory.STANDARD, rate=D("21"), taxable_amount=D("30870.00"),
                tax_amount=D("6482.70"),
            ),
        ),
        totals=AnticipatedTotals(
            line_extension=D("30870.00"), tax_exclusive=D("30870.00"),
            tax_inclusive=D("37352.70"), payable=D("37352.70"),
        ),
    )


def example_order_response() -> OrderResponse:
    """The answer to :func:`example_order`: UBL-OHNL repeats the order's lines, so the
    gateway must know that order, and Peppol T76 needs the order's currency."""
    return OrderResponse(
        number="bev40000695",
        issue_date=dt.date(2014, 10, 8),
        order_reference=OrderReference(id="40000695", sales_order_id="SO-4711"),
        status=ResponseStatus.ACCEPTED_WITH_CHANGES,
        seller=SUPPLIER,
        buyer=AGENCY,
        currency="EUR",
        note="inhaalactie",
        line_responses=(
            LineResponse(line_id="1.1.1", status=LineStatus.ACCEPTED),
            LineResponse(
                line_id="2.1.1", status=LineStatus.CHANGED,
                quantity=Quantity(value=D("8000.00"), unit_code="EA"),
                delivery_date=dt.date(2014, 10, 16), note="8000 op voorraad",
            ),
        ),
    )


def example_request_for_quotation() -> RequestForQuotation:
    return RequestForQuotation(
        number="OAU123456",
        issue_date=dt.date(2010, 12, 31),
        issue_time=dt.time(10, 55, 23),
        currency="USD",
        buyer=AGENCY,
        seller=SUPPLIER,
        requested_validity=Period(start=dt.date(2010, 5, 15), end=dt.date(2010, 7, 14)),
        negotiation_style="S",
        notes=("inhaalactie",),
        lines=(
            RequestForQuotationLine(
                id="1", quantity=Quantity(value=D("10"), unit_code="C62"),
                item=Item(name="25488436", buyer_item_id="myart10"),
                references=(
                    DocumentReference(
                        id="665544", type_code="Contract",
                        attachment=Attachment(
                            content=bytes.fromhex("ff00"), mime_type="application/pdf",
                            filename="Specificaties.pdf",
                        ),
                    ),
                ),
            ),
        ),
    )


def example_quotation() -> Quotation:
    return Quotation(
        number="55889",
        issue_date=dt.date(2011, 1, 11),
        currency="EUR",
        rfq_reference="OAU123456",
        validity_period=Period(end=dt.date(2011, 3, 12)),
        seller=SUPPLIER,
        buyer=AGENCY,
        payment_terms=PaymentTerms(note="5 dagen 4% korting, 30 dagen netto"),
        # UBL-OHNL wants the delivery address and the promised period on the header or on
        # every line.
        delivery=Delivery(
            period=Period(end=dt.date(2011, 2, 15)),
            address=AGENCY.address,
        ),
        lines=(
            QuotationLine(
                id="100", quantity=Quantity(value=D("10"), unit_code="C62"),
                price=Price(amount=D("200.00")),
                item=Item(name="blauw potlood", buyer_item_id="myart10"),
                vat_category=VatCategory.STANDARD, vat_rate=D("21"),
            ),
        ),
        totals=AnticipatedTotals(tax_exclusive=D("2037.44"), payable=D("2556.99")),
    )


def example_rfq_cancellation() -> RequestForQuotationCancellation:
    return RequestForQuotationCancellation(
        number="451152455",
        issue_date=dt.date(2011, 2, 16),
        quotation_reference="55889",
        reason="te duur",
        buyer=AGENCY,
        seller=SUPPLIER,
        accounting_cost="458/8445/555",
    )


def example_staffing_order() -> StaffingOrder:
    return StaffingOrder(
        order_id="PO450012345",
        issue_date=dt.date(2011, 1, 20),
        order_type="order",
        order_status="new",
        master_order_id="C987",
        customer=AGENCY,
        supplier=SUPPLIER,
        contact=Contact(name="I.Nkoper"),
        position_description="schoonmaak",
        position_quantity=1,
        start_date=dt.date(2011, 3, 15),
        rates=(
            StaffingRate(
                order_line_id="1.1.1", amount=D("200"), currency="EUR", rate_type="pay",
                multiplier=D("100.00"), max_hours=D("400"), cost_centre="H4500123456",
            ),
        ),
        work_site=Address(
            street="afleverweg", building_number="2", postal_zone="B-1234",
            city="Belgieplaats", country_code="BE",
        ),
        shift_hours=D("50"),
        shift_period="weekly",
        cost_centre="H4500123456",
        offer_id="55889",
        inclusive_rate=True,
        notes=("inhuur LB",),
    )


def example_human_resource() -> HumanResource:
    return HumanResource(
        id="55844255",
        order_reference="45001577255",
        status=HumanResourceStatus.ACCEPTED,
        customer=AGENCY,
        supplier=SUPPLIER,
        candidate=Worker(name="Uit Zender"),
        availability=Period(start=dt.date(2011, 3, 15)),
        notes=("inhuur LB",),
    )


def example_timecard() -> TimeCard:
    """Shaped like the SETU-OHNL 2.0 scenario 3 timecard."""

    def day(
        d: int, kind: str, hours: str, multiplier: str, rate: str, line: str
    ) -> TimeInterval:
        return TimeInterval(
            id=f"1356{70 - d}", type=kind, start=dt.date(2014, 3, d), end=dt.date(2014, 3, d),
            hours=D(hours), multiplier=D(multiplier), rate=D(rate), rate_type="hourly",
            currency="EUR", order_line_reference=line,
            comment="Uren en ORT en OVW Teo Bakker, week 12-2014",
        )

    return TimeCard(
        id="135664",
        status=TimeCardStatus.APPROVED,
        order_reference="40002147",
        assignment_id="1234567",
        customer=AGENCY,
        supplier=SUPPLIER,
        worker=Worker(name="Bakker , T", id="2086707"),
        period=Period(start=dt.date(2014, 3, 17), end=dt.date(2014, 3, 23)),
        submitted_at=dt.datetime(2014, 10, 9, 16, 30, 16),
        intervals=(
            day(17, "Regular", "8.00", "100.00", "43.78", "1.1.1"),
            day(17, "Overtime", "2.00", "150.00", "34.34", "3.1.1"),
            day(18, "Regular", "8.00", "100.00", "43.78", "1.1.1"),
            TimeInterval(
                type="Shift", start=dt.datetime(2014, 3, 22, 22, 0),
                end=dt.datetime(2014, 3, 23, 6, 0), hours=D("8.00"), multiplier=D("150.00"),
                rate=D("40.63"), rate_type="hourlyconsolidated", currency="EUR",
                order_line_reference="2.1.1",
                approval=Approval(
                    approver="Pieter Post",
                    approved_at=dt.datetime(2014, 3, 24, 9, 0, tzinfo=dt.UTC),
                ),
            ),
        ),
        expenses=(
            TimeCardExpense(
                id="135664", type="Avondmaaltijd",
                period=Period(start=dt.date(2014, 3, 17), end=dt.date(2014, 3, 17)),
                amount=D("50.00"), currency="EUR", order_line_reference="4.1.1",
                comment="Opmerking: Kosten eten",
            ),
        ),
    )


def example_invoice_response() -> InvoiceResponse:
    """The agency queries the sample invoice: its order reference is wrong."""
    return InvoiceResponse(
        number="IR-2024-0031",
        issue_date=dt.date(2024, 3, 5),
        issue_time=dt.time(10, 15),
        note="Zie ons bericht van 4 maart",
        status=InvoiceStatus.UNDER_QUERY,
        effective_date=dt.date(2024, 3, 5),
        clarifications=(
            StatusClarification(
                code="REF", code_list="OPStatusReason", text="Ordernummer onbekend",
                conditions=(StatusCondition(attribute_id="BT-13", description="40000695"),),
            ),
            StatusClarification(code="NIN", code_list="OPStatusAction"),
        ),
        invoice_reference=DocumentReference(id="F2024-0001", type_code="380",
                                            issue_date=dt.date(2024, 3, 1)),
        sender=Party(registration_name=AGENCY.name, endpoint_id=AGENCY.endpoint_id,
                     contact=AGENCY.contact),
        receiver=Party(registration_name=SUPPLIER.registration_name,
                       endpoint_id=SUPPLIER.endpoint_id),
    )


def example_message_level_response() -> MessageLevelResponse:
    """The agency's access point could not process a document: one fatal rule broken."""
    return MessageLevelResponse(
        number="MLR-2024-0007",
        issue_date=dt.date(2024, 3, 1),
        issue_time=dt.time(16, 2, 11),
        status=MessageStatus.REJECTED,
        description="Afgewezen wegens validatiefouten",
        document_reference=DocumentReference(id="F2024-0001", type_code="380"),
        sender=Party(endpoint_id=AGENCY.endpoint_id),
        receiver=Party(endpoint_id=SUPPLIER.endpoint_id),
        line_responses=(
            MessageLineResponse(
                location="/Invoice/cac:AccountingCustomerParty[1]/cac:Party[1]/cbc:EndpointID[1]",
                description="[PEPPOL-EN16931-R020] Buyer electronic address MUST be provided",
                reason_code="BV", status=MessageStatus.REJECTED,
            ),
        ),
    )


def example_documents() -> list[CanonicalDocument]:
    """One hand-written example of every document kind (invoice and credit note both)."""
    return [
        example_invoice(),
        example_credit_note(),
        example_order(),
        example_order_response(),
        example_request_for_quotation(),
        example_quotation(),
        example_rfq_cancellation(),
        example_staffing_order(),
        example_human_resource(),
        example_timecard(),
        example_invoice_response(),
        example_message_level_response(),
    ]


def write_payloads(directory: Path) -> list[Path]:
    """Write every sample as canonical JSON into ``directory``; returns the files."""
    from gateway.model.json import dumps

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for document in example_documents():
        kind = kind_of(document).value
        path = directory / f"{kind}.json"
        path.write_text(dumps(document) + "\n", "utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    for path in write_payloads(args.write):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
