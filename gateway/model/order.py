"""Purchase orders from an agency, and the supplier's response to them.

Orders arrive as UBL-OHNL 1.9 (BESTELLING-UBL) or Peppol BIS Ordering 3
(Basisorder Rijk); responses leave as OHNL OrderResponse or Peppol T76.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import attrs

from gateway.model.common import (
    Attachment,
    DocumentReference,
    OrderReference,
    Party,
    Period,
    Quantity,
)
from gateway.model.delivery import Delivery
from gateway.model.item import Item
from gateway.model.payment import PaymentTerms
from gateway.model.pricing import AllowanceCharge, AnticipatedTotals, Price
from gateway.model.record import Record
from gateway.model.shape import AT_LEAST_ONE, CURRENCY_CODE, NON_NEGATIVE
from gateway.model.tax import TaxSubtotal, VatCategory


@attrs.frozen(kw_only=True)
class OrderLine(Record):
    """One ordered item.

    ``line_amount`` is the line total without VAT when the order states one
    (Basisorder Rijk requires it); ``vat_amount`` the line VAT OHNL may state.
    ``partial_delivery_allowed`` is Peppol's PartialDeliveryIndicator.
    """

    id: str
    quantity: Quantity
    price: Price | None = None
    line_amount: Decimal | None = None
    item: Item
    vat_category: VatCategory | None = None
    vat_rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    vat_amount: Decimal | None = None
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    delivery: Delivery | None = None
    partial_delivery_allowed: bool | None = None
    accounting_cost: str | None = None
    notes: tuple[str, ...] = ()

    def _check(self) -> None:
        if self.quantity.value < 0:
            raise self._fail("quantity", f"must not be negative, got {self.quantity.value}")


@attrs.frozen(kw_only=True)
class Order(Record):
    """A purchase order from an agency (the buyer) to the supplier (the seller).

    ``order_type`` is the source's order type code, when it has one (Peppol
    OrderTypeCode, e.g. 220). ``invoicee`` is the party to send the invoice to
    when it is not the buyer (UBL AccountingCustomerParty).
    ``customer_reference`` is the buyer's own reference for the order;
    ``quotation_reference`` the quotation it accepts. ``totals`` and
    ``tax_breakdown`` are present only when the order states them.
    """

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    order_type: str | None = None
    currency: str = attrs.field(metadata=CURRENCY_CODE)
    buyer: Party
    seller: Party
    invoicee: Party | None = None
    buyer_reference: str | None = None
    customer_reference: str | None = None
    contract_reference: str | None = None
    quotation_reference: str | None = None
    project_reference: str | None = None
    other_references: tuple[DocumentReference, ...] = ()
    validity_period: Period | None = None
    delivery: Delivery | None = None
    payment_terms: PaymentTerms | None = None
    notes: tuple[str, ...] = ()
    accounting_cost: str | None = None
    attachments: tuple[Attachment, ...] = ()
    lines: tuple[OrderLine, ...] = attrs.field(metadata=AT_LEAST_ONE)
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    tax_breakdown: tuple[TaxSubtotal, ...] = ()
    totals: AnticipatedTotals | None = None

    def delivery_for(self, line: OrderLine) -> Delivery | None:
        """The delivery data that applies to ``line``: its own, else the order's."""
        return line.delivery if line.delivery is not None else self.delivery


class ResponseStatus(enum.StrEnum):
    """The supplier's answer to an order.

    Peppol T76 codes: AP accepted, CA accepted with changes, RE rejected, AB
    acknowledged (received, no decision yet). OHNL 1.9 can only accept, with
    changes to quantity and delivery date.
    """

    ACCEPTED = "accepted"
    ACCEPTED_WITH_CHANGES = "accepted-with-changes"
    REJECTED = "rejected"
    ACKNOWLEDGED = "acknowledged"


class LineStatus(enum.StrEnum):
    """The supplier's answer to one order line."""

    ACCEPTED = "accepted"
    CHANGED = "changed"
    REJECTED = "rejected"


@attrs.frozen(kw_only=True)
class LineResponse(Record):
    """The answer to one order line; changed values only where ``status`` is CHANGED."""

    line_id: str
    status: LineStatus
    quantity: Quantity | None = None
    delivery_date: dt.date | None = None
    delivery_period: Period | None = None
    note: str | None = None


@attrs.frozen(kw_only=True)
class OrderResponse(Record):
    """The supplier's answer to an order (OHNL BESTELLING-BEVESTIGING-UBL, Peppol T76).

    ``order_reference`` names the order (number and issue date) and carries
    the supplier's own sales order number in ``sales_order_id``. ``note`` is
    the reason for a rejection or change.
    """

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    order_reference: OrderReference
    status: ResponseStatus
    seller: Party
    buyer: Party
    currency: str | None = attrs.field(default=None, metadata=CURRENCY_CODE)
    note: str | None = None
    delivery: Delivery | None = None
    line_responses: tuple[LineResponse, ...] = ()
