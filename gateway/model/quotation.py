"""The UBL-OHNL 1.8 quote flow: request for quotation, quotation, cancellation.

The flow was suspended in OHNL 1.9 but agencies on 1.8 may still use it:
the agency asks (OFFERTE-AANVRAAG-UBL), the supplier quotes (OFFERTE-UBL),
the agency may cancel or reject (AFWIJZING-UBL).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from gateway.model.common import Attachment, DocumentReference, Party, Period, Quantity
from gateway.model.delivery import Delivery
from gateway.model.item import Item
from gateway.model.payment import PaymentTerms
from gateway.model.pricing import AllowanceCharge, AnticipatedTotals, Price
from gateway.model.record import Record
from gateway.model.shape import AT_LEAST_ONE, CURRENCY_CODE, NON_NEGATIVE
from gateway.model.tax import TaxSubtotal, VatCategory


@attrs.frozen(kw_only=True)
class RequestForQuotationLine(Record):
    """One item the agency asks a price for; ``references`` may embed specifications."""

    id: str
    quantity: Quantity
    item: Item
    delivery: Delivery | None = None
    accounting_cost: str | None = None
    notes: tuple[str, ...] = ()
    references: tuple[DocumentReference, ...] = ()

    def _check(self) -> None:
        if self.quantity.value < 0:
            raise self._fail("quantity", f"must not be negative, got {self.quantity.value}")


@attrs.frozen(kw_only=True)
class RequestForQuotation(Record):
    """An agency's request for a quotation.

    ``currency`` is the currency prices are wanted in (PricingCurrencyCode),
    ``requested_validity`` how long the quotation should hold (OHNL
    RequestedValidityPeriod), ``negotiation_style`` the OHNL code E (simple)
    or S (standard).
    """

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    currency: str | None = attrs.field(default=None, metadata=CURRENCY_CODE)
    buyer: Party
    seller: Party
    requested_validity: Period | None = None
    negotiation_style: str | None = None
    delivery: Delivery | None = None
    notes: tuple[str, ...] = ()
    accounting_cost: str | None = None
    attachments: tuple[Attachment, ...] = ()
    lines: tuple[RequestForQuotationLine, ...] = attrs.field(metadata=AT_LEAST_ONE)


@attrs.frozen(kw_only=True)
class QuotationLine(Record):
    """One quoted item; ``rfq_line_reference`` is the request line it answers."""

    id: str
    quantity: Quantity
    price: Price | None = None
    line_amount: Decimal | None = None
    item: Item
    vat_category: VatCategory | None = None
    vat_rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    delivery: Delivery | None = None
    rfq_line_reference: str | None = None
    accounting_cost: str | None = None
    notes: tuple[str, ...] = ()
    references: tuple[DocumentReference, ...] = ()

    def _check(self) -> None:
        if self.quantity.value < 0:
            raise self._fail("quantity", f"must not be negative, got {self.quantity.value}")


@attrs.frozen(kw_only=True)
class Quotation(Record):
    """The supplier's quotation in answer to a request (``rfq_reference``)."""

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    currency: str = attrs.field(metadata=CURRENCY_CODE)
    rfq_reference: str
    validity_period: Period | None = None
    seller: Party
    buyer: Party
    delivery: Delivery | None = None
    payment_terms: PaymentTerms | None = None
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    lines: tuple[QuotationLine, ...] = attrs.field(metadata=AT_LEAST_ONE)
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    tax_breakdown: tuple[TaxSubtotal, ...] = ()
    totals: AnticipatedTotals | None = None


@attrs.frozen(kw_only=True)
class RequestForQuotationCancellation(Record):
    """The agency withdraws a request or turns down a quotation (OHNL AFWIJZING-UBL).

    It names the request, the quotation, or both; ``reason`` is the
    RejectionNote (e.g. "te duur").
    """

    number: str
    issue_date: dt.date
    rfq_reference: str | None = None
    quotation_reference: str | None = None
    reason: str | None = None
    buyer: Party
    seller: Party
    accounting_cost: str | None = None

    def _check(self) -> None:
        if self.rfq_reference is None and self.quotation_reference is None:
            raise self._fail(
                "rfq_reference", "a cancellation names the request, the quotation or both"
            )
