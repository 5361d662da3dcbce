"""The canonical model: every document the gateway handles, independent of its standard.

Formats decode into these classes and encode from them; the store keeps them
as JSON (:mod:`gateway.model.json`), described by JSON Schema
(:mod:`gateway.model.jsonschema`). All classes are frozen attrs classes with
keyword-only constructors that check their fields when made: money is
``Decimal`` (a float is refused), repeated values are tuples, absent values
``None``.
"""

from gateway.model.common import (
    Address,
    Attachment,
    Contact,
    DocumentReference,
    OrderReference,
    Party,
    PartyId,
    Period,
    Quantity,
)
from gateway.model.delivery import Delivery, DeliveryTerms
from gateway.model.documents import (
    DOCUMENT_CLASSES,
    CanonicalDocument,
    document_class,
    kind_of,
)
from gateway.model.invoice import (
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    InvoiceType,
    RuleViolation,
    compute_totals,
    expected_line_net_amount,
)
from gateway.model.item import Item, ItemClassification, ItemProperty, StandardItemId
from gateway.model.order import (
    LineResponse,
    LineStatus,
    Order,
    OrderLine,
    OrderResponse,
    ResponseStatus,
)
from gateway.model.payment import PaymentMeans, PaymentTerms
from gateway.model.pricing import AllowanceCharge, AnticipatedTotals, Price
from gateway.model.quotation import (
    Quotation,
    QuotationLine,
    RequestForQuotation,
    RequestForQuotationCancellation,
    RequestForQuotationLine,
)
from gateway.model.record import FieldProblem, FieldTypeError, FieldValueError, Record
from gateway.model.responses import (
    InvoiceResponse,
    InvoiceStatus,
    MessageLevelResponse,
    MessageLineResponse,
    MessageStatus,
    StatusClarification,
    StatusCondition,
)
from gateway.model.staffing import (
    HumanResource,
    HumanResourceStatus,
    StaffingOrder,
    StaffingRate,
    Worker,
)
from gateway.model.tax import (
    TaxSubtotal,
    VatCategory,
    VatExemption,
    line_net_amount,
    round_amount,
    vat_amount,
    vat_breakdown,
)
from gateway.model.timecard import (
    Approval,
    TimeCard,
    TimeCardAction,
    TimeCardExpense,
    TimeCardStatus,
    TimeInterval,
)

__all__ = [
    "DOCUMENT_CLASSES",
    "Address",
    "AllowanceCharge",
    "AnticipatedTotals",
    "Approval",
    "Attachment",
    "CanonicalDocument",
    "Contact",
    "Delivery",
    "DeliveryTerms",
    "DocumentReference",
    "FieldProblem",
    "FieldTypeError",
    "FieldValueError",
    "HumanResource",
    "HumanResourceStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceResponse",
    "InvoiceStatus",
    "InvoiceTotals",
    "InvoiceType",
    "Item",
    "ItemClassification",
    "ItemProperty",
    "LineResponse",
    "LineStatus",
    "MessageLevelResponse",
    "MessageLineResponse",
    "MessageStatus",
    "Order",
    "OrderLine",
    "OrderReference",
    "OrderResponse",
    "Party",
    "PartyId",
    "PaymentMeans",
    "PaymentTerms",
    "Period",
    "Price",
    "Quantity",
    "Quotation",
    "QuotationLine",
    "Record",
    "RequestForQuotation",
    "RequestForQuotationCancellation",
    "RequestForQuotationLine",
    "ResponseStatus",
    "RuleViolation",
    "StaffingOrder",
    "StaffingRate",
    "StandardItemId",
    "StatusClarification",
    "StatusCondition",
    "TaxSubtotal",
    "TimeCard",
    "TimeCardAction",
    "TimeCardExpense",
    "TimeCardStatus",
    "TimeInterval",
    "VatCategory",
    "VatExemption",
    "Worker",
    "compute_totals",
    "document_class",
    "expected_line_net_amount",
    "kind_of",
    "line_net_amount",
    "round_amount",
    "vat_amount",
    "vat_breakdown",
]
