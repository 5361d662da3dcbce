"""The UBL-OHNL 1.8 Quotation (OFFERTE-UBL): the supplier's answer to a request for quotation.

Only release 1.8 has the quote flow. Outbound; encoding refuses, naming the
field and the OHNL rule:

- a quotation without validity end date (``ValidityPeriod/EndDate`` is
  required) or with more than one note;
- a buyer without contact, a seller without contact unless every line names
  a delivery contact;
- delivery address or promised period neither on the header nor on every
  line, or on both; a line delivery without delivery party (OHNL requires
  ``DeliveryParty`` on a line's delivery); a delivery date instead of a
  period;
- a line without price or item name, a line reference without a type;
- ``rfq_line_reference``: the 1.8 Quotation has no element for the request
  line it answers; number the quotation lines as the request's lines.

Decoding reports by XPath what it does not map (payment means, despatch,
substitute line items, taxes other than VAT, subtotals without taxable
amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    DocumentReference,
    FieldProblem,
    PaymentTerms,
    Quotation,
    QuotationLine,
)
from gateway.sniff import Sniffed
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.detect import detect_root
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order import parse_own
from plugins.ubl_ohnl.order_reader import OhnlReader, document_currency
from plugins.ubl_ohnl.order_writer import (
    add_allowance_charge,
    add_attachment,
    add_delivery,
    add_item,
    add_period,
    add_price,
    add_tax_total,
    add_totals,
    add_typed_references,
    check_unit,
)
from plugins.ubl_ohnl.parties import add_party
from plugins.ubl_ohnl.samples import quotation_samples
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, V1_8
from plugins.ubl_ohnl.xmltools import (
    Element,
    add,
    add_amount,
    add_date,
    add_text,
    decimal_text,
    qname,
    root_element,
    serialize,
)

__all__ = ["OFFERTE_UBL", "OhnlQuotation18"]

DOCUMENT = "Quotation"
OFFERTE_UBL: Final = "OFFERTE-UBL"
PROMISED = "cac:PromisedDeliveryPeriod"


def write(q: Quotation) -> Element:
    role = "Quotation"
    if len(q.notes) > 1:
        raise OhnlEncodeError(f"{role}.notes: UBL-OHNL allows at most 1 note")
    if q.validity_period is None or q.validity_period.end is None:
        raise OhnlEncodeError(
            f"{role}.validity_period: UBL-OHNL requires how long the quotation holds "
            "(ValidityPeriod with an end date)"
        )
    if q.buyer.contact is None:
        raise OhnlEncodeError(f"{role}.buyer.contact: UBL-OHNL requires the buyer's contact")
    for what, field in (("delivery address", "address"), ("promised delivery period", "period")):
        on_header = q.delivery is not None and getattr(q.delivery, field) is not None
        lines = [line.delivery is not None and getattr(line.delivery, field) is not None
                 for line in q.lines]
        if (on_header and any(lines)) or (not on_header and not all(lines)):
            raise OhnlEncodeError(
                f"{role}: UBL-OHNL wants the {what} on the header or on every line, never "
                "mixed or missing"
            )
    contacts = all(line.delivery is not None and line.delivery.contact is not None
                   for line in q.lines)
    if q.seller.contact is None and not contacts:
        raise OhnlEncodeError(
            f"{role}.seller.contact: UBL-OHNL requires the seller's contact unless every line "
            "names a delivery contact"
        )
    root = root_element(DOCUMENT)
    add(root, "cbc:UBLVersionID", UBL_VERSION)
    add(root, "cbc:CustomizationID", V1_8.customization_id)
    add(root, "cbc:ProfileID", PROFILE_ID)
    add(root, "cbc:ID", q.number)
    add_date(root, "cbc:IssueDate", q.issue_date)
    if q.issue_time is not None:
        add(root, "cbc:IssueTime", q.issue_time.isoformat())
    for note in q.notes:
        add(root, "cbc:Note", note)
    add(root, "cbc:PricingCurrencyCode", q.currency, codes.CURRENCY_CODE_LIST)
    add_period(root, "cac:ValidityPeriod", q.validity_period, f"{role}.validity_period",
               end=True)
    add(add(root, "cac:RequestForQuotationDocumentReference"), "cbc:ID", q.rfq_reference)
    for i, attachment in enumerate(q.attachments):
        add_attachment(root, attachment, i)
    add_party(add(root, "cac:SellerSupplierParty"), q.seller, f"{role}.seller",
              registration_address=False)
    add_party(add(root, "cac:OriginatorCustomerParty"), q.buyer, f"{role}.buyer",
              registration_address=False)
    if q.delivery is not None:
        add_delivery(root, q.delivery, f"{role}.delivery", period_tag=PROMISED)
    if q.payment_terms is not None:
        add(add(root, "cac:TransactionConditions"), "cbc:Description", q.payment_terms.note)
    for ac in q.allowance_charges:
        add_allowance_charge(root, ac, q.currency)
    add_tax_total(root, q.tax_breakdown, q.currency, f"{role}.tax_breakdown")
    if q.totals is None:
        raise OhnlEncodeError(
            f"{role}.totals: a UBL-OHNL Quotation requires QuotedMonetaryTotal; state the "
            "totals (quotation_from_rfq computes them when given a VAT category)"
        )
    add_totals(root, "cac:QuotedMonetaryTotal", q.totals, q.currency, f"{role}.totals",
               breakdown=q.tax_breakdown)
    for i, line in enumerate(q.lines):
        write_line(root, line, q.currency, f"{role}.lines[{i}]")
    return root


def write_line(root: Element, line: QuotationLine, currency: str, role: str) -> None:
    if len(line.notes) > 1:
        raise OhnlEncodeError(f"{role}.notes: a UBL-OHNL line has at most one note")
    # The request line is named by numbering the quotation line alike; only a
    # reference that says something else cannot be carried.
    if line.rfq_line_reference not in (None, line.id):
        raise OhnlEncodeError(
            f"{role}.rfq_line_reference: the UBL-OHNL 1.8 Quotation has no element for the "
            "request line; give the quotation line the request line's id instead"
        )
    element = add(root, "cac:QuotationLine")
    for note in line.notes:
        add(element, "cbc:Note", note)
    add_typed_references(element, line.references, role)
    item_line = add(element, "cac:LineItem")
    add(item_line, "cbc:ID", line.id)
    check_unit(line.quantity, f"{role}.quantity")
    add(item_line, "cbc:Quantity", decimal_text(line.quantity.value),
        {"unitCode": line.quantity.unit_code})
    add_amount(item_line, "cbc:LineExtensionAmount", line.line_amount, currency)
    add_text(item_line, "cbc:AccountingCostCode", line.accounting_cost)
    if line.delivery is not None:
        add_delivery(item_line, line.delivery, f"{role}.delivery", period_tag=PROMISED,
                     party_required=True)
    for ac in line.allowance_charges:
        add_allowance_charge(item_line, ac, currency)
    add_price(item_line, line, currency, role)
    add_item(item_line, line, role, seller_id=False)


class QuotationReader(OhnlReader):
    def __init__(self, root: Element) -> None:
        # A quotation has no DocumentCurrencyCode: it prices in PricingCurrencyCode.
        node = root.find(qname("cbc:PricingCurrencyCode"))
        currency = (node.text or "").strip() if node is not None and node.text else ""
        self.currency = currency or document_currency(root, DOCUMENT)
        super().__init__(root, self.currency)
        self.r.first(root, "cbc:PricingCurrencyCode")

    def quotation(self) -> tuple[Quotation, list[str]]:
        r, root = self.r, self.root
        references, attachments = self.references(root)
        for reference in references:
            r.warnings.append(
                f"/{DOCUMENT}/cac:AdditionalDocumentReference: reference {reference.id!r} "
                "without an attachment; not mapped"
            )
        terms = r.text(root, "cac:TransactionConditions/cbc:Description")
        quotation = Quotation(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            issue_time=self.time(root, "cbc:IssueTime"),
            currency=self.currency,
            rfq_reference=self.required(
                r.text(root, "cac:RequestForQuotationDocumentReference/cbc:ID"), root,
                "cac:RequestForQuotationDocumentReference/cbc:ID"),
            validity_period=self.period(r.first(root, "cac:ValidityPeriod")),
            seller=self.party(root, "cac:SellerSupplierParty/cac:Party"),
            buyer=self.party(root, "cac:OriginatorCustomerParty/cac:Party"),
            delivery=self.delivery(r.first(root, "cac:Delivery"), PROMISED),
            payment_terms=PaymentTerms(note=terms) if terms is not None else None,
            notes=r.texts(root, "cbc:Note"),
            attachments=attachments,
            allowance_charges=self.allowance_charges(root),
            tax_breakdown=self.tax_breakdown(),
            totals=self.totals("cac:QuotedMonetaryTotal"),
            lines=tuple(self.line(node) for node in r.all(root, "cac:QuotationLine")),
        )
        return quotation, [*r.warnings, *r.unmapped_warnings()]

    def line(self, node: Element) -> QuotationLine:
        r = self.r
        references = []
        for ref in r.all(node, "cac:DocumentReference"):
            if r.first(ref, "cac:Attachment") is not None:
                r.warn(ref, "an embedded specification on a line is not mapped")
                r.mark_tree(ref)
                continue
            references.append(DocumentReference(
                id=self.required(r.text(ref, "cbc:ID"), ref, "cbc:ID"),
                issue_date=r.date(ref, "cbc:IssueDate"),
                type_code=r.text(ref, "cbc:DocumentType"),
            ))
        item_line = self.required(r.first(node, "cac:LineItem"), node, "cac:LineItem")
        item, category, rate = self.item(item_line)
        return QuotationLine(
            id=self.required(r.token(item_line, "cbc:ID"), item_line, "cbc:ID"),
            quantity=self.quantity(item_line, "cbc:Quantity"),
            line_amount=r.amount(item_line, "cbc:LineExtensionAmount"),
            accounting_cost=r.text(item_line, "cbc:AccountingCostCode"),
            delivery=self.delivery(r.first(item_line, "cac:Delivery"), PROMISED),
            allowance_charges=self.allowance_charges(item_line),
            price=self.price(item_line),
            item=item,
            vat_category=category,
            vat_rate=rate,
            notes=r.texts(node, "cbc:Note"),
            references=tuple(references),
        )


class OhnlQuotation18(Format):
    key = "ubl-ohnl:quotation:1.8"
    version = V1_8
    kind = DocumentKind.QUOTATION
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})
    description = "UBL-OHNL 1.8 Quotation (OFFERTE-UBL): the supplier's quotation"

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, Quotation):
            raise OhnlEncodeError(f"{self.key} encodes quotations, not {type(document).__name__}")
        return serialize(write(document))

    def decode(self, data: bytes) -> Decoded:
        root = parse_own(self, data, DOCUMENT, self.version, "quotation")
        try:
            quotation, warnings = QuotationReader(root).quotation()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the quotation does not fit the canonical model: {exc}"
            ) from None
        return Decoded(quotation, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        return quotation_samples()
