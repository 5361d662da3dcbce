"""The formats: Peppol BIS Ordering 3 Order (T01), Order Response (T76), Invoice Response (T111)
and Message Level Response (T71) in UBL 2.1.

Detection is exact: the root element, the CustomizationID and (for T01 one
of the two profiles that carry it, for T76 the ordering profile) the
ProfileID. Another poacc release of the same transaction, or the same
transaction under another profile, is OTHER_VERSION; anything else NO.

Basisorder Rijk, the Dutch central government's order profile, is T01 with
stricter rules. It has no identifier of its own, so it is no format of its
own: an order whose buyer is an agency (an OIN under 0190) is held to it.
Decoding reports a breach as a warning, since the agency sent it and the
supplier must still see the order; encoding for a routed agency refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
from lxml import etree

from gateway.formats import (
    Decoded,
    Detection,
    EncodeContext,
    Format,
    LayerKind,
    Sample,
    ValidationLayer,
)
from gateway.identifiers import OIN, is_oin_scheme
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    InvoiceResponse,
    MessageLevelResponse,
    Order,
    OrderResponse,
    Party,
    PartyId,
)
from gateway.sniff import Sniffed
from gateway.xmlsafe import parse_xml
from plugins.ubl import document_namespace, first_text
from plugins.ubl_ordering.application_response import (
    check_invoice_response,
    check_message_response,
    read_invoice_response,
    read_message_response,
    write_invoice_response,
    write_message_response,
)
from plugins.ubl_ordering.errors import (
    AgencyMismatchError,
    BasisorderRijkError,
    NotThisFormatError,
    UBLOrderingError,
    WrongDocumentError,
)
from plugins.ubl_ordering.order import Header, read_order, unwritable, write_order
from plugins.ubl_ordering.response import check_response, read_response, write_response
from plugins.ubl_ordering.samples import (
    AGENCY,
    AGENCY_OIN,
    sample_invoice_responses,
    sample_message_responses,
    sample_orders,
    sample_responses,
)

ORDER_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:order:3"
ORDER_RESPONSE_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:order_response:3"
INVOICE_RESPONSE_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
MLR_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:mlr:3"
INVOICE_RESPONSE_PROFILE = "urn:fdc:peppol.eu:poacc:bis:invoice_response:3"
MLR_PROFILE = "urn:fdc:peppol.eu:poacc:bis:mlr:3"
ORDER_ONLY_PROFILE = "urn:fdc:peppol.eu:poacc:bis:order_only:3"
ORDERING_PROFILE = "urn:fdc:peppol.eu:poacc:bis:ordering:3"
PROFILE_SETTING = "peppol_profile"
"""Route setting choosing the T01 profile: ``ordering`` (the default) or ``order_only``."""

T01_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol-t01", "peppol-bis-ordering-3/xslt/PEPPOLBIS-T01.xslt")
T76_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol-t76", "peppol-bis-ordering-3/xslt/PEPPOLBIS-T76.xslt")
T111_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol-t111", "peppol-bis-ordering-3/xslt/PEPPOLBIS-T111.xslt")
T71_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol-t71", "peppol-bis-ordering-3/xslt/PEPPOLBIS-T71.xslt")

OIN_SCHEME = "0190"
RIJK_SELLER_SCHEMES = ("0106", "9944")  # KvK, Dutch VAT number


def _header(root: etree._Element, name: str) -> str | None:
    text = first_text(root, f"cbc:{name}")
    return text.strip() or None if text is not None else None


class _PeppolOrdering(Format):
    root_name: ClassVar[str]
    customization_id: ClassVar[str]
    profiles: ClassVar[tuple[str, ...]]
    other_versions: ClassVar[tuple[str, ...]]
    """Substrings of a CustomizationID that name another release of this transaction."""
    layer: ClassVar[ValidationLayer]

    def layers(self) -> Sequence[ValidationLayer]:
        xsd = f"oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-{self.root_name}-2.1.xsd"
        return [ValidationLayer(LayerKind.XSD, "ubl-2.1", xsd), self.layer]

    def classify(self, root: etree._Element | None) -> Detection:
        tag = f"{{{document_namespace(self.root_name)}}}{self.root_name}"
        if root is None or root.tag != tag:
            return Detection.NO
        customization = _header(root, "CustomizationID")
        if customization is None:
            return Detection.NO
        if customization == self.customization_id:
            # The same transaction under another profile (e.g. advanced ordering)
            # answers another business process than this format's.
            profile = _header(root, "ProfileID")
            return Detection.MATCH if profile in self.profiles else Detection.OTHER_VERSION
        if any(marker in customization for marker in self.other_versions):
            return Detection.OTHER_VERSION
        return Detection.NO

    def detect(self, doc: Sniffed) -> Detection:
        return self.classify(doc.root)

    def _root(self, data: bytes) -> etree._Element:
        root = parse_xml(data).getroot()
        if self.classify(root) is not Detection.MATCH:
            raise NotThisFormatError(
                f"{self.key} reads UBL {self.root_name} documents with CustomizationID "
                f"{self.customization_id!r} and ProfileID {' or '.join(map(repr, self.profiles))}"
                f"; this is {Sniffed(data).describe()}")
        return root

    def sample_context(self) -> EncodeContext:
        return EncodeContext(agency_oin=AGENCY_OIN, agency_name=AGENCY.name)


class PeppolOrder(_PeppolOrdering):
    """Peppol BIS Ordering 3 Order (T01), the carrier of Basisorder Rijk."""

    key = "peppol-bis:order:3"
    kind = DocumentKind.ORDER
    directions = frozenset({Direction.INBOUND})
    description = "Peppol BIS Order 3 (T01, UBL 2.1), incl. Basisorder Rijk"
    root_name = "Order"
    customization_id = ORDER_CUSTOMIZATION
    profiles = (ORDERING_PROFILE, ORDER_ONLY_PROFILE)
    other_versions = ("urn:fdc:peppol.eu:poacc:trns:order:", "bis:peppol28a:", "bis:peppol3a:")
    layer = T01_LAYER

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, Order):
            raise WrongDocumentError(f"{self.key} writes orders, not {type(document).__name__}")
        order = document
        if context.agency_oin is not None:
            order = attrs.evolve(order, buyer=_addressed_buyer(order, context))
            breaches = basisorder_rijk_breaches(order)
            if breaches:
                raise BasisorderRijkError(
                    f"{self.key}: order {order.number} for agency {context.agency_oin} breaks "
                    "Basisorder Rijk: " + "; ".join(breaches))
        lost = unwritable(order)
        if lost:
            raise UBLOrderingError(
                f"{self.key}: order {order.number} holds what T01 cannot carry: "
                + "; ".join(lost))
        return write_order(order, Header(self.customization_id, self._profile(context)))

    def _profile(self, context: EncodeContext) -> str:
        choice = context.settings.get(PROFILE_SETTING, "ordering")
        profiles = {"ordering": ORDERING_PROFILE, "order_only": ORDER_ONLY_PROFILE}
        if choice not in profiles:
            raise UBLOrderingError(
                f"{self.key}: setting {PROFILE_SETTING} {choice!r} must be 'ordering' or "
                "'order_only'")
        return profiles[choice]

    def decode(self, data: bytes) -> Decoded:
        order, unmapped = read_order(self._root(data))
        warnings = list(unmapped)
        if _is_agency(order.buyer):
            warnings += [f"Basisorder Rijk: {each}" for each in basisorder_rijk_breaches(order)]
        return Decoded(order, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        context = self.sample_context()
        return [Sample(name=name, document=order, data=self.encode(order, context),
                       context=context) for name, order in sample_orders()]


class PeppolOrderResponse(_PeppolOrdering):
    """Peppol BIS Ordering 3 Order Response (T76): the supplier's answer to an order."""

    key = "peppol-bis:order-response:3"
    kind = DocumentKind.ORDER_RESPONSE
    directions = frozenset({Direction.OUTBOUND})
    description = "Peppol BIS Order Response 3 (T76, UBL 2.1)"
    root_name = "OrderResponse"
    customization_id = ORDER_RESPONSE_CUSTOMIZATION
    profiles = (ORDERING_PROFILE,)
    other_versions = ("urn:fdc:peppol.eu:poacc:trns:order_response:", "bis:peppol28a:")
    layer = T76_LAYER

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, OrderResponse):
            raise WrongDocumentError(
                f"{self.key} writes order responses, not {type(document).__name__}")
        response = document
        if context.agency_oin is not None:
            buyer = _agency_party(response.buyer, context, f"order response {response.number}")
            # T76 has no legal entity id, so only the electronic address is set.
            response = attrs.evolve(
                response, buyer=attrs.evolve(response.buyer, endpoint_id=buyer.endpoint_id))
        check_response(response, self.key)
        return write_response(response, Header(self.customization_id, ORDERING_PROFILE))

    def decode(self, data: bytes) -> Decoded:
        response, unmapped = read_response(self._root(data))
        return Decoded(response, tuple(unmapped))

    def samples(self) -> Sequence[Sample]:
        context = self.sample_context()
        return [Sample(name=name, document=response, data=self.encode(response, context),
                       context=context) for name, response in sample_responses()]


class PeppolInvoiceResponse(_PeppolOrdering):
    """Peppol BIS Invoice Response 3 (T111): an agency's status of an invoice we sent."""

    key = "peppol-bis:invoice-response:3"
    kind = DocumentKind.INVOICE_RESPONSE
    directions = frozenset({Direction.INBOUND})
    description = "Peppol BIS Invoice Response 3 (T111, UBL 2.1 ApplicationResponse)"
    root_name = "ApplicationResponse"
    customization_id = INVOICE_RESPONSE_CUSTOMIZATION
    profiles = (INVOICE_RESPONSE_PROFILE,)
    other_versions = ("urn:fdc:peppol.eu:poacc:trns:invoice_response:",)
    layer = T111_LAYER

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, InvoiceResponse):
            raise WrongDocumentError(
                f"{self.key} writes invoice responses, not {type(document).__name__}")
        check_invoice_response(document, self.key)
        return write_invoice_response(
            document, Header(self.customization_id, INVOICE_RESPONSE_PROFILE))

    def decode(self, data: bytes) -> Decoded:
        response, unmapped = read_invoice_response(self._root(data))
        return Decoded(response, tuple(unmapped))

    def samples(self) -> Sequence[Sample]:
        return [Sample(name=name, document=response)
                for name, response in sample_invoice_responses()]


class PeppolMessageLevelResponse(_PeppolOrdering):
    """Peppol BIS Message Level Response 3 (T71): whether a document could be taken in."""

    key = "peppol-bis:mlr:3"
    kind = DocumentKind.MESSAGE_LEVEL_RESPONSE
    directions = frozenset({Direction.INBOUND})
    description = "Peppol BIS Message Level Response 3 (T71, UBL 2.1 ApplicationResponse)"
    root_name = "ApplicationResponse"
    customization_id = MLR_CUSTOMIZATION
    profiles = (MLR_PROFILE,)
    other_versions = ("urn:fdc:peppol.eu:poacc:trns:mlr:",)
    layer = T71_LAYER

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, MessageLevelResponse):
            raise WrongDocumentError(
                f"{self.key} writes message level responses, not {type(document).__name__}")
        check_message_response(document, self.key)
        return write_message_response(document, Header(self.customization_id, MLR_PROFILE))

    def decode(self, data: bytes) -> Decoded:
        response, unmapped = read_message_response(self._root(data))
        return Decoded(response, tuple(unmapped))

    def samples(self) -> Sequence[Sample]:
        return [Sample(name=name, document=response)
                for name, response in sample_message_responses()]


FORMATS: tuple[type[_PeppolOrdering], ...] = (
    PeppolOrder, PeppolOrderResponse, PeppolInvoiceResponse, PeppolMessageLevelResponse)


# -- Basisorder Rijk ------------------------------------------------------------------------


def _is_agency(party: Party) -> bool:
    return any(each is not None and each.scheme == OIN_SCHEME
               for each in (party.endpoint_id, party.legal_id))


def basisorder_rijk_breaches(order: Order) -> list[str]:
    """What ``order`` lacks for Basisorder Rijk beyond T01, one sentence per rule."""
    breaches = []
    buyer, seller = order.buyer, order.seller
    if buyer.endpoint_id is None or buyer.endpoint_id.scheme != OIN_SCHEME:
        breaches.append("the buyer's EndpointID must be its OIN under scheme 0190")
    if buyer.legal_id is None or buyer.legal_id.scheme != OIN_SCHEME:
        breaches.append("the buyer's PartyLegalEntity/CompanyID must be its OIN under scheme 0190")
    if seller.endpoint_id is None or seller.endpoint_id.scheme not in RIJK_SELLER_SCHEMES:
        breaches.append("the seller's EndpointID must be under scheme 0106 (KvK) or 9944 (VAT)")
    if buyer.contact is None:
        breaches.append("the buyer needs a contact")
    for line in order.lines:
        missing = [name for name, value in (("LineExtensionAmount", line.line_amount),
                                            ("Price", line.price)) if value is None]
        if missing:
            breaches.append(f"line {line.id} needs {' and '.join(missing)}")
    return breaches


def _addressed_buyer(order: Order, context: EncodeContext) -> Party:
    return _agency_party(order.buyer, context, f"order {order.number}")


def _agency_party(party: Party, context: EncodeContext, what: str) -> Party:
    """``party`` with the routed agency's OIN as electronic address and legal id (0190).

    An OIN on the document naming another agency means the routing and the
    document disagree; sending it either way would be a guess.
    """
    assert context.agency_oin is not None
    oin = OIN(context.agency_oin)
    for where, party_id in (("endpoint id", party.endpoint_id), ("legal id", party.legal_id),
                            *(("identifier", each) for each in party.ids)):
        if (party_id is not None and is_oin_scheme(party_id.scheme)
                and not oin.same_as(party_id.value)):
            agency = f" ({context.agency_name})" if context.agency_name else ""
            raise AgencyMismatchError(
                f"{what}: the buyer's {where} is OIN {party_id.value}, but it is routed to "
                f"agency {oin}{agency}; correct the routing or the document")
    address = PartyId(scheme=OIN_SCHEME, value=oin.value)
    return attrs.evolve(party, endpoint_id=address, legal_id=address)
