"""The UBL-OHNL 1.8 RequestForQuotation (OFFERTE-AANVRAAG-UBL): an agency asks for a quotation.

Only release 1.8 has the quote flow. Inbound in production; encoding is for
the agency simulators and refuses, naming the field and the OHNL rule:

- more than one note; a buyer without contact; a seller without a postal
  address (OHNL requires the supplier's PostalAddress);
- a header ``accounting_cost`` (the request has cost centres on its lines
  only);
- delivery address or requested period neither on the header nor on every
  line, or on both; a requested validity without start and end date;
- a negotiation style other than E (enkelvoudig) or S (standaard);
- a line reference without a type (``DocumentType`` is required).

The requested validity and the negotiation style travel in the NL
extensions (``nl-cac:RequestedValidityPeriod``, ``nl-cbc:NegotiationStyle``);
the award date and granted validity there are reported as not mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from lxml import etree

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    DocumentReference,
    FieldProblem,
    Item,
    Period,
    RequestForQuotation,
    RequestForQuotationLine,
)
from gateway.sniff import Sniffed
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.detect import detect_root
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order import parse_own
from plugins.ubl_ohnl.order_reader import OhnlReader
from plugins.ubl_ohnl.order_writer import (
    add_attachment,
    add_delivery,
    add_typed_references,
    check_unit,
)
from plugins.ubl_ohnl.parties import add_party
from plugins.ubl_ohnl.quote_cancellation import optional_ids
from plugins.ubl_ohnl.samples import rfq_samples
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, V1_8
from plugins.ubl_ohnl.xmltools import (
    Element,
    add,
    add_date,
    add_indicator,
    add_text,
    decimal_text,
    qname,
    root_element,
    serialize,
)

__all__ = ["OFFERTE_AANVRAAG_UBL", "OhnlRequestForQuotation18"]

DOCUMENT = "RequestForQuotation"
OFFERTE_AANVRAAG_UBL: Final = "OFFERTE-AANVRAAG-UBL"
NEGOTIATION_STYLES = ("E", "S")
NEGOTIATION_STYLE_LIST = {
    "listAgencyID": "88", "listAgencyName": codes.LOGIUS, "listID": "NL-1003",
    "listName": "Onderhandelingsstijl",
    "listSchemeURI": "urn:digi-inkoop:ubl:2.0:NL:1.7:gc:NegotiationStyleCode",
    "listURI": "http://www.nltaxonomie.nl/ubl/2.0/NL/1.7/cl/gc/NegotiationStyleCode.gc",
    "listVersionID": "1.7",
}
_CONTENT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent"


def _extension(root: Element, content: Element) -> None:
    extensions = root.find(qname("ext:UBLExtensions"))
    if extensions is None:
        extensions = add(root, "ext:UBLExtensions")
    add(add(extensions, "ext:UBLExtension"), "ext:ExtensionContent").append(content)


def write(rfq: RequestForQuotation) -> Element:
    role = "RequestForQuotation"
    if len(rfq.notes) > 1:
        raise OhnlEncodeError(f"{role}.notes: UBL-OHNL allows at most 1 note")
    if rfq.buyer.contact is None:
        raise OhnlEncodeError(f"{role}.buyer.contact: UBL-OHNL requires the buyer's contact")
    if rfq.seller.address is None or rfq.seller.address.country_code is None:
        raise OhnlEncodeError(
            f"{role}.seller.address: UBL-OHNL requires the supplier's postal address "
            "with its country"
        )
    if rfq.accounting_cost is not None:
        raise OhnlEncodeError(
            f"{role}.accounting_cost: a UBL-OHNL request has the cost centre on its lines "
            "only; give it on the lines"
        )
    for what, field in (("delivery address", "address"),
                        ("requested delivery period", "period")):
        on_header = rfq.delivery is not None and getattr(rfq.delivery, field) is not None
        lines = [line.delivery is not None and getattr(line.delivery, field) is not None
                 for line in rfq.lines]
        if (on_header and any(lines)) or (not on_header and any(lines) and not all(lines)):
            raise OhnlEncodeError(
                f"{role}: UBL-OHNL wants the {what} on the header or on every line, never "
                "mixed"
            )
    root = root_element(DOCUMENT)
    if rfq.negotiation_style is not None:
        if rfq.negotiation_style not in NEGOTIATION_STYLES:
            raise OhnlEncodeError(
                f"{role}.negotiation_style {rfq.negotiation_style!r}: UBL-OHNL knows E "
                "(enkelvoudig) and S (standaard)"
            )
        style = etree.Element(qname("nl-cbc:NegotiationStyle"), NEGOTIATION_STYLE_LIST)
        style.text = rfq.negotiation_style
        _extension(root, style)
    if rfq.requested_validity is not None:
        period = rfq.requested_validity
        if period.start is None or period.end is None or period.description_code:
            raise OhnlEncodeError(
                f"{role}.requested_validity: UBL-OHNL requires its start and end date "
                "(and carries nothing else)"
            )
        element = etree.Element(qname("nl-cac:RequestedValidityPeriod"))
        add_date(element, "cbc:StartDate", period.start)
        add_date(element, "cbc:EndDate", period.end)
        _extension(root, element)
    add(root, "cbc:UBLVersionID", UBL_VERSION)
    add(root, "cbc:CustomizationID", V1_8.customization_id)
    add(root, "cbc:ProfileID", PROFILE_ID)
    add(root, "cbc:ID", rfq.number)
    add_date(root, "cbc:IssueDate", rfq.issue_date)
    if rfq.issue_time is not None:
        add(root, "cbc:IssueTime", rfq.issue_time.isoformat())
    for note in rfq.notes:
        add(root, "cbc:Note", note)
    if rfq.currency is not None:
        add(root, "cbc:PricingCurrencyCode", rfq.currency, codes.CURRENCY_CODE_LIST)
    for i, attachment in enumerate(rfq.attachments):
        add_attachment(root, attachment, i)
    add_party(add(root, "cac:OriginatorCustomerParty"), rfq.buyer, f"{role}.buyer",
              registration_address=False)
    add_party(add(root, "cac:SellerSupplierParty"), rfq.seller, f"{role}.seller",
              registration_address=False, ids=optional_ids(rfq.seller, f"{role}.seller"))
    if rfq.delivery is not None:
        add_delivery(root, rfq.delivery, f"{role}.delivery")
    for i, line in enumerate(rfq.lines):
        write_line(root, line, f"{role}.lines[{i}]")
    return root


def write_line(root: Element, line: RequestForQuotationLine, role: str) -> None:
    if len(line.notes) > 1:
        raise OhnlEncodeError(f"{role}.notes: a UBL-OHNL line has at most one note")
    element = add(root, "cac:RequestForQuotationLine")
    for note in line.notes:
        add(element, "cbc:Note", note)
    add_typed_references(element, line.references, role)
    item_line = add(element, "cac:LineItem")
    add(item_line, "cbc:ID", line.id)
    check_unit(line.quantity, f"{role}.quantity")
    add(item_line, "cbc:Quantity", decimal_text(line.quantity.value),
        {"unitCode": line.quantity.unit_code})
    add_text(item_line, "cbc:AccountingCostCode", line.accounting_cost)
    if line.delivery is not None:
        add_delivery(item_line, line.delivery, f"{role}.delivery")
    item = line.item
    if item.standard_item_id or item.classifications or item.properties or item.origin_country:
        raise OhnlEncodeError(
            f"{role}.item: standard ids, classifications, properties and origin country are "
            "not carried on a UBL-OHNL request line"
        )
    node = add(item_line, "cac:Item")
    add_text(node, "cbc:Description", item.description)
    add_indicator(node, "cbc:CatalogueIndicator", False)
    add(node, "cbc:Name", item.name)
    if item.buyer_item_id is not None:
        add(add(node, "cac:BuyersItemIdentification"), "cbc:ID", item.buyer_item_id)
    if item.seller_item_id is not None:
        add(add(node, "cac:SellersItemIdentification"), "cbc:ID", item.seller_item_id)


class RfqReader(OhnlReader):
    def __init__(self, root: Element) -> None:
        super().__init__(root, None)

    def rfq(self) -> tuple[RequestForQuotation, list[str]]:
        r, root = self.r, self.root
        validity: Period | None = None
        style: str | None = None
        for content in r.all(root, _CONTENT):
            for child in content:
                if child.tag == qname("nl-cac:RequestedValidityPeriod"):
                    r.mark(child)
                    validity = self.period(child)
                elif child.tag == qname("nl-cbc:NegotiationStyle"):
                    r.mark(child)
                    style = (child.text or "").strip() or None
        references, attachments = self.references(root)
        for reference in references:
            r.warnings.append(
                f"/{DOCUMENT}/cac:AdditionalDocumentReference: reference {reference.id!r} "
                "without an attachment; not mapped (the canonical request keeps files only)"
            )
        rfq = RequestForQuotation(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            issue_time=self.time(root, "cbc:IssueTime"),
            currency=r.token(root, "cbc:PricingCurrencyCode"),
            buyer=self.party(root, "cac:OriginatorCustomerParty/cac:Party"),
            seller=self.party(root, "cac:SellerSupplierParty/cac:Party"),
            requested_validity=validity,
            negotiation_style=style,
            delivery=self.delivery(r.first(root, "cac:Delivery"), "cac:RequestedDeliveryPeriod"),
            notes=r.texts(root, "cbc:Note"),
            attachments=attachments,
            lines=tuple(self.line(node)
                        for node in r.all(root, "cac:RequestForQuotationLine")),
        )
        return rfq, [*r.warnings, *r.unmapped_warnings()]

    def line(self, node: Element) -> RequestForQuotationLine:
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
        return RequestForQuotationLine(
            id=self.required(r.token(item_line, "cbc:ID"), item_line, "cbc:ID"),
            quantity=self.quantity(item_line, "cbc:Quantity"),
            item=self.rfq_item(item_line),
            delivery=self.delivery(r.first(item_line, "cac:Delivery"),
                                   "cac:RequestedDeliveryPeriod"),
            accounting_cost=r.text(item_line, "cbc:AccountingCostCode"),
            notes=r.texts(node, "cbc:Note"),
            references=tuple(references),
        )

    def rfq_item(self, line: Element) -> Item:
        r = self.r
        node = self.required(r.first(line, "cac:Item"), line, "cac:Item")
        r.first(node, "cbc:CatalogueIndicator")
        description = r.text(node, "cbc:Description")
        seller_id = r.text(node, "cac:SellersItemIdentification/cbc:ID")
        buyer_id = r.text(node, "cac:BuyersItemIdentification/cbc:ID")
        name = r.text(node, "cbc:Name")
        if name is None:
            # A request may identify the item by an id alone; the model needs a name.
            name = description or seller_id or buyer_id
            r.warn(node, f"no Name; {name!r} is used as the item's name")
        return Item(name=self.required(name, node, "cbc:Name"), description=description,
                    seller_item_id=seller_id, buyer_item_id=buyer_id)


class OhnlRequestForQuotation18(Format):
    key = "ubl-ohnl:request-for-quotation:1.8"
    version = V1_8
    kind = DocumentKind.REQUEST_FOR_QUOTATION
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    description = (
        "UBL-OHNL 1.8 RequestForQuotation (OFFERTE-AANVRAAG-UBL): an agency asks for a "
        "quotation"
    )

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, RequestForQuotation):
            raise OhnlEncodeError(
                f"{self.key} encodes requests for quotation, not {type(document).__name__}"
            )
        return serialize(write(document))

    def decode(self, data: bytes) -> Decoded:
        root = parse_own(self, data, DOCUMENT, self.version, "request for quotation")
        try:
            rfq, warnings = RfqReader(root).rfq()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the request does not fit the canonical model: {exc}"
            ) from None
        return Decoded(rfq, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        return rfq_samples()
