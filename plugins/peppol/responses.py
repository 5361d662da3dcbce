"""What a received Invoice Response (T111) or Message Level Response (T71) says about our message.

The inbound pipeline stores and decodes these documents like any other;
this module reads only the few fields that move the state of the outbound
message they answer: the response code, the referenced document and the
reasons given. Reading them here, from the parsed payload, keeps the
channel independent of which format plugin is installed.

T111 codes map onto business states one to one (AB acknowledged, IP
in-process, UQ under-query, CA conditionally-accepted, RE rejected, AP
accepted, PD paid). A T71 rejection means the agency's side could not
process the document at all: the message fails (dead letter) with the
reasons, so an operator corrects and resends it. T71 AB and AP are noted on
the timeline without changing the business state: taking a document in is
not a verdict on its content.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.channels import StatusReport
from gateway.kinds import DocumentKind
from plugins.peppol.sbdh import Envelope

_NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
APPLICATION_RESPONSE = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
INVOICE_RESPONSE = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
MLR = "urn:fdc:peppol.eu:poacc:trns:mlr:3"

INVOICE_STATES = {"AB": "acknowledged", "IP": "in-process", "UQ": "under-query",
                  "CA": "conditionally-accepted", "RE": "rejected", "AP": "accepted",
                  "PD": "paid"}
# UNCL 1001: the document type codes a response may quote for what we send.
_KINDS = {"380": DocumentKind.INVOICE, "381": DocumentKind.CREDIT_NOTE,
          "231": DocumentKind.ORDER_RESPONSE}
OIN_SCHEME = "0190"


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, _NS)
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _moment(root: etree._Element) -> dt.datetime | None:
    day, time = _text(root, "cbc:IssueDate"), _text(root, "cbc:IssueTime")
    try:
        if day is None:
            return None
        moment = dt.datetime.fromisoformat(f"{day[:10]}T{time or '00:00:00'}")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _agency_oin(envelope: Envelope, root: etree._Element) -> str | None:
    if envelope.sender.scheme == OIN_SCHEME:
        return envelope.sender.value
    endpoint = root.find("cac:SenderParty/cbc:EndpointID", _NS)
    if endpoint is not None and endpoint.get("schemeID") == OIN_SCHEME and endpoint.text:
        return str(endpoint.text).strip()
    return None


def _reasons(response: etree._Element) -> list[str]:
    found = []
    for status in response.findall("cac:Status", _NS):
        code, text = _text(status, "cbc:StatusReasonCode"), _text(status, "cbc:StatusReason")
        conditions = [
            " ".join(part for part in (_text(each, "cbc:AttributeID"),
                                       _text(each, "cbc:Description")) if part)
            for each in status.findall("cac:Condition", _NS)]
        words = " ".join(part for part in (code, text) if part)
        if conditions:
            words += f" ({'; '.join(conditions)})"
        if words:
            found.append(words)
    return found


def status_of(envelope: Envelope, payload: etree._Element) -> StatusReport | None:
    """The status report a received response gives, or None for any other document."""
    if payload.tag != f"{{{APPLICATION_RESPONSE}}}ApplicationResponse":
        return None
    customization = _text(payload, "cbc:CustomizationID")
    if customization == INVOICE_RESPONSE:
        return _invoice_status(envelope, payload)
    if customization == MLR:
        return _message_status(envelope, payload)
    return None


def _invoice_status(envelope: Envelope, root: etree._Element) -> StatusReport | None:
    code = _text(root, "cac:DocumentResponse/cac:Response/cbc:ResponseCode")
    number = _text(root, "cac:DocumentResponse/cac:DocumentReference/cbc:ID")
    type_code = _text(root, "cac:DocumentResponse/cac:DocumentReference/cbc:DocumentTypeCode")
    agency = _agency_oin(envelope, root)
    if code not in INVOICE_STATES or number is None or agency is None:
        return None
    response = root.find("cac:DocumentResponse/cac:Response", _NS)
    assert response is not None  # the code was read from it
    reasons = _reasons(response)
    text = f"Invoice Response {code} ({INVOICE_STATES[code]})"
    if reasons:
        text += ": " + "; ".join(reasons)
    note = _text(root, "cbc:Note")
    detail = {"response_id": _text(root, "cbc:ID") or "", "sbdh_instance": envelope.instance_id}
    if note:
        detail["note"] = note
    return StatusReport(
        code=code, text=text, agency_oin=agency,
        kind=_KINDS.get(type_code or "380", DocumentKind.INVOICE), document_number=number,
        business_state=INVOICE_STATES[code], final=code in ("RE", "PD"), at=_moment(root),
        detail=detail)


def _message_status(envelope: Envelope, root: etree._Element) -> StatusReport | None:
    code = _text(root, "cac:DocumentResponse/cac:Response/cbc:ResponseCode")
    reference = _text(root, "cac:DocumentResponse/cac:DocumentReference/cbc:ID")
    if code not in ("AB", "AP", "RE") or reference is None:
        return None
    problems = []
    for line in root.findall("cac:DocumentResponse/cac:LineResponse", _NS):
        words = " ".join(part for part in (
            _text(line, "cac:Response/cac:Status/cbc:StatusReasonCode"),
            _text(line, "cac:Response/cbc:Description"),
            f"at {_text(line, 'cac:LineReference/cbc:LineID')}") if part)
        problems.append(words)
    description = _text(root, "cac:DocumentResponse/cac:Response/cbc:Description")
    words = {"AB": "acknowledged", "AP": "accepted", "RE": "rejected"}[code]
    text = f"Message Level Response {code} ({words})"
    if description:
        text += f": {description}"
    if problems:
        text += " [" + "; ".join(problems) + "]"
    # Peppol MLRs quote the SBDH instance id of what they answer: our transport id.
    return StatusReport(
        code=f"MLR-{code}", text=text, transport_id=reference, failed=code == "RE",
        final=code == "RE", at=_moment(root),
        # The transmission answered, on the timeline too: a resend after a rejection
        # must not go under the same instance id (see PeppolChannel.send).
        detail={"response_id": _text(root, "cbc:ID") or "",
                "sbdh_instance": envelope.instance_id, "transmission": reference})
