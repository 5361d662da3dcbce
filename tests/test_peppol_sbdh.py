"""The SBDH around Peppol documents: ids derived from the payload, checked when unwrapping."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from gateway.identifiers import PeppolParticipantId
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.peppol.sbdh import (
    DOCUMENT_ID_SCHEME,
    PARTICIPANT_AUTHORITY,
    PROCESS_ID_SCHEME,
    SBDH_NS,
    SBDHError,
    document_ids,
    unwrap,
    wrap,
)

REGISTRY = build_registry(make_plugin_manager())
SUPPLIER = PeppolParticipantId.parse("0106:30097265")
SUPPLIER_VAT = PeppolParticipantId.parse("9944:NL001427507B01")
AGENCY = PeppolParticipantId.parse("0190:00000001003227522000")
UBL = "urn:oasis:names:specification:ubl:schema:xsd"
BILLING = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
NLCIUS = "urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0"
BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS = {"sh": SBDH_NS}


def sample(key: str) -> bytes:
    fmt = REGISTRY.format(key)
    first = fmt.samples()[0]
    return first.data if first.data is not None else fmt.encode(first.document, first.context)


CASES = [
    ("peppol-bis:invoice:3.0", f"{UBL}:Invoice-2::Invoice##{BILLING}::2.1", BILLING_PROCESS),
    ("peppol-bis:credit-note:3.0", f"{UBL}:CreditNote-2::CreditNote##{BILLING}::2.1",
     BILLING_PROCESS),
    ("nlcius:credit-note:1.0", f"{UBL}:CreditNote-2::CreditNote##{NLCIUS}::2.1",
     BILLING_PROCESS),
    ("nlcius:invoice:1.0", f"{UBL}:Invoice-2::Invoice##{NLCIUS}::2.1", BILLING_PROCESS),
    ("peppol-bis:order-response:3",
     f"{UBL}:OrderResponse-2::OrderResponse##urn:fdc:peppol.eu:poacc:trns:order_response:3::2.1",
     "urn:fdc:peppol.eu:poacc:bis:ordering:3"),
]


@pytest.mark.parametrize(("key", "document_type", "process"), CASES, ids=[c[0] for c in CASES])
def test_wrap_derives_the_ids_and_unwrap_gives_back_the_payload(
    key: str, document_type: str, process: str,
) -> None:
    payload = sample(key)
    created = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    envelope, data = wrap(payload, sender=SUPPLIER, receiver=AGENCY, instance_id="inst-1",
                          created=created)
    assert envelope.ids.document_type_id == document_type
    assert envelope.ids.process_id == process
    header = etree.fromstring(data).find("sh:StandardBusinessDocumentHeader", NS)
    assert header is not None
    assert header.findtext("sh:HeaderVersion", namespaces=NS) == "1.0"
    sender = header.find("sh:Sender/sh:Identifier", NS)
    assert sender is not None
    assert (sender.get("Authority"), sender.text) == (PARTICIPANT_AUTHORITY, "0106:30097265")
    assert header.findtext("sh:Receiver/sh:Identifier", namespaces=NS) == (
        "0190:00000001003227522000")
    ident = header.find("sh:DocumentIdentification", NS)
    assert ident is not None
    root_name = document_type.split("::")[1].split("##")[0]
    assert [child.text for child in ident] == [
        document_type.split("::")[0], "2.1", "inst-1", root_name, "2026-03-02T09:30:00+00:00"]
    scopes = {scope.findtext("sh:Type", namespaces=NS): (
        scope.findtext("sh:InstanceIdentifier", namespaces=NS),
        scope.findtext("sh:Identifier", namespaces=NS))
        for scope in header.iterfind("sh:BusinessScope/sh:Scope", NS)}
    assert scopes == {"DOCUMENTID": (document_type, DOCUMENT_ID_SCHEME),
                      "PROCESSID": (process, PROCESS_ID_SCHEME), "COUNTRY_C1": ("NL", None)}

    back, body = unwrap(data)
    assert back == envelope
    # The payload comes back as the same document (the format decodes it alike).
    fmt = REGISTRY.format(key)
    assert fmt.decode(body).document == fmt.decode(payload).document
    assert document_ids(body) == envelope.ids


def test_a_vat_sender_is_carried_as_given() -> None:
    envelope, data = wrap(sample("peppol-bis:invoice:3.0"), sender=SUPPLIER_VAT, receiver=AGENCY)
    assert unwrap(data)[0].sender == SUPPLIER_VAT
    assert len(envelope.instance_id) == 36  # a fresh UUID when none is given


def _tamper(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def test_unwrap_refuses_a_header_that_disagrees_with_its_payload() -> None:
    _, data = wrap(sample("peppol-bis:invoice:3.0"), sender=SUPPLIER, receiver=AGENCY)
    with pytest.raises(SBDHError, match=r"Scope\[PROCESSID\]/InstanceIdentifier is 'x'"):
        unwrap(_tamper(data, f">{BILLING_PROCESS}<".encode(), b">x<"))
    with pytest.raises(SBDHError, match=r"DocumentIdentification/Type is 'CreditNote'"):
        unwrap(_tamper(data, b"<Type>Invoice</Type>", b"<Type>CreditNote</Type>"))
    with pytest.raises(SBDHError, match="Authority is 'other'"):
        unwrap(_tamper(data, PARTICIPANT_AUTHORITY.encode(), b"other"))
    with pytest.raises(SBDHError, match="receiver participant"):
        unwrap(_tamper(data, b"0190:00000001003227522000", b"0190:123"))
    with pytest.raises(SBDHError, match=r"HeaderVersion is '2\.0'"):
        unwrap(_tamper(data, b"<HeaderVersion>1.0<", b"<HeaderVersion>2.0<"))


def test_unwrap_refuses_what_is_not_an_sbdh() -> None:
    with pytest.raises(SBDHError, match="not an SBDH document: the root is <Invoice>"):
        unwrap(sample("peppol-bis:invoice:3.0"))
    hostile = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
               b'<StandardBusinessDocument xmlns="' + SBDH_NS.encode() + b'">&e;'
               b"</StandardBusinessDocument>")
    with pytest.raises(SBDHError, match="not an SBDH document"):
        unwrap(hostile)
    empty = (b'<StandardBusinessDocument xmlns="' + SBDH_NS.encode() + b'">'
             b"<StandardBusinessDocumentHeader><HeaderVersion>1.0</HeaderVersion>"
             b"</StandardBusinessDocumentHeader></StandardBusinessDocument>")
    with pytest.raises(SBDHError, match="carries 0 payload elements"):
        unwrap(empty)


def test_wrap_refuses_a_payload_that_cannot_address_itself() -> None:
    with pytest.raises(SBDHError, match="has no cbc:CustomizationID or cbc:ProfileID"):
        wrap(b"<Invoice xmlns='urn:example'/>", sender=SUPPLIER, receiver=AGENCY)
    with pytest.raises(SBDHError, match="not XML"):
        wrap(b"not xml", sender=SUPPLIER, receiver=AGENCY)
