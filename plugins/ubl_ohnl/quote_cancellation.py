"""The UBL-OHNL 1.8 RequestForQuotationCancellation (AFWIJZING-UBL).

The agency withdraws its request for quotation or turns down the supplier's
quotation. Only release 1.8 has the quote flow; 1.9 put it "in de koelkast".

The document names what it cancels in ``cac:DocumentReference``, told apart
by ``cbc:DocumentType``: ``Offerte`` for the quotation, ``Offerteaanvraag``
for the request (the Schematron requires a DocumentType); the XSD allows one
reference. The reason is the ``RejectionNote``. Inbound in production;
encoding is for the agency simulators and refuses a buyer without a contact
and a cancellation naming both the request and the quotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import FieldProblem, Party, RequestForQuotationCancellation
from gateway.sniff import Sniffed
from plugins.ubl_ohnl.detect import detect_root
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order import parse_own
from plugins.ubl_ohnl.order_reader import OhnlReader
from plugins.ubl_ohnl.parties import add_party, party_identifications
from plugins.ubl_ohnl.samples import rfq_cancellation_samples
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, V1_8
from plugins.ubl_ohnl.xmltools import Element, add, add_date, add_text, root_element, serialize

__all__ = ["AFWIJZING_UBL", "OhnlRfqCancellation18"]

DOCUMENT = "RequestForQuotationCancellation"
AFWIJZING_UBL: Final = "AFWIJZING-UBL"
QUOTATION_TYPE = "Offerte"
RFQ_TYPE = "Offerteaanvraag"


def optional_ids(party: Party, role: str) -> Any:
    """The party's identifications, or none where OHNL does not require them."""
    if not party.ids and party.vat_id is None and party.legal_id is None \
            and party.endpoint_id is None:
        return []
    return party_identifications(party, role)


def write(doc: RequestForQuotationCancellation) -> Element:
    if doc.buyer.contact is None:
        raise OhnlEncodeError(
            "RequestForQuotationCancellation.buyer.contact: UBL-OHNL requires the buyer's "
            "contact (with a name)"
        )
    if doc.rfq_reference is not None and doc.quotation_reference is not None:
        raise OhnlEncodeError(
            "RequestForQuotationCancellation: UBL-OHNL names one document to cancel (one "
            "DocumentReference); give rfq_reference or quotation_reference, not both"
        )
    root = root_element(DOCUMENT)
    add(root, "cbc:UBLVersionID", UBL_VERSION)
    add(root, "cbc:CustomizationID", V1_8.customization_id)
    add(root, "cbc:ProfileID", PROFILE_ID)
    add(root, "cbc:ID", doc.number)
    add_date(root, "cbc:IssueDate", doc.issue_date)
    add_text(root, "cbc:AccountingCostCode", doc.accounting_cost)
    add_text(root, "cbc:RejectionNote", doc.reason)
    add_party(add(root, "cac:OriginatorCustomerParty"), doc.buyer,
              "RequestForQuotationCancellation.buyer", registration_address=False)
    add_party(add(root, "cac:SellerSupplierParty"), doc.seller,
              "RequestForQuotationCancellation.seller", registration_address=False,
              ids=optional_ids(doc.seller, "RequestForQuotationCancellation.seller"))
    for reference, kind in ((doc.rfq_reference, RFQ_TYPE),
                            (doc.quotation_reference, QUOTATION_TYPE)):
        if reference is not None:
            element = add(root, "cac:DocumentReference")
            add(element, "cbc:ID", reference)
            add(element, "cbc:DocumentType", kind)
    return root


class CancellationReader(OhnlReader):
    def __init__(self, root: Element) -> None:
        super().__init__(root, None)

    def cancellation(self) -> tuple[RequestForQuotationCancellation, list[str]]:
        r, root = self.r, self.root
        rfq = quotation = None
        for node in r.all(root, "cac:DocumentReference"):
            reference = self.required(r.text(node, "cbc:ID"), node, "cbc:ID")
            kind = (r.token(node, "cbc:DocumentType") or "").lower()
            if "aanvraag" in kind and rfq is None:
                rfq = reference
            elif kind.startswith("offerte") and "aanvraag" not in kind and quotation is None:
                quotation = reference
            else:
                r.warn(node, f"DocumentType {kind or '(none)'!r} is neither {RFQ_TYPE} nor "
                             f"{QUOTATION_TYPE} (or repeats one); not mapped")
                r.mark_tree(node)
        if rfq is None and quotation is None:
            raise OhnlDecodeError(
                f"names no {RFQ_TYPE} and no {QUOTATION_TYPE} in cac:DocumentReference: "
                "nothing to cancel", f"/{DOCUMENT}"
            )
        doc = RequestForQuotationCancellation(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            rfq_reference=rfq,
            quotation_reference=quotation,
            reason=r.text(root, "cbc:RejectionNote"),
            buyer=self.party(root, "cac:OriginatorCustomerParty/cac:Party"),
            seller=self.party(root, "cac:SellerSupplierParty/cac:Party"),
            accounting_cost=r.text(root, "cbc:AccountingCostCode"),
        )
        return doc, [*r.warnings, *r.unmapped_warnings()]


class OhnlRfqCancellation18(Format):
    key = "ubl-ohnl:request-for-quotation-cancellation:1.8"
    version = V1_8
    kind = DocumentKind.REQUEST_FOR_QUOTATION_CANCELLATION
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    description = (
        "UBL-OHNL 1.8 RequestForQuotationCancellation (AFWIJZING-UBL): the agency withdraws "
        "a request for quotation or turns down a quotation"
    )

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, RequestForQuotationCancellation):
            raise OhnlEncodeError(
                f"{self.key} encodes cancellations of a request for quotation, not "
                f"{type(document).__name__}"
            )
        return serialize(write(document))

    def decode(self, data: bytes) -> Decoded:
        root = parse_own(self, data, DOCUMENT, self.version, "request for quotation "
                                                               "cancellation")
        try:
            doc, warnings = CancellationReader(root).cancellation()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the cancellation does not fit the canonical model: {exc}"
            ) from None
        return Decoded(doc, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        return rfq_cancellation_samples()
