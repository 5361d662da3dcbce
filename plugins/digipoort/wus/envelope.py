"""SOAP 1.1 envelopes with WS-Addressing 2005/08 headers, as Digipoort WUS wants them.

``request_envelope`` builds a request (To, Action, MessageID, optionally ReplyTo
anonymous); ``response_envelope`` a response (To anonymous, Action, MessageID,
RelatesTo); ``fault_envelope`` a SOAP 1.1 Fault whose detail holds the koppelvlak
fault element. Every addressing header gets a ``wsu:Id`` so that
``security.sign`` can reference it; the headers carry no other extension (the
WSDL forbids own headers). Fault envelopes are left unsigned, as Digipoort's
are.

``parse_envelope`` reads bytes (hardened parser), checks the SOAP 1.1 shape and
returns ``Envelope`` with the addressing headers, the body element and, for a
fault, the ``WusFault`` (or a ``SoapFault`` when the detail has no koppelvlak
fault). Problems raise ``EnvelopeError`` naming what is wrong.
"""

from __future__ import annotations

import uuid
from typing import Final

import attrs
from lxml import etree

from gateway.errors import GatewayError
from gateway.xmlsafe import check_safe

from .koppelvlak import FAULT_ELEMENTS, KoppelvlakError, WusFault
from .ns import KV, SOAP, WSA, WSA_ANONYMOUS, WSU, fault_action

ADDRESSING_HEADERS: Final = (
    "To",
    "From",
    "ReplyTo",
    "FaultTo",
    "Action",
    "MessageID",
    "RelatesTo",
)


class EnvelopeError(ValueError):
    """Bytes that are not a well-formed SOAP 1.1 envelope for WUS."""


@attrs.frozen(auto_exc=True)
class SoapFault(Exception):
    """A SOAP fault without a koppelvlak fault in its detail."""

    faultcode: str
    faultstring: str

    def __str__(self) -> str:
        return f"SOAP fault {self.faultcode}: {self.faultstring}"


@attrs.frozen
class Addressing:
    to: str | None = None
    action: str | None = None
    message_id: str | None = None
    reply_to: str | None = None
    relates_to: str | None = None


@attrs.frozen
class Envelope:
    root: etree._Element
    addressing: Addressing
    body: etree._Element | None
    fault: WusFault | SoapFault | None = None


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _skeleton() -> tuple[etree._Element, etree._Element, etree._Element]:
    root = etree.Element(
        f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP, "wsa": WSA, "wsu": WSU}
    )
    header = etree.SubElement(root, f"{{{SOAP}}}Header")
    body = etree.SubElement(root, f"{{{SOAP}}}Body")
    body.set(f"{{{WSU}}}Id", f"id-{uuid.uuid4()}")
    return root, header, body


def _header(header: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(header, f"{{{WSA}}}{name}")
    element.set(f"{{{WSU}}}Id", f"id-{uuid.uuid4()}")
    if text is not None:
        element.text = text
    return element


def request_envelope(
    body: etree._Element,
    *,
    to: str,
    action: str,
    message_id: str | None = None,
    reply_to_anonymous: bool = True,
) -> etree._Element:
    """A request envelope around ``body`` (the element is moved into it)."""
    root, header, soap_body = _skeleton()
    _header(header, "To", to)
    _header(header, "Action", action)
    _header(header, "MessageID", message_id or new_message_id())
    if reply_to_anonymous:
        reply_to = _header(header, "ReplyTo")
        etree.SubElement(reply_to, f"{{{WSA}}}Address").text = WSA_ANONYMOUS
    soap_body.append(body)
    return root


def response_envelope(
    body: etree._Element, *, action: str, relates_to: str | None
) -> etree._Element:
    root, header, soap_body = _skeleton()
    _header(header, "To", WSA_ANONYMOUS)
    _header(header, "Action", action)
    _header(header, "MessageID", new_message_id())
    if relates_to:
        _header(header, "RelatesTo", relates_to)
    soap_body.append(body)
    return root


def fault_envelope(
    fault: WusFault,
    *,
    operation: str,
    relates_to: str | None = None,
    client_error: bool = True,
) -> bytes:
    """An unsigned SOAP 1.1 fault; ``client_error`` picks soapenv:Client or Server."""
    root, header, soap_body = _skeleton()
    _header(header, "To", WSA_ANONYMOUS)
    _header(header, "Action", fault_action(fault.service, operation))
    _header(header, "MessageID", new_message_id())
    if relates_to:
        _header(header, "RelatesTo", relates_to)
    element = etree.SubElement(soap_body, f"{{{SOAP}}}Fault")
    etree.SubElement(element, "faultcode").text = (
        "soapenv:Client" if client_error else "soapenv:Server"
    )
    etree.SubElement(element, "faultstring").text = f"{fault.foutcode}: {fault.foutbeschrijving}"
    detail = etree.SubElement(element, "detail")
    detail.append(fault.to_element())
    return serialize(root)


def serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


MAX_ENVELOPE_BYTES: Final = 32 * 1024 * 1024


def parse_envelope(data: bytes) -> Envelope:
    """Parse and check an envelope; hardened like ``gateway.xmlsafe``, but allowing
    the large base64 text nodes a 20 MB ``inhoud`` needs."""
    try:
        check_safe(data, max_bytes=MAX_ENVELOPE_BYTES)
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
        root = etree.fromstring(bytes(data), parser=parser)
    except GatewayError as exc:
        raise EnvelopeError(f"not acceptable XML: {exc}") from exc
    except etree.XMLSyntaxError as exc:
        raise EnvelopeError(f"not well-formed XML: {exc.msg}") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or any(True for _ in root.iter(etree.Entity)):
        raise EnvelopeError("DTDs and entity references are not accepted")
    return read_envelope(root)


def read_envelope(root: etree._Element) -> Envelope:
    """Check the SOAP 1.1 shape of a parsed envelope and pick out its parts."""
    if root.tag != f"{{{SOAP}}}Envelope":
        raise EnvelopeError(
            f"root element is {root.tag}, expected a SOAP 1.1 Envelope ({{{SOAP}}}Envelope)"
        )
    children = [c for c in root if isinstance(c.tag, str)]
    headers = [c for c in children if c.tag == f"{{{SOAP}}}Header"]
    bodies = [c for c in children if c.tag == f"{{{SOAP}}}Body"]
    if len(bodies) != 1:
        raise EnvelopeError(f"the envelope has {len(bodies)} soapenv:Body elements, expected 1")
    if len(headers) > 1:
        raise EnvelopeError("the envelope has more than one soapenv:Header")
    addressing = _addressing(headers[0]) if headers else Addressing()
    body_children = [c for c in bodies[0] if isinstance(c.tag, str)]
    if len(body_children) != 1:
        raise EnvelopeError(
            f"soapenv:Body holds {len(body_children)} elements, expected exactly 1"
        )
    body = body_children[0]
    if body.tag == f"{{{SOAP}}}Fault":
        return Envelope(root, addressing, None, _fault(body, addressing))
    return Envelope(root, addressing, body)


def _addressing(header: etree._Element) -> Addressing:
    values: dict[str, str] = {}
    for child in header:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace != WSA:
            continue
        if qname.localname in values:
            raise EnvelopeError(f"wsa:{qname.localname} appears more than once")
        if qname.localname == "ReplyTo":
            address = child.find(f"{{{WSA}}}Address")
            values["ReplyTo"] = (address.text or "").strip() if address is not None else ""
        else:
            values[qname.localname] = (child.text or "").strip()
    return Addressing(
        to=values.get("To"),
        action=values.get("Action"),
        message_id=values.get("MessageID"),
        reply_to=values.get("ReplyTo"),
        relates_to=values.get("RelatesTo"),
    )


def _fault(element: etree._Element, addressing: Addressing) -> WusFault | SoapFault:
    faultcode = (element.findtext("faultcode") or "").strip()
    faultstring = (element.findtext("faultstring") or "").strip()
    detail = element.find("detail")
    if detail is not None:
        for child in detail:
            qname = etree.QName(child) if isinstance(child.tag, str) else None
            if qname is not None and qname.namespace == KV and (
                qname.localname in FAULT_ELEMENTS.values()
            ):
                try:
                    return WusFault.from_element(child)
                except KoppelvlakError as exc:
                    raise EnvelopeError(f"fault detail is not valid: {exc}") from exc
    return SoapFault(faultcode, faultstring)
