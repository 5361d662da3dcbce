"""How received Invoice Responses and MLRs read as status reports on the message they answer."""

from __future__ import annotations

import attrs
import pytest

from gateway.channels import StatusReport
from gateway.formats import EncodeContext
from gateway.identifiers import PeppolParticipantId
from gateway.kinds import DocumentKind
from gateway.model import DocumentReference, InvoiceStatus
from gateway.store import BusinessState
from gateway.xmlsafe import parse_xml
from plugins.peppol.responses import status_of
from plugins.peppol.sbdh import unwrap, wrap
from plugins.ubl_ordering.formats import PeppolInvoiceResponse, PeppolMessageLevelResponse
from plugins.ubl_ordering.samples import AGENCY_OIN, invoice_response, sample_message_responses

AGENCY = PeppolParticipantId.parse(f"0190:{AGENCY_OIN}")
SUPPLIER = PeppolParticipantId.parse("0106:30097265")


def _report(payload: bytes, sender: PeppolParticipantId = AGENCY) -> StatusReport | None:
    envelope, data = wrap(payload, sender=sender, receiver=SUPPLIER, instance_id="resp-1")
    envelope, body = unwrap(data)
    return status_of(envelope, parse_xml(body).getroot())


@pytest.mark.parametrize("status", list(InvoiceStatus), ids=lambda s: s.value)
def test_every_invoice_response_code_sets_its_business_state(status: InvoiceStatus) -> None:
    response = invoice_response(status, invoice_number="F2026-7")
    report = _report(PeppolInvoiceResponse().encode(response, EncodeContext()))
    assert report is not None
    assert report.business_state == BusinessState(status.value).value
    assert (report.agency_oin, report.kind, report.document_number) == (
        AGENCY_OIN, DocumentKind.INVOICE, "F2026-7")
    assert report.transport_id is None
    assert report.failed is False
    assert report.final is (status in (InvoiceStatus.REJECTED, InvoiceStatus.PAID))
    assert report.text.startswith(f"Invoice Response {report.code} ({status.value})")


def test_the_reasons_and_a_credit_note_reference_are_carried() -> None:
    response = attrs.evolve(
        invoice_response(InvoiceStatus.UNDER_QUERY),
        invoice_reference=DocumentReference(id="CN-1", type_code="381"))
    report = _report(PeppolInvoiceResponse().encode(response, EncodeContext()))
    assert report is not None
    assert report.kind is DocumentKind.CREDIT_NOTE
    assert "REF Ordernummer ontbreekt (BT-13)" in report.text
    assert "NOA" in report.text


def test_the_agency_is_read_from_the_response_when_the_envelope_does_not_name_its_oin() -> None:
    response = invoice_response(InvoiceStatus.ACCEPTED)
    report = _report(PeppolInvoiceResponse().encode(response, EncodeContext()),
                     sender=PeppolParticipantId.parse("0088:7300010000001"))
    assert report is not None
    assert report.agency_oin == AGENCY_OIN


def test_an_mlr_rejection_fails_the_transmission_it_quotes() -> None:
    rejected = sample_message_responses()[0][1]
    report = _report(PeppolMessageLevelResponse().encode(rejected, EncodeContext()))
    assert report is not None
    assert (report.code, report.transport_id, report.failed, report.final) == (
        "MLR-RE", "F2026-0042", True, True)
    assert report.business_state is None
    assert "BR-NL-1" in report.text


def test_an_mlr_acceptance_only_notes_the_fact() -> None:
    accepted = sample_message_responses()[1][1]
    report = _report(PeppolMessageLevelResponse().encode(accepted, EncodeContext()))
    assert report is not None
    assert (report.code, report.failed, report.business_state) == ("MLR-AP", False, None)


def test_other_documents_say_nothing_about_our_messages() -> None:
    order_response = b"""<OrderResponse
      xmlns="urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2"
      xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
      <cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:order_response:3</cbc:CustomizationID>
      <cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:ordering:3</cbc:ProfileID></OrderResponse>"""
    assert _report(order_response) is None
