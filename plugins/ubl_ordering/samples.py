"""Sample orders and order responses for the contract kit, built in code.

The orders are Basisorder Rijk shaped (buyer OIN under 0190 as address and
legal id, a buyer contact, line amounts and prices), so they pass T01 and
the Rijk rules both; the responses cover every T76 response code, every
T111 invoice status and the T71 codes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from gateway.model import (
    Address,
    AllowanceCharge,
    AnticipatedTotals,
    Contact,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    InvoiceResponse,
    InvoiceStatus,
    Item,
    ItemClassification,
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
    PaymentTerms,
    Period,
    Price,
    Quantity,
    ResponseStatus,
    StandardItemId,
    StatusClarification,
    StatusCondition,
    VatCategory,
)

# The agency examples/gateway.toml routes Peppol BIS orders and invoices for
# (RVO), and the supplier it declares: the Peppol simulator sends these orders
# to `make run`'s gateway, which must route each to its agency's Peppol route.
AGENCY_OIN = "00000001009898347000"
SUPPLIER_KVK = "30097265"

AGENCY = Party(
    name="Rijksdienst voor Ondernemend Nederland",
    registration_name="Rijksdienst voor Ondernemend Nederland",
    legal_id=PartyId(scheme="0190", value=AGENCY_OIN),
    address=Address(street="Anna van Hannoverstraat 4", postal_zone="2595 BJ",
                    city="Den Haag", country_code="NL"),
    contact=Contact(name="Pieter Post", telephone="+31 70 000 0000", email="inkoop@example.nl"),
    endpoint_id=PartyId(scheme="0190", value=AGENCY_OIN),
)

SUPPLIER = Party(
    name="Naam Leverancier BV",
    registration_name="Naam Leverancier B.V.",
    ids=(PartyId(scheme="0106", value=SUPPLIER_KVK),),
    legal_id=PartyId(scheme="0106", value=SUPPLIER_KVK),
    address=Address(street="PietjePukstraat 7A", postal_zone="1234 AA", city="Den Haag",
                    country_code="NL"),
    contact=Contact(name="Jan Klaassen", email="jan@example.nl"),
    endpoint_id=PartyId(scheme="0106", value=SUPPLIER_KVK),
)


def basisorder_rijk() -> Order:
    """A Basisorder Rijk order: two lines, delivery, terms and anticipated totals."""
    return Order(
        number="4500012345",
        issue_date=dt.date(2026, 3, 2),
        issue_time=dt.time(9, 30),
        order_type="220",
        currency="EUR",
        buyer=AGENCY,
        seller=SUPPLIER,
        customer_reference="INK-2026-0042",
        contract_reference="CTR-2025-17",
        quotation_reference="OFF-881",
        project_reference="PRJ-7",
        validity_period=Period(end=dt.date(2026, 3, 31)),
        delivery=Delivery(
            period=Period(start=dt.date(2026, 3, 16), end=dt.date(2026, 3, 20)),
            address=Address(street="Korte Voorhout 7", postal_zone="2511 CW", city="Den Haag",
                            country_code="NL"),
            location_id=PartyId(scheme="0088", value="8712345000004"),
            party_name="Facilitair bedrijf",
            contact=Contact(name="Magazijn", telephone="+31 70 111 1111"),
            terms=DeliveryTerms(code="DAP", description="Afleveren bij de laadperron"),
        ),
        payment_terms=PaymentTerms(note="30 dagen na ontvangst factuur"),
        notes=("Levering tussen 8:00 en 16:00",),
        accounting_cost="KPL-1234",
        lines=(
            OrderLine(
                id="1", quantity=Quantity(value=Decimal("10"), unit_code="EA"),
                price=Price(amount=Decimal("24.50"), base_quantity=Quantity(
                    value=Decimal("1"), unit_code="EA")),
                line_amount=Decimal("245.00"),
                item=Item(name="Bureaustoel", description="Ergonomische bureaustoel",
                          seller_item_id="BS-100", buyer_item_id="ART-77",
                          standard_item_id=StandardItemId(scheme="0160", value="8712345000011"),
                          classifications=(ItemClassification(code="56112102", list_id="MP"),)),
                vat_category=VatCategory.STANDARD, vat_rate=Decimal("21"),
                partial_delivery_allowed=False,
                notes=("Kleur zwart",),
            ),
            OrderLine(
                id="2", quantity=Quantity(value=Decimal("4"), unit_code="HUR"),
                price=Price(amount=Decimal("95.00")),
                line_amount=Decimal("380.00"),
                item=Item(name="Montage"),
                vat_category=VatCategory.STANDARD, vat_rate=Decimal("21"),
                delivery=Delivery(date=dt.date(2026, 3, 18)),
                accounting_cost="KPL-5678",
            ),
        ),
        allowance_charges=(
            AllowanceCharge(is_charge=True, amount=Decimal("25.00"), reason="Bezorgkosten",
                            reason_code="DL", vat_category=VatCategory.STANDARD,
                            vat_rate=Decimal("21")),
        ),
        totals=AnticipatedTotals(
            line_extension=Decimal("625.00"), charge_total=Decimal("25.00"),
            tax_exclusive=Decimal("650.00"), tax_total=Decimal("136.50"),
            tax_inclusive=Decimal("786.50"), payable=Decimal("786.50"),
        ),
    )


def minimal_order() -> Order:
    """As little as Basisorder Rijk accepts: one line with its amount and price."""
    return Order(
        number="4500012346",
        issue_date=dt.date(2026, 3, 3),
        currency="EUR",
        # Optional in T01, but it warns (PEPPOL-T01-R002) when an order does not say.
        validity_period=Period(end=dt.date(2026, 4, 3)),
        buyer=AGENCY,
        seller=Party(registration_name="Naam Leverancier B.V.",
                     address=Address(country_code="NL"),
                     endpoint_id=PartyId(scheme="9944", value="NL001427507B01")),
        lines=(
            OrderLine(id="1", quantity=Quantity(value=Decimal("2"), unit_code="EA"),
                      price=Price(amount=Decimal("12.50")), line_amount=Decimal("25.00"),
                      item=Item(name="Toner")),
        ),
    )


def sample_orders() -> list[tuple[str, Order]]:
    return [("Basisorder Rijk", basisorder_rijk()), ("minimal Basisorder Rijk", minimal_order())]


def _response(status: ResponseStatus, *lines: LineResponse) -> OrderResponse:
    code = {"accepted": "ap", "accepted-with-changes": "ca", "rejected": "re",
            "acknowledged": "ab"}[status.value]
    return OrderResponse(
        number=f"OR-{code.upper()}-1",
        issue_date=dt.date(2026, 3, 3),
        issue_time=dt.time(14, 5),
        order_reference=OrderReference(id="4500012345", sales_order_id="SO-991"),
        status=status,
        # T76 parties hold only the address, identifiers and legal name.
        seller=Party(registration_name=SUPPLIER.registration_name, ids=SUPPLIER.ids,
                     endpoint_id=SUPPLIER.endpoint_id),
        buyer=Party(registration_name=AGENCY.registration_name, endpoint_id=AGENCY.endpoint_id),
        currency="EUR",
        note="Levering week 12" if status is not ResponseStatus.REJECTED else "Niet leverbaar",
        delivery=Delivery(period=Period(start=dt.date(2026, 3, 16), end=dt.date(2026, 3, 20)))
        if status is ResponseStatus.ACCEPTED else None,
        line_responses=lines,
    )


def sample_responses() -> list[tuple[str, OrderResponse]]:
    changed = (
        LineResponse(line_id="1", status=LineStatus.CHANGED,
                     quantity=Quantity(value=Decimal("8"), unit_code="EA"),
                     delivery_date=dt.date(2026, 3, 23), note="Nog 8 op voorraad"),
        LineResponse(line_id="2", status=LineStatus.ACCEPTED),
        LineResponse(line_id="3", status=LineStatus.REJECTED, note="Uit assortiment"),
        LineResponse(line_id="4", status=LineStatus.CHANGED,
                     delivery_period=Period(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 3))),
    )
    return [
        ("accepted (AP)", _response(ResponseStatus.ACCEPTED)),
        ("accepted with changes (CA)", _response(ResponseStatus.ACCEPTED_WITH_CHANGES, *changed)),
        ("rejected (RE)", _response(ResponseStatus.REJECTED)),
        ("acknowledged (AB)", _response(ResponseStatus.ACKNOWLEDGED)),
    ]


# -- Invoice Responses (T111) and Message Level Responses (T71) ------------------------------

_AGENCY_SENDER = Party(registration_name=AGENCY.registration_name,
                       endpoint_id=AGENCY.endpoint_id, contact=AGENCY.contact)
_SUPPLIER_RECEIVER = Party(registration_name=SUPPLIER.registration_name,
                           ids=SUPPLIER.ids, endpoint_id=SUPPLIER.endpoint_id)
_CLARIFICATIONS = {
    InvoiceStatus.UNDER_QUERY: (
        StatusClarification(code="REF", code_list="OPStatusReason",
                            text="Ordernummer ontbreekt",
                            conditions=(StatusCondition(attribute_id="BT-13"),)),
        StatusClarification(code="NOA", code_list="OPStatusAction"),
    ),
    InvoiceStatus.CONDITIONALLY_ACCEPTED: (
        StatusClarification(code="PRI", code_list="OPStatusReason",
                            text="Prijs regel 2 wijkt af van het contract",
                            conditions=(StatusCondition(attribute_id="BT-146",
                                                        description="90.00"),)),
    ),
    InvoiceStatus.REJECTED: (
        StatusClarification(code="REF", code_list="OPStatusReason"),
        StatusClarification(code="NIN", code_list="OPStatusAction"),
    ),
    InvoiceStatus.PAID: (
        StatusClarification(code="PPD", code_list="OPStatusReason",
                            text="Betaald onder aftrek van 2% korting"),
    ),
}


def invoice_response(status: InvoiceStatus, invoice_number: str = "F2026-0042",
                     invoice_date: dt.date = dt.date(2026, 3, 2)) -> InvoiceResponse:
    """An agency's T111 status of one of our invoices, with the reasons T111 asks for."""
    code = {InvoiceStatus.ACKNOWLEDGED: "AB", InvoiceStatus.IN_PROCESS: "IP",
            InvoiceStatus.UNDER_QUERY: "UQ", InvoiceStatus.CONDITIONALLY_ACCEPTED: "CA",
            InvoiceStatus.REJECTED: "RE", InvoiceStatus.ACCEPTED: "AP",
            InvoiceStatus.PAID: "PD"}[status]
    return InvoiceResponse(
        number=f"IR-{code}-{invoice_number}",
        issue_date=dt.date(2026, 3, 9),
        issue_time=dt.time(11, 0) if status is InvoiceStatus.PAID else None,
        note="Vragen? Bel de crediteurenadministratie" if status is InvoiceStatus.UNDER_QUERY
        else None,
        status=status,
        effective_date=dt.date(2026, 3, 9) if status is InvoiceStatus.PAID else None,
        clarifications=_CLARIFICATIONS.get(status, ()),
        invoice_reference=DocumentReference(id=invoice_number, type_code="380",
                                            issue_date=invoice_date),
        sender=_AGENCY_SENDER,
        receiver=_SUPPLIER_RECEIVER,
    )


def sample_invoice_responses() -> list[tuple[str, InvoiceResponse]]:
    return [(f"{status.value}", invoice_response(status)) for status in InvoiceStatus]


def sample_message_responses() -> list[tuple[str, MessageLevelResponse]]:
    sender = Party(endpoint_id=AGENCY.endpoint_id)
    receiver = Party(endpoint_id=SUPPLIER.endpoint_id)
    rejected = MessageLevelResponse(
        number="MLR-1", issue_date=dt.date(2026, 3, 2), issue_time=dt.time(9, 31, 5),
        status=MessageStatus.REJECTED, description="Document afgewezen: validatiefouten",
        document_reference=DocumentReference(id="F2026-0042", type_code="380"),
        document_version="2.1",
        sender=sender, receiver=receiver,
        line_responses=(
            MessageLineResponse(
                location="/Invoice/cac:AccountingCustomerParty[1]/cac:Party[1]",
                description="[BR-NL-1] Het OIN van de afnemer ontbreekt",
                reason_code="BV", status=MessageStatus.REJECTED),
            MessageLineResponse(location="/Invoice/cbc:Note[1]",
                                description="[PEPPOL-EN16931-R008] Lege notitie",
                                reason_code="BW"),
        ),
    )
    accepted = MessageLevelResponse(
        number="MLR-2", issue_date=dt.date(2026, 3, 2), status=MessageStatus.ACCEPTED,
        document_reference=DocumentReference(id="1d7a1c0e-5a4e-4f0b-9a43-0d6f0e6b7c11"),
        sender=sender, receiver=receiver)
    acknowledged = attrs.evolve(accepted, number="MLR-3", status=MessageStatus.ACKNOWLEDGED)
    return [("rejected (RE)", rejected), ("accepted (AP)", accepted),
            ("acknowledged (AB)", acknowledged)]
