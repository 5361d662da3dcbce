"""The Standard Business Document Header (SBDH) that carries every document over Peppol.

An access point routes on the header alone: who sends (C1), who receives
(C4), which document type and which business process. All of these are
derived from the payload itself (its root element, CustomizationID and
ProfileID), so any Peppol format travels without the channel knowing it:

- document type id (scheme ``busdox-docid-qns``):
  ``<root namespace>::<root name>##<CustomizationID>::2.1``;
- process id (scheme ``cenbii-procid-ubl``): the ProfileID;
- participants (authority ``iso6523-actorid-upis``): ``scheme:value``, such
  as ``0106:<KvK>`` or ``9944:<VAT>`` for a supplier and ``0190:<OIN>`` for
  an agency.

:func:`unwrap` checks a received envelope against its own payload, so a
header that claims another document type or process than the payload is
refused with the difference named, never silently believed.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from lxml import etree

from gateway.errors import GatewayError, UnsafeXMLError
from gateway.identifiers import InvalidIdentifier, PeppolParticipantId
from gateway.xmlsafe import XMLParseError, parse_xml

SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
HEADER_VERSION = "1.0"
PARTICIPANT_AUTHORITY = "iso6523-actorid-upis"
DOCUMENT_ID_SCHEME = "busdox-docid-qns"
PROCESS_ID_SCHEME = "cenbii-procid-ubl"
UBL_VERSION = "2.1"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


class SBDHError(GatewayError):
    """An envelope or payload that cannot travel over Peppol; the message names the element."""


def _q(name: str) -> str:
    return f"{{{SBDH_NS}}}{name}"


@attrs.frozen
class DocumentIds:
    """What a payload says about itself: enough to address it on the Peppol network."""

    root_namespace: str
    root_name: str
    customization_id: str
    profile_id: str
    version: str = UBL_VERSION

    @property
    def document_type_id(self) -> str:
        return f"{self.root_namespace}::{self.root_name}##{self.customization_id}::{self.version}"

    @property
    def process_id(self) -> str:
        return self.profile_id


@attrs.frozen
class Envelope:
    """The header of one Peppol transmission."""

    sender: PeppolParticipantId
    receiver: PeppolParticipantId
    instance_id: str
    created: dt.datetime
    ids: DocumentIds
    country_c1: str | None = None


def _header_text(root: etree._Element, name: str) -> str | None:
    node = root.find(f"{{{_CBC}}}{name}")
    text = node.text.strip() if node is not None and node.text else ""
    return text or None


def ids_of(root: etree._Element) -> DocumentIds:
    """The document type and process of a parsed payload; SBDHError when it does not say."""
    tag = etree.QName(root)
    if not tag.namespace:
        raise SBDHError(f"the payload root <{tag.localname}> has no namespace; a Peppol "
                        "document type needs one")
    missing = [name for name in ("CustomizationID", "ProfileID")
               if _header_text(root, name) is None]
    if missing:
        raise SBDHError(f"the payload /{tag.localname} has no cbc:{' or cbc:'.join(missing)}; "
                        "the Peppol document type and process are derived from them")
    return DocumentIds(root_namespace=tag.namespace, root_name=tag.localname,
                       customization_id=str(_header_text(root, "CustomizationID")),
                       profile_id=str(_header_text(root, "ProfileID")))


def document_ids(payload: bytes) -> DocumentIds:
    """The document type and process of ``payload`` (parsed as hostile input)."""
    try:
        root = parse_xml(payload).getroot()
    except (XMLParseError, UnsafeXMLError) as exc:
        raise SBDHError(f"the payload is not XML a Peppol access point can carry: {exc}") from None
    return ids_of(root)


def participant(text: str, role: str) -> PeppolParticipantId:
    """``scheme:value`` as a Peppol participant id; SBDHError naming ``role`` otherwise."""
    try:
        return PeppolParticipantId.parse(text)
    except InvalidIdentifier as exc:
        raise SBDHError(f"the {role} participant {text!r} is not a Peppol id: {exc}") from None


def wrap(
    payload: bytes, *, sender: PeppolParticipantId, receiver: PeppolParticipantId,
    instance_id: str | None = None, created: dt.datetime | None = None,
    country_c1: str | None = "NL",
) -> tuple[Envelope, bytes]:
    """Put ``payload`` in an SBDH; returns the envelope written and the bytes.

    ``instance_id`` identifies this transmission; give the one an earlier
    attempt used so the access point recognises a repeat.
    """
    try:
        tree = parse_xml(payload)
    except (XMLParseError, UnsafeXMLError) as exc:
        raise SBDHError(f"the payload is not XML a Peppol access point can carry: {exc}") from None
    root = tree.getroot()
    envelope = Envelope(
        sender=sender, receiver=receiver, instance_id=instance_id or str(uuid.uuid4()),
        created=(created or dt.datetime.now(dt.UTC)).replace(microsecond=0),
        ids=ids_of(root), country_c1=country_c1,
    )
    document = etree.Element(_q("StandardBusinessDocument"), nsmap={None: SBDH_NS})
    document.append(_header(envelope))
    document.append(root)
    data = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    return envelope, bytes(data)


def _sub(parent: etree._Element, name: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    node = etree.SubElement(parent, _q(name), attributes)
    if text is not None:
        node.text = text
    return node


def _header(envelope: Envelope) -> etree._Element:
    header = etree.Element(_q("StandardBusinessDocumentHeader"))
    _sub(header, "HeaderVersion", HEADER_VERSION)
    for role, party in (("Sender", envelope.sender), ("Receiver", envelope.receiver)):
        _sub(_sub(header, role), "Identifier", f"{party.scheme}:{party.value}",
             Authority=PARTICIPANT_AUTHORITY)
    identification = _sub(header, "DocumentIdentification")
    _sub(identification, "Standard", envelope.ids.root_namespace)
    _sub(identification, "TypeVersion", envelope.ids.version)
    _sub(identification, "InstanceIdentifier", envelope.instance_id)
    _sub(identification, "Type", envelope.ids.root_name)
    _sub(identification, "CreationDateAndTime", envelope.created.isoformat())
    scope = _sub(header, "BusinessScope")
    for kind, value, scheme in (("DOCUMENTID", envelope.ids.document_type_id, DOCUMENT_ID_SCHEME),
                                ("PROCESSID", envelope.ids.process_id, PROCESS_ID_SCHEME)):
        node = _sub(scope, "Scope")
        _sub(node, "Type", kind)
        _sub(node, "InstanceIdentifier", value)
        _sub(node, "Identifier", scheme)
    if envelope.country_c1 is not None:
        node = _sub(scope, "Scope")
        _sub(node, "Type", "COUNTRY_C1")
        _sub(node, "InstanceIdentifier", envelope.country_c1)
    return header


# -- unwrapping -------------------------------------------------------------------------------


def _one(parent: etree._Element, name: str, where: str) -> etree._Element:
    found = parent.findall(_q(name))
    if len(found) != 1:
        what = "is missing" if not found else f"appears {len(found)} times"
        raise SBDHError(f"{where}/{name} {what}; the header needs exactly one")
    return found[0]


def _text(parent: etree._Element, name: str, where: str) -> str:
    node = _one(parent, name, where)
    text = (node.text or "").strip()
    if not text:
        raise SBDHError(f"{where}/{name} is empty")
    return text


def _party(header: etree._Element, role: str) -> PeppolParticipantId:
    where = f"StandardBusinessDocumentHeader/{role}"
    identifier = _one(_one(header, role, "StandardBusinessDocumentHeader"), "Identifier", where)
    authority = identifier.get("Authority")
    if authority != PARTICIPANT_AUTHORITY:
        raise SBDHError(f"{where}/Identifier/@Authority is {authority!r}, expected "
                        f"{PARTICIPANT_AUTHORITY!r}")
    return participant((identifier.text or "").strip(), role.lower())


def _scopes(header: etree._Element) -> dict[str, tuple[str, str | None]]:
    where = "StandardBusinessDocumentHeader/BusinessScope"
    scopes: dict[str, tuple[str, str | None]] = {}
    for node in _one(header, "BusinessScope", "StandardBusinessDocumentHeader").findall(
            _q("Scope")):
        kind = _text(node, "Type", f"{where}/Scope")
        if kind in scopes:
            raise SBDHError(f"{where} has two scopes of type {kind}")
        value = _text(node, "InstanceIdentifier", f"{where}/Scope[{kind}]")
        scheme_node = node.find(_q("Identifier"))
        scheme = (scheme_node.text or "").strip() if scheme_node is not None else None
        scopes[kind] = (value, scheme or None)
    return scopes


def _check_scope(scopes: dict[str, tuple[str, str | None]], kind: str, expected: str,
                 scheme: str) -> None:
    where = f"StandardBusinessDocumentHeader/BusinessScope/Scope[{kind}]"
    if kind not in scopes:
        raise SBDHError(f"{where} is missing")
    value, given_scheme = scopes[kind]
    if given_scheme is not None and given_scheme != scheme:
        raise SBDHError(f"{where}/Identifier is {given_scheme!r}, expected {scheme!r}")
    if value != expected:
        raise SBDHError(f"{where}/InstanceIdentifier is {value!r}, but the payload is "
                        f"{expected!r}")


def unwrap(data: bytes) -> tuple[Envelope, bytes]:
    """The envelope and the payload bytes of an SBDH document, after checking one against the other.

    Raises SBDHError naming the element at fault; hostile XML (entities,
    DTDs, oversized input) is refused by :func:`gateway.xmlsafe.parse_xml`.
    """
    try:
        root = parse_xml(data).getroot()
    except (XMLParseError, UnsafeXMLError) as exc:
        raise SBDHError(f"not an SBDH document: {exc}") from None
    if root.tag != _q("StandardBusinessDocument"):
        raise SBDHError(f"not an SBDH document: the root is <{etree.QName(root).localname}> in "
                        f"{etree.QName(root).namespace or 'no namespace'}, expected "
                        f"<StandardBusinessDocument> in {SBDH_NS}")
    header = _one(root, "StandardBusinessDocumentHeader", "StandardBusinessDocument")
    version = _text(header, "HeaderVersion", "StandardBusinessDocumentHeader")
    if version != HEADER_VERSION:
        raise SBDHError(f"StandardBusinessDocumentHeader/HeaderVersion is {version!r}, "
                        f"expected {HEADER_VERSION!r}")
    payloads = [child for child in root if isinstance(child.tag, str) and child is not header]
    if len(payloads) != 1:
        raise SBDHError(f"StandardBusinessDocument carries {len(payloads)} payload elements "
                        "after the header; it must carry exactly one")
    payload = payloads[0]
    ids = ids_of(payload)
    where = "StandardBusinessDocumentHeader/DocumentIdentification"
    identification = _one(header, "DocumentIdentification", "StandardBusinessDocumentHeader")
    for name, expected in (("Standard", ids.root_namespace), ("Type", ids.root_name)):
        given = _text(identification, name, where)
        if given != expected:
            raise SBDHError(f"{where}/{name} is {given!r}, but the payload is {expected!r}")
    version_given = _text(identification, "TypeVersion", where)
    if version_given != ids.version:
        raise SBDHError(f"{where}/TypeVersion is {version_given!r}, but a Peppol document "
                        f"type is UBL {ids.version}")
    created_text = _text(identification, "CreationDateAndTime", where)
    try:
        created = dt.datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        raise SBDHError(f"{where}/CreationDateAndTime {created_text!r} is not a date and "
                        "time") from None
    ids = attrs.evolve(ids, version=version_given)
    scopes = _scopes(header)
    _check_scope(scopes, "DOCUMENTID", ids.document_type_id, DOCUMENT_ID_SCHEME)
    _check_scope(scopes, "PROCESSID", ids.process_id, PROCESS_ID_SCHEME)
    country = scopes.get("COUNTRY_C1")
    envelope = Envelope(
        sender=_party(header, "Sender"), receiver=_party(header, "Receiver"),
        instance_id=_text(identification, "InstanceIdentifier", where), created=created,
        ids=ids, country_c1=country[0] if country else None,
    )
    body = etree.tostring(payload, xml_declaration=True, encoding="UTF-8")
    return envelope, bytes(body)
