"""Canonical documents the SETU-OHNL formats vouch for (the contract kit round-trips them).

Built from :mod:`gateway.model.samples`, trimmed to what SETU carries: the
parties are identified by id only, as in every SETU-OHNL message.

They tell one story, the one `make run` plays: the Digipoort simulator sends
the staffing order and its timecard from the agency examples/gateway.toml
routes SETU-OHNL over Digipoort (JenV) to the supplier it declares, and the
invoice bills what that timecard approved, on that order, so the gateway
takes it with the agency's checks set to refuse anything else.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from gateway.formats import Sample
from gateway.model import (
    Address,
    Contact,
    DocumentReference,
    HumanResource,
    HumanResourceStatus,
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
    StaffingOrder,
    TimeCard,
    VatCategory,
    Worker,
)
from gateway.model.samples import (
    example_human_resource,
    example_staffing_order,
    example_timecard,
)

AGENCY_OIN = "00000001007465075000"
SUPPLIER_KVK = "30097265"
SUPPLIER_VAT = "NL001427507B01"
# The staffing order's number, which its timecards and their invoice name.
ORDER_ID = "40002147"

AGENCY = Party(ids=(PartyId(scheme="OIN", value=AGENCY_OIN),))
SUPPLIER = Party(
    ids=(PartyId(scheme="KvK", value=SUPPLIER_KVK), PartyId(scheme="BTW", value=SUPPLIER_VAT)),
)


def timecard() -> TimeCard:
    """The model's scenario 3 timecard, its interval approval moved to the card.

    OHNL forbids ApprovalInfo on an interval; the agency approves the card.
    """
    card = example_timecard()
    approval = next(i.approval for i in card.intervals if i.approval is not None)
    return attrs.evolve(
        card, order_reference=ORDER_ID, customer=AGENCY, supplier=SUPPLIER, approval=approval,
        intervals=tuple(attrs.evolve(i, approval=None) for i in card.intervals),
    )


def minimal_timecard() -> TimeCard:
    """Little more than SETU requires: the order number, one unpaid interval without a rate."""
    full = timecard()
    return attrs.evolve(
        full, assignment_id=None, submitted_at=None, approval=None, expenses=(),
        intervals=(
            attrs.evolve(
                full.intervals[0], id=None, end=None, rate=None, multiplier=None,
                rate_type=None, currency=None, order_line_reference=None, comment=None,
                billable=False,
            ),
        ),
    )


def timecard_samples() -> list[Sample]:
    return [
        Sample(name="timecard-scenario-3", document=timecard()),
        Sample(name="timecard-minimal", document=minimal_timecard()),
    ]


INVOICE_BUYER = Party(
    name="Ministerie van Justitie en Veiligheid",
    ids=(PartyId(scheme="OIN", value=AGENCY_OIN),),
    address=Address(
        address_line="Postbus 16056", city="'s-Gravenhage", postal_zone="2500 BB",
        country_code="NL",
    ),
    contact=Contact(name="I. Nkoper"),
)
INVOICE_SELLER = Party(
    name="Naam Leverancier B.V.",
    ids=(PartyId(scheme="KvK", value=SUPPLIER_KVK),),
    vat_id=SUPPLIER_VAT,
    address=Address(
        address_line="Postbus 12345", city="Amsterdam", postal_zone="1000 AA",
        country_code="NL",
    ),
    contact=Contact(name="Jan Klaassen", telephone="(020) 132 45 67"),
)
WEEK_12 = Period(start=dt.date(2014, 3, 17), end=dt.date(2014, 3, 23))


def _hours(
    number: str, name: str, hours: str, rate: str, unit: str, order_line: str
) -> InvoiceLine:
    net = (Decimal(hours) * Decimal(rate)).quantize(Decimal("0.01"))
    return InvoiceLine(
        id=number, quantity=Quantity(value=Decimal(hours), unit_code=unit),
        price=Price(amount=Decimal(rate), base_quantity=Quantity(value=Decimal(1), unit_code=unit)),
        item=Item(name=name), vat_category=VatCategory.STANDARD, vat_rate=Decimal("21.00"),
        vat_amount=(net * Decimal("0.21")).quantize(Decimal("0.01")),
        order_line_reference=order_line, timecard_reference="135664", period=WEEK_12,
    )


def invoice() -> Invoice:
    """Week 12 of the scenario 3 timecard invoiced: its approved regular hours and
    overtime, and its meal (the shift may follow on another invoice)."""
    return Invoice.build(
        number="Factuurnummer2",
        issue_date=dt.date(2014, 10, 9),
        type=InvoiceType.DEBIT,
        type_code="hours",
        currency="EUR",
        due_date=dt.date(2014, 11, 8),
        payment_terms=PaymentTerms(note="30 dagen netto"),
        order_reference=OrderReference(id=ORDER_ID),
        accounting_cost="135664",
        project_reference="P-12",
        timecard_references=("135664",),
        seller=INVOICE_SELLER,
        buyer=INVOICE_BUYER,
        payment_means=(
            PaymentMeans(code="58", account_id="NL58ABNA0987654321", bic="ABNANL2A"),
        ),
        notes=("Omschrijving van de factuur op kop",),
        lines=(
            _hours("110", "Teo Bakker week 12 regular", "16.00", "43.78", "regular", "1.1.1"),
            _hours("310", "Teo Bakker week 12 overtime", "2.00", "51.51", "overtime", "3.1.1"),
            _hours("611", "Teo Bakker week 12 Maaltijd", "1.00", "50.00", "Maaltijd", "4.1.1"),
        ),
    )


def credit_note() -> Invoice:
    """A credit note for the regular hours, zero rated, without timecard or bank account."""
    line = attrs.evolve(
        invoice().lines[0], vat_category=VatCategory.ZERO_RATED, vat_rate=Decimal(0),
        vat_amount=Decimal("0.00"), timecard_reference=None, period=None,
    )
    return Invoice.build(
        number="Credit-1", issue_date=dt.date(2014, 10, 20), type=InvoiceType.CREDIT,
        type_code="services", currency="EUR",
        billing_references=(DocumentReference(id="Factuurnummer2"),),
        order_reference=OrderReference(id=ORDER_ID),
        seller=INVOICE_SELLER, buyer=INVOICE_BUYER,
        payee=attrs.evolve(INVOICE_SELLER, name="Factoring BV", contact=None),
        lines=(line,),
    )


def invoice_samples() -> list[Sample]:
    return [
        Sample(name="invoice-hours", document=invoice()),
        Sample(name="credit-note", document=credit_note()),
    ]


def human_resource() -> HumanResource:
    """The supplier takes on the sample staffing order with the worker of its timecard."""
    order = staffing_order()
    return attrs.evolve(
        example_human_resource(), order_reference=order.order_id, customer=AGENCY,
        supplier=SUPPLIER, offer_id=order.offer_id,
        candidate=Worker(name=timecard().worker.name),
        availability=Period(start=order.start_date, end=order.end_date),
    )


def rejection() -> HumanResource:
    return attrs.evolve(
        human_resource(), status=HumanResourceStatus.REJECTED, candidate=None,
        availability=None, offer_id=None, notes=("Geen kandidaat beschikbaar", "Excuses"),
    )


def human_resource_samples() -> list[Sample]:
    return [
        Sample(name="confirmation-accepted", document=human_resource()),
        Sample(name="confirmation-rejected", document=rejection()),
    ]


def staffing_order() -> StaffingOrder:
    """The model's example order, its rate trimmed to what SETU Rates carry.

    It is the order the sample timecard books on: its number, a period that
    holds the timecard's week, and the timecard's regular rate. SETU-OHNL 2.0
    Rates carry no order line, so the lines are the timecard's alone.
    """
    order = example_staffing_order()
    start = dt.date(2014, 3, 17)
    return attrs.evolve(
        order, order_id=ORDER_ID, issue_date=dt.date(2014, 2, 20), customer=AGENCY,
        supplier=SUPPLIER, start_date=start, end_date=dt.date(2014, 12, 31),
        contact=Contact(name="I. Nkoper", telephone="070 123 4567", email="inkoop@example.nl"),
        rates=tuple(
            attrs.evolve(rate, order_line_id=None, max_hours=None, cost_centre=None,
                         amount=Decimal("43.78"), description="Uurtarief", start_date=start)
            for rate in order.rates
        ),
    )


def minimal_staffing_order() -> StaffingOrder:
    return StaffingOrder(
        order_id="PO1", order_type="order", order_status="new", customer=AGENCY,
        supplier=SUPPLIER, contact=Contact(name="I. Nkoper"), position_quantity=1,
        start_date=dt.date(2011, 3, 15), shift_hours=Decimal(40), shift_period="weekly",
    )


def staffing_order_samples() -> list[Sample]:
    return [
        Sample(name="staffing-order", document=staffing_order()),
        Sample(name="staffing-order-minimal", document=minimal_staffing_order()),
    ]
