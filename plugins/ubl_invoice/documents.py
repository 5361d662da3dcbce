"""The two UBL 2.1 document types an EN 16931 invoice is written in, and where they differ.

The element sequences are those of the UBL 2.1 schemas (``UBL-Invoice-2.1.xsd``,
``UBL-CreditNote-2.1.xsd`` and the line types in the common aggregate
components). Invoice and CreditNote look alike but are not: the credit note
has its type code after TaxPointDate, no DueDate and no ProjectReference,
another order of the document references, and TaxTotal before AllowanceCharge
on a line.
"""

from __future__ import annotations

import attrs

from gateway.kinds import DocumentKind
from plugins.ubl import document_namespace

_INVOICE_SEQUENCE = (
    "ext:UBLExtensions", "cbc:UBLVersionID", "cbc:CustomizationID", "cbc:ProfileID",
    "cbc:ProfileExecutionID", "cbc:ID", "cbc:CopyIndicator", "cbc:UUID", "cbc:IssueDate",
    "cbc:IssueTime", "cbc:DueDate", "cbc:InvoiceTypeCode", "cbc:Note", "cbc:TaxPointDate",
    "cbc:DocumentCurrencyCode", "cbc:TaxCurrencyCode", "cbc:PricingCurrencyCode",
    "cbc:PaymentCurrencyCode", "cbc:PaymentAlternativeCurrencyCode", "cbc:AccountingCostCode",
    "cbc:AccountingCost", "cbc:LineCountNumeric", "cbc:BuyerReference", "cac:InvoicePeriod",
    "cac:OrderReference", "cac:BillingReference", "cac:DespatchDocumentReference",
    "cac:ReceiptDocumentReference", "cac:StatementDocumentReference",
    "cac:OriginatorDocumentReference", "cac:ContractDocumentReference",
    "cac:AdditionalDocumentReference", "cac:ProjectReference", "cac:Signature",
    "cac:AccountingSupplierParty", "cac:AccountingCustomerParty", "cac:PayeeParty",
    "cac:BuyerCustomerParty", "cac:SellerSupplierParty", "cac:TaxRepresentativeParty",
    "cac:Delivery", "cac:DeliveryTerms", "cac:PaymentMeans", "cac:PaymentTerms",
    "cac:PrepaidPayment", "cac:AllowanceCharge", "cac:TaxExchangeRate",
    "cac:PricingExchangeRate", "cac:PaymentExchangeRate", "cac:PaymentAlternativeExchangeRate",
    "cac:TaxTotal", "cac:WithholdingTaxTotal", "cac:LegalMonetaryTotal", "cac:InvoiceLine",
)

_CREDIT_NOTE_SEQUENCE = (
    "ext:UBLExtensions", "cbc:UBLVersionID", "cbc:CustomizationID", "cbc:ProfileID",
    "cbc:ProfileExecutionID", "cbc:ID", "cbc:CopyIndicator", "cbc:UUID", "cbc:IssueDate",
    "cbc:IssueTime", "cbc:TaxPointDate", "cbc:CreditNoteTypeCode", "cbc:Note",
    "cbc:DocumentCurrencyCode", "cbc:TaxCurrencyCode", "cbc:PricingCurrencyCode",
    "cbc:PaymentCurrencyCode", "cbc:PaymentAlternativeCurrencyCode", "cbc:AccountingCostCode",
    "cbc:AccountingCost", "cbc:LineCountNumeric", "cbc:BuyerReference", "cac:InvoicePeriod",
    "cac:DiscrepancyResponse", "cac:OrderReference", "cac:BillingReference",
    "cac:DespatchDocumentReference", "cac:ReceiptDocumentReference",
    "cac:ContractDocumentReference", "cac:AdditionalDocumentReference",
    "cac:StatementDocumentReference", "cac:OriginatorDocumentReference", "cac:Signature",
    "cac:AccountingSupplierParty", "cac:AccountingCustomerParty", "cac:PayeeParty",
    "cac:BuyerCustomerParty", "cac:SellerSupplierParty", "cac:TaxRepresentativeParty",
    "cac:Delivery", "cac:DeliveryTerms", "cac:PaymentMeans", "cac:PaymentTerms",
    "cac:TaxExchangeRate", "cac:PricingExchangeRate", "cac:PaymentExchangeRate",
    "cac:PaymentAlternativeExchangeRate", "cac:AllowanceCharge", "cac:TaxTotal",
    "cac:LegalMonetaryTotal", "cac:CreditNoteLine",
)

_INVOICE_LINE_SEQUENCE = (
    "cbc:ID", "cbc:UUID", "cbc:Note", "cbc:InvoicedQuantity", "cbc:LineExtensionAmount",
    "cbc:TaxPointDate", "cbc:AccountingCostCode", "cbc:AccountingCost",
    "cbc:PaymentPurposeCode", "cbc:FreeOfChargeIndicator", "cac:InvoicePeriod",
    "cac:OrderLineReference", "cac:DespatchLineReference", "cac:ReceiptLineReference",
    "cac:BillingReference", "cac:DocumentReference", "cac:PricingReference",
    "cac:OriginatorParty", "cac:Delivery", "cac:PaymentTerms", "cac:AllowanceCharge",
    "cac:TaxTotal", "cac:WithholdingTaxTotal", "cac:Item", "cac:Price", "cac:DeliveryTerms",
    "cac:SubInvoiceLine", "cac:ItemPriceExtension",
)

_CREDIT_NOTE_LINE_SEQUENCE = (
    "cbc:ID", "cbc:UUID", "cbc:Note", "cbc:CreditedQuantity", "cbc:LineExtensionAmount",
    "cbc:TaxPointDate", "cbc:AccountingCostCode", "cbc:AccountingCost",
    "cbc:PaymentPurposeCode", "cbc:FreeOfChargeIndicator", "cac:InvoicePeriod",
    "cac:OrderLineReference", "cac:DiscrepancyResponse", "cac:DespatchLineReference",
    "cac:ReceiptLineReference", "cac:BillingReference", "cac:DocumentReference",
    "cac:PricingReference", "cac:OriginatorParty", "cac:Delivery", "cac:PaymentTerms",
    "cac:TaxTotal", "cac:AllowanceCharge", "cac:Item", "cac:Price", "cac:DeliveryTerms",
    "cac:SubCreditNoteLine", "cac:ItemPriceExtension",
)


@attrs.frozen
class UBLDocumentType:
    """Names and sequences of one UBL 2.1 document type as EN 16931 uses it."""

    kind: DocumentKind
    root: str
    type_code: str
    default_type_code: str
    line: str
    quantity: str
    sequence: tuple[str, ...]
    line_sequence: tuple[str, ...]
    xsd: str

    @property
    def namespace(self) -> str:
        return document_namespace(self.root)

    @property
    def tag(self) -> str:
        return f"{{{self.namespace}}}{self.root}"

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


INVOICE = UBLDocumentType(
    kind=DocumentKind.INVOICE,
    root="Invoice",
    type_code="cbc:InvoiceTypeCode",
    default_type_code="380",  # commercial invoice
    line="cac:InvoiceLine",
    quantity="cbc:InvoicedQuantity",
    sequence=_INVOICE_SEQUENCE,
    line_sequence=_INVOICE_LINE_SEQUENCE,
    xsd="oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-Invoice-2.1.xsd",
)

CREDIT_NOTE = UBLDocumentType(
    kind=DocumentKind.CREDIT_NOTE,
    root="CreditNote",
    type_code="cbc:CreditNoteTypeCode",
    default_type_code="381",  # credit note
    line="cac:CreditNoteLine",
    quantity="cbc:CreditedQuantity",
    sequence=_CREDIT_NOTE_SEQUENCE,
    line_sequence=_CREDIT_NOTE_LINE_SEQUENCE,
    xsd="oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-CreditNote-2.1.xsd",
)


def document_type(kind: DocumentKind) -> UBLDocumentType:
    return CREDIT_NOTE if kind is DocumentKind.CREDIT_NOTE else INVOICE
