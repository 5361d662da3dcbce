"""Canonical documents the SETU-OHNL formats vouch for (the contract kit round-trips them).

Built from :mod:`gateway.model.samples`, trimmed to what SETU carries: the
parties are identified by id only, as in every SETU-OHNL message.
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
)
from gateway.model.samples import (
    example_human_resource,
    example_staffing_order,
    example_timecard,
)

AGENCY = Party(ids=(PartyId(scheme="OIN", value="00000002003182447001"),))
SUPPLIER = Party(
    ids=(PartyId(scheme="KvK", value="98765432"), PartyId(scheme="BTW", value="NL009876543B01")),
)


def timecard() -> TimeCard:
    """The model's scenario 3 timecard, its interval approval moved to the card.

    OHNL forbids ApprovalInfo on an interval; the agency approves the card.
    """
    card = example_timecard()
    approval = next(i.approval for i in card.intervals if i.approval is not None)
    return attrs.evolve(
        card, customer=AGENCY, supplier=SUPPLIER, approval=approval,
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
    name="Naam Overheidsorganisatie",
    ids=(PartyId(scheme="OIN", value="00000002003182447001"),),
    address=Address(
        address_line="Postbus 16056", city="'s-Gravenhage", postal_zone="2500 BB",
        country_code="NL",
    ),
    contact=Contact(name="I. Nkoper"),
)
INVOICE_SELLER = Party(
    name="Naam Leverancier BV",
    ids=(PartyId(scheme="KvK", value="98765432"),),
    vat_id="NL009876543B01",
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
    """Week 12 of the scenario 3 timecard invoiced: hours, overtime and a meal."""
    return Invoice.build(
        number="Factuurnummer2",
        issue_date=dt.date(2014, 10, 9),
        type=InvoiceType.DEBIT,
        type_code="hours",
        currency="EUR",
        due_date=dt.date(2014, 11, 8),
        payment_terms=PaymentTerms(note="30 dagen netto"),
        order_reference=OrderReference(id="40002147"),
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
            _hours("110", "Teo Bakker week 12 regular", "40.00", "43.78", "regular", "1.1.1"),
            _hours("310", "Teo Bakker week 12 overtime", "4.00", "51.51", "overtime", "3.1.1"),
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
        order_reference=OrderReference(id="40002147"),
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
    return attrs.evolve(
        example_human_resource(), customer=AGENCY, supplier=SUPPLIER, offer_id="55889",
        availability=Period(start=dt.date(2011, 3, 15), end=dt.date(2011, 12, 31)),
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
    """The model's example order, its rate trimmed to what SETU Rates carry."""
    order = example_staffing_order()
    return attrs.evolve(
        order, customer=AGENCY, supplier=SUPPLIER, end_date=dt.date(2011, 12, 31),
        contact=Contact(name="I. Nkoper", telephone="070 123 4567", email="inkoop@example.nl"),
        rates=tuple(
            attrs.evolve(rate, order_line_id=None, max_hours=None, cost_centre=None,
                         description="Uurtarief", start_date=dt.date(2011, 3, 15))
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
