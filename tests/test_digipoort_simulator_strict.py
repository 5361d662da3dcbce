"""The Digipoort simulator refuses what Digipoort refuses (wsa:To, own headers, berichtsoorten)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lxml import etree

from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.envelope import request_envelope
from plugins.digipoort.wus.pki import CertFiles, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust, sign

KVK_A = "30216247"
KVK_B = "30097265"
AGENCY = kv.Identiteit("00000001003214345000", "OIN")


@pytest.fixture(autouse=True)
def _standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry(make_plugin_manager())


@pytest.fixture(scope="module")
def invoice(registry: Registry) -> bytes:
    fmt = registry.format("ubl-ohnl:invoice:1.9")
    sample = fmt.samples()[0]
    return sample.data or fmt.encode(sample.document, sample.context)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    make_pki(folder, kvk_numbers=(KVK_A, KVK_B))
    return folder


@pytest.fixture
async def sim(installed_standards: Path, pki_dir: Path,
              registry: Registry) -> AsyncIterator[DigipoortSimulator]:
    simulator = DigipoortSimulator(SimulatorSettings(
        step_delay=0, pki_dir=pki_dir, standards_dir=installed_standards, registry=registry))
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _client(sim: DigipoortSimulator, kvk: str = KVK_A) -> WusClient:
    assert sim.pki is not None
    files: CertFiles = sim.pki.suppliers[kvk]
    return WusClient(
        SigningIdentity.from_files(files.cert, files.key),
        tls.client_context(files.cert, files.key, sim.pki.ca),
        server_trust=Trust.from_pem_files(sim.pki.ca),
    )


def _aanlever(payload: bytes, berichtsoort: str = "FACTUUR-UBL", kvk: str = KVK_A,
              aanleverkenmerk: str = "Happyflow") -> etree._Element:
    return kv.AanleverRequest(
        berichtsoort=berichtsoort,
        identiteit_belanghebbende=kv.Identiteit(kvk, "KvK"),
        rol_belanghebbende="Bedrijf",
        bericht_inhoud=kv.BerichtInhoud("text/xml", "factuur.xml", payload),
        aanleverkenmerk=aanleverkenmerk,
        identiteit_ontvanger=AGENCY,
        autorisatie_adres="http://geenausp.nl",
    ).to_element()


async def _post_envelope(client: WusClient, sim: DigipoortSimulator,
                         envelope: etree._Element, **sign_kw: object) -> etree._Element:
    message_id = envelope.findtext("{*}Header/{*}MessageID")
    data = sign(envelope, client.identity, **sign_kw)  # type: ignore[arg-type]
    return await client.post(sim.aanlever_url, ns.AANLEVEREN, data, message_id, 30.0)


# wsa:To is only checked for presence, not for being this service's address.
async def test_wsa_to_of_another_endpoint_is_refused(sim: DigipoortSimulator,
                                                     invoice: bytes) -> None:
    async with _client(sim) as client:
        envelope = request_envelope(
            _aanlever(invoice), to="https://elders.example.org/cpl/statusinformatieservice/1.2",
            action=ns.AANLEVEREN)
        with pytest.raises(kv.WusFault) as refused:
            await _post_envelope(client, sim, envelope)
        assert refused.value.foutcode == "ALS100"


# "No custom SOAP headers allowed" (domain.md 3.3): an own mustUnderstand header passes.
async def test_custom_soap_header_is_refused(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        envelope = request_envelope(_aanlever(invoice), to=sim.aanlever_url,
                                    action=ns.AANLEVEREN)
        header = envelope.find(f"{{{ns.SOAP}}}Header")
        assert header is not None
        own = etree.SubElement(header, "{urn:example:own}Routing")
        own.set(f"{{{ns.SOAP}}}mustUnderstand", "1")
        own.text = "please route me elsewhere"
        with pytest.raises(kv.WusFault):
            await _post_envelope(client, sim, envelope)


# Suspended berichtsoort (not even listed by getBerichtsoorten) and Rijk->supplier
#    berichtsoorten are accepted for aanleveren.
@pytest.mark.parametrize("berichtsoort", ["OFFERTE-UBL", "BESTELLING-UBL", "TIMECARD-HRXML"])
async def test_berichtsoort_not_open_for_aanleveren_is_refused(
        sim: DigipoortSimulator, invoice: bytes, berichtsoort: str) -> None:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault) as refused:
            await client.call(sim.aanlever_url, ns.AANLEVEREN,
                              _aanlever(invoice, berichtsoort=berichtsoort))
        assert refused.value.foutcode in ("ALS100", "ALS110")


# An XSD-valid but empty berichtsoort gets an aanleverFault, not a plain HTTP 500 (which a
# client would retry).
async def test_empty_berichtsoort_gets_an_aanleverfault(sim: DigipoortSimulator,
                                                        invoice: bytes) -> None:
    body = _aanlever(invoice)
    body.find(kv.q("berichtsoort")).text = "   "
    kv.validate(body)  # the koppelvlak XSD allows it (normalizedString, no minLength)
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault) as refused:
            await client.call(sim.aanlever_url, ns.AANLEVEREN, body)
    assert refused.value.foutcode in ("ALS100", "ALS110")


# StatusinformatieService: autorisatieAdres is required when the belanghebbende is not
#    the caller (koppelvlak XSD, autorisatieAdresType documentation). Supplier B reads A's.
async def test_other_party_cannot_list_processes_without_autorisatieadres(
        sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim, KVK_A) as a:
        body = await a.call(sim.aanlever_url, ns.AANLEVEREN, _aanlever(invoice, kvk=KVK_A))
        kenmerk = kv.parse_as(body, kv.AanleverResponse).kenmerk
    async with _client(sim, KVK_B) as b:
        request = kv.ProcessenRequest("FACTUUR-UBL", kv.Identiteit(KVK_A, "KvK"))
        try:
            answer = await b.call(sim.status_url,
                                  ns.request_action("status", "getProcessen"),
                                  request.to_element())
        except kv.WusFault:
            return
        found = [p.kenmerk for p in kv.parse_as(answer, kv.ProcessenResponse).resultaten]
        assert kenmerk not in found, "supplier B sees supplier A's aanlevering"


async def test_other_party_cannot_read_statuses_without_autorisatieadres(
        sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim, KVK_A) as a:
        body = await a.call(sim.aanlever_url, ns.AANLEVEREN, _aanlever(invoice, kvk=KVK_A))
        kenmerk = kv.parse_as(body, kv.AanleverResponse).kenmerk
    await sim.wait_finished(kenmerk)
    async with _client(sim, KVK_B) as b:
        request = kv.StatusRequest(kenmerk)  # no autorisatieAdres
        with pytest.raises(kv.WusFault):
            await b.call(sim.status_url, ns.request_action("status", request.operation),
                         request.to_element())
