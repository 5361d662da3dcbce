"""The canonical documents: which class holds which document kind.

Every document kind the gateway routes has one class here. Invoices and
credit notes share :class:`~gateway.model.invoice.Invoice`; ``type`` tells
them apart, and :func:`kind_of` gives the kind routing uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

from gateway.kinds import DocumentKind
from gateway.model.invoice import Invoice
from gateway.model.order import Order, OrderResponse
from gateway.model.quotation import Quotation, RequestForQuotation, RequestForQuotationCancellation
from gateway.model.responses import InvoiceResponse, MessageLevelResponse
from gateway.model.staffing import HumanResource, StaffingOrder
from gateway.model.timecard import TimeCard

CanonicalDocument: TypeAlias = (
    Invoice
    | Order
    | OrderResponse
    | RequestForQuotation
    | Quotation
    | RequestForQuotationCancellation
    | StaffingOrder
    | HumanResource
    | TimeCard
    | InvoiceResponse
    | MessageLevelResponse
)
"""Any document of the canonical model."""

DOCUMENT_CLASSES: Mapping[DocumentKind, type[CanonicalDocument]] = {
    DocumentKind.INVOICE: Invoice,
    DocumentKind.CREDIT_NOTE: Invoice,
    DocumentKind.ORDER: Order,
    DocumentKind.ORDER_RESPONSE: OrderResponse,
    DocumentKind.STAFFING_ORDER: StaffingOrder,
    DocumentKind.HUMAN_RESOURCE: HumanResource,
    DocumentKind.TIMECARD: TimeCard,
    DocumentKind.REQUEST_FOR_QUOTATION: RequestForQuotation,
    DocumentKind.QUOTATION: Quotation,
    DocumentKind.REQUEST_FOR_QUOTATION_CANCELLATION: RequestForQuotationCancellation,
    DocumentKind.INVOICE_RESPONSE: InvoiceResponse,
    DocumentKind.MESSAGE_LEVEL_RESPONSE: MessageLevelResponse,
}
"""The class holding each document kind that has a canonical form."""

_KIND_OF_CLASS: dict[type, DocumentKind] = {
    cls: kind for kind, cls in DOCUMENT_CLASSES.items() if kind is not DocumentKind.CREDIT_NOTE
}


def kind_of(document: CanonicalDocument) -> DocumentKind:
    """The document kind of ``document``: an Invoice of type credit is a credit note."""
    if isinstance(document, Invoice) and document.is_credit:
        return DocumentKind.CREDIT_NOTE
    try:
        return _KIND_OF_CLASS[type(document)]
    except KeyError:
        raise TypeError(f"not a canonical document: {type(document).__name__}") from None


def document_class(kind: DocumentKind) -> type[CanonicalDocument]:
    """The class that holds documents of ``kind``; ValueError for kinds without one."""
    try:
        return DOCUMENT_CLASSES[kind]
    except KeyError:
        known = ", ".join(k.value for k in DOCUMENT_CLASSES)
        raise ValueError(
            f"document kind {kind.value!r} has no canonical model; kinds with one: {known}"
        ) from None
