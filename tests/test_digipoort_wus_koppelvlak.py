"""Koppelvlak bodies round-trip through the Logius XSD; bad bodies are named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateway.errors import StandardsError
from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.wus import berichtsoorten, codes, ns
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus.envelope import (
    EnvelopeError,
    fault_envelope,
    parse_envelope,
    request_envelope,
)


@pytest.fixture(autouse=True)
def _standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


WHEN = datetime(2026, 11, 29, 13, 45, 12, 123000, tzinfo=UTC)
SUPPLIER = kv.Identiteit("30216247", "KvK")
AGENCY = kv.Identiteit("00000001003214345000", "OIN")
INHOUD = kv.BerichtInhoud("text/xml", "factuur.xml", b"<Invoice>\xc3\xa9</Invoice>")

BODIES: list[Any] = [
    kv.AanleverRequest(
        berichtsoort="FACTUUR-UBL",
        identiteit_belanghebbende=SUPPLIER,
        rol_belanghebbende="Bedrijf",
        bericht_inhoud=INHOUD,
        kenmerk="k-1",
        aanleverkenmerk="Happyflow",
        eerder_aanleverkenmerk="earlier",
        identiteit_ontvanger=AGENCY,
        rol_ontvanger="Overheid",
        bijlagen=(kv.BerichtInhoud("application/pdf", "bijlage.pdf", b"%PDF-1.4"),),
        autorisatie_adres="http://geenausp.nl",
    ),
    kv.AanleverRequest("E-Factuur-UBL", SUPPLIER, "Bedrijf", INHOUD),
    kv.AanleverResponse(
        kenmerk="a1b2",
        berichtsoort="FACTUUR-UBL",
        tijdstempel_aangeleverd=WHEN,
        identiteit_belanghebbende=SUPPLIER,
        rol_belanghebbende="Bedrijf",
        aanleverkenmerk="Happyflow",
        identiteit_ontvanger=AGENCY,
        autorisatie_adres="http://geenausp.nl",
        statuscode="100",
        tijdstempel_status=WHEN,
        statusomschrijving="Aanleveren gelukt",
        status_foutcode=kv.Fout("X1", "none"),
        statusdetails="details",
    ),
    kv.AfleverRequest(
        kenmerk="k-2",
        berichtsoort="BESTELLING-UBL",
        berichtkenmerk="urn:uuid:1",
        tijdstempel_aangeleverd=WHEN,
        identiteit_belanghebbende=AGENCY,
        rol_belanghebbende="Overheid",
        bericht_inhoud=INHOUD,
        aanleverkenmerk="order-1",
        identiteit_aanleveraar="00000001003214345000",
        identiteit_ontvanger=SUPPLIER,
        rol_ontvanger="Bedrijf",
        constateringen=(kv.Constatering("C1", "ok"),),
        additionele_elementen=(("naam", "waarde"),),
    ),
    kv.AfleverResponse(
        kenmerk="k-2",
        berichtkenmerk="urn:uuid:1",
        tijdstempel_afgeleverd=WHEN,
        berichtsoort="BESTELLING-UBL",
        statuscode="200",
    ),
    kv.StatusRequest("k-3", "http://geenausp.nl", WHEN, WHEN),
    kv.StatusRequest("k-3", nieuw=True),
    kv.NieuweStatussenRequest("FACTUUR-UBL", SUPPLIER, "http://geenausp.nl", WHEN),
    kv.ProcessenRequest("FACTUUR-UBL", SUPPLIER),
    kv.BerichtsoortenRequest(SUPPLIER, "http://geenausp.nl"),
    kv.StatusResponse(
        "getStatussenProces",
        (
            kv.StatusResultaat("k-3", SUPPLIER, "100", WHEN, "Aanleveren gelukt"),
            kv.StatusResultaat(
                "k-3", SUPPLIER, "311", WHEN, "Validatie niet gelukt",
                kv.Fout("VAS500", "schema"), "line 3: bad",
            ),
        ),
    ),
    kv.StatusResponse("getNieuweStatussenProces", ()),
    kv.StatusResponse("getNieuweStatussen", ()),
    kv.ProcessenResponse((kv.ProcesResultaat("k-3", "FACTUUR-UBL", SUPPLIER, AGENCY),)),
    kv.BerichtsoortenResponse(("FACTUUR-UBL", "BESTELLING-BEVESTIGING-UBL")),
    *[
        kv.OphaalRequest(op, SUPPLIER, "BESTELLING-UBL", None, "http://geenausp.nl", WHEN, WHEN)
        for op in ("getBerichten", "getNieuweBerichten")
    ],
    kv.OphaalRequest("getBerichtenLijst", berichtsoort="BESTELLING-UBL"),
    kv.OphaalRequest("getNieuweBerichtenLijst"),
    kv.OphaalRequest("getBerichtenKenmerk", kenmerk="k-4"),
    kv.OphaalRequest("getNieuweBerichtenKenmerk", kenmerk="k-4", tot=WHEN),
    kv.OphaalResponse(
        "getNieuweBerichten",
        berichten=(
            kv.AfleverRequest(
                "k-4", "TIMECARD-HRXML", "m-1", WHEN, AGENCY, "Overheid", INHOUD,
                eerder_aanleverkenmerk="x",
            ),
        ),
    ),
    kv.OphaalResponse(
        "getBerichtenLijst", lijst=(kv.BerichtLijstResultaat("BESTELLING-UBL", SUPPLIER, "k-4"),)
    ),
    kv.WusFault("aanlever", "ALS100", "Het verzoek voldoet niet"),
    kv.WusFault("status", "STS100", "onbekend kenmerk"),
    kv.WusFault("ophaal", "ALS100", "x"),
    kv.WusFault("aflever", "AFS400", "y"),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_every_body_round_trips_through_the_xsd(body: Any) -> None:
    element = body.to_element()
    kv.validate(element)
    # Through bytes, as on the wire.
    again = etree.fromstring(etree.tostring(element))
    assert kv.parse_body(again) == body


def test_ophaal_request_refuses_a_field_its_operation_lacks() -> None:
    with pytest.raises(kv.KoppelvlakError, match="getBerichtenRequest has no kenmerk"):
        kv.OphaalRequest("getBerichten", SUPPLIER, kenmerk="k").to_element()


def test_inhoud_is_base64_on_the_wire() -> None:
    element = BODIES[1].to_element()
    inhoud = element.find(f"{{{ns.KV}}}berichtInhoud/{{{ns.KV}}}inhoud")
    assert inhoud is not None
    assert inhoud.text == "PEludm9pY2U+w6k8L0ludm9pY2U+"


def test_fields_follow_the_xsd_sequence() -> None:
    names = [etree.QName(c).localname for c in BODIES[0].to_element()]
    assert names == [
        "kenmerk", "berichtsoort", "aanleverkenmerk", "eerderAanleverkenmerk",
        "identiteitBelanghebbende", "rolBelanghebbende", "identiteitOntvanger",
        "rolOntvanger", "berichtInhoud", "berichtBijlagen", "autorisatieAdres",
    ]


def test_building_an_invalid_body_names_the_element() -> None:
    too_long = kv.AanleverRequest("X" * 81, SUPPLIER, "Bedrijf", INHOUD)
    with pytest.raises(kv.KoppelvlakError, match="berichtsoort"):
        too_long.to_element()


def test_parsing_a_body_out_of_order_names_the_element() -> None:
    element = BODIES[1].to_element()
    rol = element.find(f"{{{ns.KV}}}rolBelanghebbende")
    assert rol is not None
    element.remove(rol)
    element.insert(0, rol)
    with pytest.raises(kv.KoppelvlakError) as caught:
        kv.AanleverRequest.from_element(element)
    assert "aanleverRequest" in str(caught.value)
    assert "rolBelanghebbende" in str(caught.value)


def test_parsing_the_wrong_element_is_refused() -> None:
    with pytest.raises(kv.KoppelvlakError, match="expected kv:aanleverResponse"):
        kv.AanleverResponse.from_element(BODIES[1].to_element())
    with pytest.raises(kv.KoppelvlakError, match="expected AanleverResponse"):
        kv.parse_as(BODIES[1].to_element(), kv.AanleverResponse)


def test_a_missing_xsd_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(tmp_path))
    # No running channel's configured folder either (one an earlier test left started).
    monkeypatch.setattr(kv, "_standards_dirs", [])
    # An installation problem (the kit skips a channel for it), and still what a server
    # checking bodies turns into a fault naming the file.
    with pytest.raises(StandardsError, match="gateway standards install") as caught:
        BODIES[1].to_element()
    assert isinstance(caught.value, kv.KoppelvlakError)


def test_request_envelope_has_the_addressing_headers() -> None:
    envelope = request_envelope(
        BODIES[1].to_element(), to="https://x/aanleverservice/1.2", action=ns.AANLEVEREN
    )
    parsed = parse_envelope(etree.tostring(envelope))
    assert parsed.addressing.to == "https://x/aanleverservice/1.2"
    assert parsed.addressing.action == (
        "http://logius.nl/digipoort/wus/2.0/aanleverservice/1.2/AanleverService/aanleverenRequest"
    )
    assert (parsed.addressing.message_id or "").startswith("urn:uuid:")
    assert parsed.addressing.reply_to == ns.WSA_ANONYMOUS
    assert parsed.body is not None
    assert kv.parse_body(parsed.body) == BODIES[1]


def test_fault_envelope_carries_the_koppelvlak_fault() -> None:
    data = fault_envelope(
        kv.WusFault("aanlever", "ALS100", "fout"), operation="aanleveren", relates_to="urn:x"
    )
    parsed = parse_envelope(data)
    assert parsed.fault == kv.WusFault("aanlever", "ALS100", "fout")
    assert parsed.addressing.relates_to == "urn:x"
    assert parsed.addressing.action == ns.fault_action("aanlever", "aanleveren")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<not-xml", "not well-formed"),
        (b"<a/>", "SOAP 1.1 Envelope"),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>',
            "0 soapenv:Body",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<s:Body><a/><b/></s:Body></s:Envelope>",
            "holds 2 elements",
        ),
    ],
)
def test_malformed_envelopes_are_named(data: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(data)


def test_actions_and_environments() -> None:
    assert ns.request_action("status", "getNieuweStatussenProces") == (
        "http://logius.nl/digipoort/wus/2.0/statusinformatieservice/1.2/"
        "StatusinformatieService/getNieuweStatussenProcesRequest"
    )
    assert ns.operation_of(ns.AFLEVEREN) == ("aflever", "afleveren")
    assert ns.operation_of("urn:other") is None
    assert ns.ENVIRONMENTS["cs-bedrijven"]["aanlever"] == (
        "https://cs-bedrijven.procesinfrastructuur.nl/cpl/aanleverservice/1.2"
    )
    assert ns.ENVIRONMENTS["productie-2026"]["status"] == (
        "https://wus.digipoort.logius.nl/wus/2.0/statusinformatieservice/1.2"
    )
    assert set(ns.ENVIRONMENTS) == {
        "cs-bedrijven", "preproductie", "productie", "preproductie-2026", "productie-2026"
    }


def test_aflever_wsdl_is_shipped_and_names_the_xsd_elements() -> None:
    tree = etree.parse(str(ns.AFLEVER_WSDL))
    text = etree.tostring(tree).decode()
    assert "OUR OWN RECONSTRUCTION" in text
    for element in ("kv:afleverRequest", "kv:afleverResponse", "kv:afleverFault"):
        assert element in text
    assert tree.getroot().get("targetNamespace") == ns.AFLEVER_NS


def test_codes() -> None:
    assert codes.HAPPY_FLOW == ("105", "100", "110", "200", "301", "301", "405", "400", "500")
    assert codes.is_terminal("500")
    assert codes.is_terminal("311")
    assert codes.is_terminal("410")
    assert not codes.is_terminal("420")
    assert codes.is_terminal("420", "AFS600")
    assert codes.retryable("ALS400")
    assert not codes.retryable("ALS100")
    assert not any(codes.retryable(f"ALS1{n}0") for n in range(8))
    assert kv.WusFault("aanlever", "ALS400", "x").retryable
    assert not codes.retryable("NOPE")


def test_berichtsoorten_both_ways() -> None:
    factuur = berichtsoorten.for_document("invoice", "ubl-ohnl:invoice:1.9")
    assert factuur.name == "FACTUUR-UBL"
    assert berichtsoorten.for_document(
        "invoice", "ubl-ohnl:invoice:1.9", with_order=False
    ).name == "E-Factuur-UBL"
    assert berichtsoorten.for_document(
        "order-response", "ubl-ohnl:order-response:1.9"
    ).name == "BESTELLING-BEVESTIGING-UBL"
    assert berichtsoorten.for_document(
        "human-resource", "setu-ohnl:human-resource:2.0"
    ).name == "BESTELLING-BEVESTIGING-HRXML"
    assert berichtsoorten.for_document("invoice", "setu-ohnl:invoice:2.0").name == "FACTUUR-HRXML"
    timecard = berichtsoorten.by_name("timecard-hrxml")
    assert (timecard.kind, timecard.format_prefix, timecard.direction) == (
        "timecard", "setu-ohnl:timecard", "inbound"
    )
    assert berichtsoorten.by_name("E-Factuur-HRXML").name == "E-FACTUUR-HRXML"
    with pytest.raises(KeyError, match="unknown berichtsoort 'NOPE'"):
        berichtsoorten.by_name("NOPE")
    with pytest.raises(KeyError, match="no Digipoort berichtsoort"):
        berichtsoorten.for_document("invoice", "peppol-bis:invoice:3.0")
