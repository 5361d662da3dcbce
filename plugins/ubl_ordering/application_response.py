"""Peppol Invoice Response (T111) and Message Level Response (T71), both a UBL ApplicationResponse.

The two share the envelope (identifiers, sender and receiver party, one
DocumentResponse) and differ in what the response says: T111 carries an
invoice status with clarification codes and the fields they point at, T71
whether a document was taken in, with one line per problem found. Only
what each transaction allows is written, so the VEFA structure rules (no
element outside the data model) pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from lxml import etree

from gateway.model import (
    DocumentReference,
    InvoiceResponse,
    InvoiceStatus,
    MessageLevelResponse,
    MessageLineResponse,
    MessageStatus,
    Party,
    StatusClarification,
    StatusCondition,
)
from plugins.ubl import (
    TrackingReader,
    UBLReadError,
    element,
    format_date,
    make_root,
    path_of,
    sub,
    to_bytes,
)
from plugins.ubl_ordering.errors import UBLOrderingError
from plugins.ubl_ordering.order import Header
from plugins.ubl_ordering.parties import read_party, read_party_id, scheme_attribute

INVOICE_STATUS_CODES = {
    InvoiceStatus.ACKNOWLEDGED: "AB",
    InvoiceStatus.IN_PROCESS: "IP",
    InvoiceStatus.UNDER_QUERY: "UQ",
    InvoiceStatus.CONDITIONALLY_ACCEPTED: "CA",
    InvoiceStatus.REJECTED: "RE",
    InvoiceStatus.ACCEPTED: "AP",
    InvoiceStatus.PAID: "PD",
}
MESSAGE_STATUS_CODES = {
    MessageStatus.ACKNOWLEDGED: "AB",
    MessageStatus.ACCEPTED: "AP",
    MessageStatus.REJECTED: "RE",
}
_INVOICE_STATUS_OF_CODE = {code: status for status, code in INVOICE_STATUS_CODES.items()}
_MESSAGE_STATUS_OF_CODE = {code: status for status, code in MESSAGE_STATUS_CODES.items()}
# PEPPOL-T111-R001: these statuses must say why.
NEEDS_CLARIFICATION = (InvoiceStatus.CONDITIONALLY_ACCEPTED, InvoiceStatus.UNDER_QUERY,
                       InvoiceStatus.REJECTED)


# -- writing --------------------------------------------------------------------------------


def _time(value: dt.time | None) -> str | None:
    return value.isoformat() if value is not None else None


def _write_header(root: etree._Element, header: Header, number: str, issue_date: dt.date,
                  issue_time: dt.time | None) -> None:
    sub(root, "cbc:CustomizationID", header.customization_id)
    sub(root, "cbc:ProfileID", header.profile_id)
    sub(root, "cbc:ID", number)
    sub(root, "cbc:IssueDate", format_date(issue_date))
    sub(root, "cbc:IssueTime", _time(issue_time))


def _write_endpoint(node: etree._Element, party: Party) -> None:
    assert party.endpoint_id is not None  # checked before writing
    sub(node, "cbc:EndpointID", party.endpoint_id.value,
        schemeID=scheme_attribute(party.endpoint_id, address=True))


def _write_identification(node: etree._Element, party: Party) -> None:
    for each in party.ids:
        sub(element(node, "cac:PartyIdentification"), "cbc:ID", each.value,
            schemeID=scheme_attribute(each))


def _write_t111_party(root: etree._Element, role: str, party: Party) -> None:
    node = element(root, role)
    _write_endpoint(node, party)
    _write_identification(node, party)
    sub(element(node, "cac:PartyLegalEntity"), "cbc:RegistrationName", party.registration_name)
    contact = party.contact
    if contact is not None:
        person = element(node, "cac:Contact")
        sub(person, "cbc:Name", contact.name)
        sub(person, "cbc:Telephone", contact.telephone)
        sub(person, "cbc:ElectronicMail", contact.email)


def _write_named_party(parent: etree._Element, role: str, party: Party | None) -> None:
    if party is None:
        return
    node = element(parent, role)
    _write_identification(node, party)
    sub(element(node, "cac:PartyName"), "cbc:Name", party.name)


def _lost_in_t111_party(role: str, party: Party) -> list[str]:
    problems = []
    if party.endpoint_id is None:
        problems.append(f"the {role} needs an electronic address (EndpointID)")
    if party.registration_name is None:
        problems.append(f"the {role} needs a registration name")
    if len(party.ids) > 1:
        problems.append(f"the {role} has {len(party.ids)} identifiers; T111 carries one")
    extra = [name for name, value in (
        ("name", party.name), ("legal id", party.legal_id), ("legal form", party.legal_form),
        ("VAT id", party.vat_id), ("tax registration id", party.tax_registration_id),
        ("address", party.address)) if value is not None]
    if extra:
        problems.append(f"the {role} has {', '.join(extra)}, which T111 cannot carry")
    return problems


def _lost_in_named_party(role: str, party: Party | None) -> list[str]:
    if party is None:
        return []
    problems = []
    if party.name is None:
        problems.append(f"the {role} needs a name (PartyName)")
    if len(party.ids) > 1:
        problems.append(f"the {role} has {len(party.ids)} identifiers; T111 carries one")
    if party.endpoint_id is not None or party.registration_name is not None or any(
            value is not None for value in (party.legal_id, party.vat_id, party.address,
                                            party.contact, party.legal_form,
                                            party.tax_registration_id)):
        problems.append(f"the {role} carries only identification and name in T111")
    return problems


def check_invoice_response(response: InvoiceResponse, key: str) -> None:
    """Refuse what T111 cannot say, naming every problem at once, before anything is written."""
    problems = _lost_in_t111_party("sender", response.sender)
    problems += _lost_in_t111_party("receiver", response.receiver)
    problems += _lost_in_named_party("issuer", response.issuer)
    problems += _lost_in_named_party("recipient", response.recipient)
    reference = response.invoice_reference
    if reference.type_code is None:
        problems.append("the invoice reference needs a type code (380 invoice, 381 credit note)")
    if reference.description is not None or reference.attachment is not None:
        problems.append("the invoice reference carries only id, issue date and type code")
    if response.status in NEEDS_CLARIFICATION and not any(
            each.code is not None for each in response.clarifications):
        problems.append(f"status {response.status.value} needs a clarification with a code "
                        "(PEPPOL-T111-R001)")
    if problems:
        raise UBLOrderingError(
            f"{key}: invoice response {response.number}: " + "; ".join(problems))


def write_invoice_response(response: InvoiceResponse, header: Header) -> bytes:
    root = make_root("ApplicationResponse")
    _write_header(root, header, response.number, response.issue_date, response.issue_time)
    sub(root, "cbc:Note", response.note)
    _write_t111_party(root, "cac:SenderParty", response.sender)
    _write_t111_party(root, "cac:ReceiverParty", response.receiver)
    document = element(root, "cac:DocumentResponse")
    answer = element(document, "cac:Response")
    sub(answer, "cbc:ResponseCode", INVOICE_STATUS_CODES[response.status])
    sub(answer, "cbc:EffectiveDate",
        format_date(response.effective_date) if response.effective_date else None)
    for clarification in response.clarifications:
        status = element(answer, "cac:Status")
        sub(status, "cbc:StatusReasonCode", clarification.code, listID=clarification.code_list)
        sub(status, "cbc:StatusReason", clarification.text)
        for condition in clarification.conditions:
            node = element(status, "cac:Condition")
            sub(node, "cbc:AttributeID", condition.attribute_id)
            sub(node, "cbc:Description", condition.description)
    reference = element(document, "cac:DocumentReference")
    sub(reference, "cbc:ID", response.invoice_reference.id)
    issued = response.invoice_reference.issue_date
    sub(reference, "cbc:IssueDate", format_date(issued) if issued else None)
    sub(reference, "cbc:DocumentTypeCode", response.invoice_reference.type_code)
    _write_named_party(document, "cac:IssuerParty", response.issuer)
    _write_named_party(document, "cac:RecipientParty", response.recipient)
    return to_bytes(root)


def check_message_response(response: MessageLevelResponse, key: str) -> None:
    """Refuse what T71 cannot say: its parties are electronic addresses only."""
    problems = []
    for role, party in (("sender", response.sender), ("receiver", response.receiver)):
        if party.endpoint_id is None:
            problems.append(f"the {role} needs an electronic address (EndpointID)")
        if party != Party(endpoint_id=party.endpoint_id):
            problems.append(f"the {role} carries only its electronic address in T71")
    reference = response.document_reference
    if (reference.issue_date is not None or reference.description is not None
            or reference.attachment is not None):
        problems.append("the document reference carries only id, type code and version")
    if problems:
        raise UBLOrderingError(
            f"{key}: message level response {response.number}: " + "; ".join(problems))


def write_message_response(response: MessageLevelResponse, header: Header) -> bytes:
    root = make_root("ApplicationResponse")
    _write_header(root, header, response.number, response.issue_date, response.issue_time)
    _write_endpoint(element(root, "cac:SenderParty"), response.sender)
    _write_endpoint(element(root, "cac:ReceiverParty"), response.receiver)
    document = element(root, "cac:DocumentResponse")
    answer = element(document, "cac:Response")
    sub(answer, "cbc:ResponseCode", MESSAGE_STATUS_CODES[response.status])
    sub(answer, "cbc:Description", response.description)
    reference = element(document, "cac:DocumentReference")
    sub(reference, "cbc:ID", response.document_reference.id)
    sub(reference, "cbc:DocumentTypeCode", response.document_reference.type_code)
    sub(reference, "cbc:VersionID", response.document_version)
    for line in response.line_responses:
        node = element(document, "cac:LineResponse")
        sub(element(node, "cac:LineReference"), "cbc:LineID", line.location)
        line_answer = element(node, "cac:Response")
        sub(line_answer, "cbc:ResponseCode",
            MESSAGE_STATUS_CODES[line.status] if line.status is not None else None)
        sub(line_answer, "cbc:Description", line.description)
        sub(element(line_answer, "cac:Status"), "cbc:StatusReasonCode", line.reason_code)
    return to_bytes(root)


# -- reading --------------------------------------------------------------------------------


def _required(reader: TrackingReader, node: etree._Element, path: str) -> str:
    value = reader.code(node, path)
    if value is None:
        raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
    return value


def _required_node(reader: TrackingReader, node: etree._Element, path: str) -> etree._Element:
    found = reader.first(node, path)
    if found is None:
        raise UBLReadError(f"{path_of(node)}/{path} is required")
    return found


def _read_header(reader: TrackingReader, root: etree._Element
                 ) -> tuple[str, dt.date, dt.time | None]:
    for name in ("cbc:CustomizationID", "cbc:ProfileID"):
        reader.code(root, name)
    issue_date = reader.date(root, "cbc:IssueDate")
    if issue_date is None:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueDate is required")
    text = reader.code(root, "cbc:IssueTime")
    try:
        issue_time = dt.time.fromisoformat(text) if text is not None else None
    except ValueError:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueTime: {text!r} is not a time") from None
    return _required(reader, root, "cbc:ID"), issue_date, issue_time


def _status_code(reader: TrackingReader, node: etree._Element, codes: Collection[str]) -> str:
    code_node = reader.peek(node, "cbc:ResponseCode")
    code = _required(reader, node, "cbc:ResponseCode")
    # The list name (UNCL4343OpSubset) adds nothing to the code itself.
    reader.attr(code_node, "listID")
    if code not in codes:
        raise UBLReadError(f"{path_of(node)}/cbc:ResponseCode: {code!r} is not one of "
                           f"{', '.join(codes)}")
    return code


def _read_clarification(reader: TrackingReader, node: etree._Element) -> StatusClarification:
    code_node = reader.peek(node, "cbc:StatusReasonCode")
    try:
        return StatusClarification(
            code=reader.code(node, "cbc:StatusReasonCode"),
            code_list=reader.attr(code_node, "listID"),
            text=reader.text(node, "cbc:StatusReason"),
            conditions=tuple(
                StatusCondition(attribute_id=_required(reader, each, "cbc:AttributeID"),
                                description=reader.text(each, "cbc:Description"))
                for each in reader.all(node, "cac:Condition")),
        )
    except ValueError as exc:
        raise UBLReadError(f"{path_of(node)}: {exc}") from None


def _read_party(reader: TrackingReader, root: etree._Element, role: str) -> Party:
    return read_party(reader, _required_node(reader, root, role))


def _read_optional_party(reader: TrackingReader, node: etree._Element, role: str
                         ) -> Party | None:
    found = reader.first(node, role)
    return read_party(reader, found) if found is not None else None


def read_invoice_response(root: etree._Element) -> tuple[InvoiceResponse, list[str]]:
    """The invoice response in ``root`` and one warning per element the model has no place for."""
    reader = TrackingReader(root)
    number, issue_date, issue_time = _read_header(reader, root)
    document = _required_node(reader, root, "cac:DocumentResponse")
    answer = _required_node(reader, document, "cac:Response")
    code = _status_code(reader, answer, _INVOICE_STATUS_OF_CODE)
    reference = _required_node(reader, document, "cac:DocumentReference")
    response = InvoiceResponse(
        number=number,
        issue_date=issue_date,
        issue_time=issue_time,
        note=reader.text(root, "cbc:Note"),
        status=_INVOICE_STATUS_OF_CODE[code],
        effective_date=reader.date(answer, "cbc:EffectiveDate"),
        clarifications=tuple(_read_clarification(reader, each)
                             for each in reader.all(answer, "cac:Status")),
        invoice_reference=DocumentReference(
            id=_required(reader, reference, "cbc:ID"),
            issue_date=reader.date(reference, "cbc:IssueDate"),
            type_code=reader.code(reference, "cbc:DocumentTypeCode"),
        ),
        sender=_read_party(reader, root, "cac:SenderParty"),
        receiver=_read_party(reader, root, "cac:ReceiverParty"),
        issuer=_read_optional_party(reader, document, "cac:IssuerParty"),
        recipient=_read_optional_party(reader, document, "cac:RecipientParty"),
    )
    return response, reader.unread()


def _endpoint_party(reader: TrackingReader, root: etree._Element, role: str) -> Party:
    node = _required_node(reader, root, role)
    endpoint = read_party_id(reader, reader.peek(node, "cbc:EndpointID"))
    if endpoint is None:
        raise UBLReadError(f"{path_of(node)}/cbc:EndpointID is required")
    return Party(endpoint_id=endpoint)


def _read_line(reader: TrackingReader, node: etree._Element) -> MessageLineResponse:
    answer = _required_node(reader, node, "cac:Response")
    code = reader.code(answer, "cbc:ResponseCode")
    if code is not None and code not in _MESSAGE_STATUS_OF_CODE:
        raise UBLReadError(f"{path_of(answer)}/cbc:ResponseCode: {code!r} is not one of "
                           f"{', '.join(_MESSAGE_STATUS_OF_CODE)}")
    return MessageLineResponse(
        location=_required(reader, node, "cac:LineReference/cbc:LineID"),
        description=reader.required_text(answer, "cbc:Description"),
        reason_code=_required(reader, answer, "cac:Status/cbc:StatusReasonCode"),
        status=_MESSAGE_STATUS_OF_CODE[code] if code is not None else None,
    )


def read_message_response(root: etree._Element) -> tuple[MessageLevelResponse, list[str]]:
    """The message level response in ``root`` and one warning per element left unread."""
    reader = TrackingReader(root)
    number, issue_date, issue_time = _read_header(reader, root)
    document = _required_node(reader, root, "cac:DocumentResponse")
    answer = _required_node(reader, document, "cac:Response")
    code = _status_code(reader, answer, _MESSAGE_STATUS_OF_CODE)
    reference = _required_node(reader, document, "cac:DocumentReference")
    response = MessageLevelResponse(
        number=number,
        issue_date=issue_date,
        issue_time=issue_time,
        status=_MESSAGE_STATUS_OF_CODE[code],
        description=reader.text(answer, "cbc:Description"),
        document_reference=DocumentReference(
            id=_required(reader, reference, "cbc:ID"),
            type_code=reader.code(reference, "cbc:DocumentTypeCode"),
        ),
        document_version=reader.code(reference, "cbc:VersionID"),
        sender=_endpoint_party(reader, root, "cac:SenderParty"),
        receiver=_endpoint_party(reader, root, "cac:ReceiverParty"),
        line_responses=tuple(_read_line(reader, each)
                             for each in reader.all(document, "cac:LineResponse")),
    )
    return response, reader.unread()
