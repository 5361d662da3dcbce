"""The Digipoort simulator, driven by a real WUS client over two-way TLS on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from lxml import etree

from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from plugins.digipoort.simulator import (
    DigipoortSimulator,
    Fault,
    FaultKind,
    SimulatorSettings,
)
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient, WusTransportError
from plugins.digipoort.wus.envelope import request_envelope
from plugins.digipoort.wus.pki import CertFiles, Pki, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust, sign
from plugins.digipoort.wus.server import WusEndpoint, WusRequest

SUPPLIER = kv.Identiteit("30216247", "KvK")
AGENCY = kv.Identiteit("00000001003214345000", "OIN")
HAPPY = ["105", "100", "110", "200", "301", "301", "405", "400", "500"]


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
    make_pki(folder)
    return folder


@pytest.fixture
async def sim(
    installed_standards: Path, pki_dir: Path, registry: Registry
) -> AsyncIterator[DigipoortSimulator]:
    settings = SimulatorSettings(
        step_delay=0,
        slow_delay=0.3,
        pki_dir=pki_dir,
        standards_dir=installed_standards,
        registry=registry,
    )
    simulator = DigipoortSimulator(settings)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _client(sim: DigipoortSimulator, files: CertFiles | None = None) -> WusClient:
    assert sim.pki is not None
    files = files or sim.pki.supplier
    return WusClient(
        SigningIdentity.from_files(files.cert, files.key),
        tls.client_context(files.cert, files.key, sim.pki.ca),
        server_trust=Trust.from_pem_files(sim.pki.ca),
    )


def _aanlever(payload: bytes, aanleverkenmerk: str = "Happyflow",
              berichtsoort: str = "FACTUUR-UBL") -> etree._Element:
    return kv.AanleverRequest(
        berichtsoort=berichtsoort,
        identiteit_belanghebbende=SUPPLIER,
        rol_belanghebbende="Bedrijf",
        bericht_inhoud=kv.BerichtInhoud("text/xml", "factuur.xml", payload),
        aanleverkenmerk=aanleverkenmerk,
        identiteit_ontvanger=AGENCY,
        autorisatie_adres="http://geenausp.nl",
    ).to_element()


async def _submit(client: WusClient, sim: DigipoortSimulator, payload: bytes,
                  aanleverkenmerk: str = "Happyflow") -> kv.AanleverResponse:
    body = await client.call(sim.aanlever_url, ns.AANLEVEREN, _aanlever(payload, aanleverkenmerk))
    return kv.parse_as(body, kv.AanleverResponse)


async def _statuses(client: WusClient, sim: DigipoortSimulator, kenmerk: str,
                    nieuw: bool = False) -> list[str]:
    request = kv.StatusRequest(kenmerk, "http://geenausp.nl", nieuw=nieuw)
    action = ns.request_action("status", request.operation)
    body = await client.call(sim.status_url, action, request.to_element())
    return [r.statuscode for r in kv.parse_as(body, kv.StatusResponse).resultaten]


async def test_happy_flow_over_tls(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice)
        assert response.statuscode == "100"
        assert response.aanleverkenmerk == "Happyflow"
        await sim.wait_finished(response.kenmerk)
        assert await _statuses(client, sim, response.kenmerk) == HAPPY
        # getNieuweStatussenProces: everything once, then nothing new.
        assert await _statuses(client, sim, response.kenmerk, nieuw=True) == HAPPY
        assert await _statuses(client, sim, response.kenmerk, nieuw=True) == []
    assert sim.process(response.kenmerk).codes == HAPPY


async def test_status_walk_takes_step_delay(pki_dir: Path, installed_standards: Path,
                                            registry: Registry, invoice: bytes) -> None:
    settings = SimulatorSettings(step_delay=0.1, pki_dir=pki_dir,
                                 standards_dir=installed_standards, registry=registry)
    async with DigipoortSimulator(settings) as sim, _client(sim) as client:
        response = await _submit(client, sim, invoice)
        early = await _statuses(client, sim, response.kenmerk)
        assert early[:2] == ["105", "100"]
        assert len(early) < len(HAPPY)
        await sim.wait_finished(response.kenmerk, timeout=10)
        assert await _statuses(client, sim, response.kenmerk, nieuw=True) == HAPPY


async def test_invalid_payload_ends_in_311(sim: DigipoortSimulator, invoice: bytes) -> None:
    broken = invoice.replace(b"<cbc:ID>", b"<cbc:Nonsense>", 1).replace(
        b"</cbc:ID>", b"</cbc:Nonsense>", 1
    )
    async with _client(sim) as client:
        response = await _submit(client, sim, broken)
        process = await sim.wait_finished(response.kenmerk)
    assert process.codes == ["105", "100", "110", "200", "311"]
    last = process.statuses[-1]
    assert last.fout is not None
    assert last.fout.foutcode == "VAS500"
    assert last.details is not None
    assert "ubl-ohnl:invoice:1.9" in last.details


async def test_payload_of_another_berichtsoort_ends_in_311(
    sim: DigipoortSimulator, invoice: bytes
) -> None:
    async with _client(sim) as client:
        body = await client.call(
            sim.aanlever_url, ns.AANLEVEREN,
            _aanlever(invoice, berichtsoort="BESTELLING-BEVESTIGING-UBL"),
        )
        kenmerk = kv.parse_as(body, kv.AanleverResponse).kenmerk
        process = await sim.wait_finished(kenmerk)
    assert process.codes[-1] == "311"
    assert "verwacht ubl-ohnl:order-response" in (process.statuses[-1].details or "")


async def test_unknown_berichtsoort_is_a_fault(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault, match="unknown berichtsoort") as caught:
            await client.call(sim.aanlever_url, ns.AANLEVEREN,
                              _aanlever(invoice, berichtsoort="NOPE"))
    assert caught.value.foutcode == "ALS110"


@pytest.mark.parametrize(
    ("scenario", "codes", "foutcode"),
    [
        ("Afleverfout", ["105", "100", "110", "200", "301", "301", "405", "410"], "AFS400"),
        ("Foutuitvragendepartij", [*HAPPY[:-1], "311"], "VAS500"),
        ("TechnischProbleemAfleveren", [*HAPPY[:7], "420", "420"], "AFS600"),
        ("MaximaalAantalAfleverpogingen",
         [*HAPPY[:7], "420", "405", "420", "405", "420"], "AFS600"),
        ("ZwaarbelastStatusInformatie", HAPPY, None),
    ],
)
async def test_status_scenarios(sim: DigipoortSimulator, invoice: bytes, scenario: str,
                                codes: list[str], foutcode: str | None) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice, scenario)
        process = await sim.wait_finished(response.kenmerk)
        assert process.scenario == scenario
        assert await _statuses(client, sim, response.kenmerk) == codes
    last = process.statuses[-1]
    assert (last.fout.foutcode if last.fout else None) == foutcode


async def test_technisch_probleem_first_420_is_not_final(
    sim: DigipoortSimulator, invoice: bytes
) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice, "TechnischProbleemAfleveren")
        process = await sim.wait_finished(response.kenmerk)
    first, last = process.statuses[-2], process.statuses[-1]
    assert (first.code, first.fout, first.terminal) == ("420", None, False)
    assert last.terminal


async def test_aanlever_fault_scenario(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault) as caught:
            await _submit(client, sim, invoice, "AanleverFault")
    assert caught.value.foutcode == "ALS100"
    assert not caught.value.retryable
    assert sim.processes() == []


async def test_statusinformatie_fault_scenario(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice, "StatusInformatieFault")
        await sim.wait_finished(response.kenmerk)
        with pytest.raises(kv.WusFault) as caught:
            await _statuses(client, sim, response.kenmerk)
    assert caught.value.foutcode == "STS100"
    assert sim.process(response.kenmerk).codes == HAPPY


async def test_zwaarbelast_aanleveren_is_slow_but_succeeds(
    sim: DigipoortSimulator, invoice: bytes
) -> None:
    loop = __import__("asyncio").get_running_loop()
    async with _client(sim) as client:
        started = loop.time()
        response = await _submit(client, sim, invoice, "ZwaarbelastAanleveren")
        assert loop.time() - started >= 0.3
        assert response.statuscode == "100"
        with pytest.raises(WusTransportError) as caught:
            await client.call(sim.aanlever_url, ns.AANLEVEREN,
                              _aanlever(invoice, "ZwaarbelastAanleveren"), timeout=0.1)
    assert caught.value.kind == "timeout"


async def test_overbelast_aanleveren_is_retryable(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault) as caught:
            await _submit(client, sim, invoice, "OverbelastAanleveren")
        assert caught.value.foutcode == "ALS400"
        assert caught.value.retryable
        retried = await _submit(client, sim, invoice, "OverbelastAanleveren")
        assert retried.statuscode == "100"


async def test_overbelast_statusinformatie_is_retryable(
    sim: DigipoortSimulator, invoice: bytes
) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice, "OverbelastStatusInformatie")
        await sim.wait_finished(response.kenmerk)
        with pytest.raises(WusTransportError) as caught:
            await _statuses(client, sim, response.kenmerk)
        assert (caught.value.status, caught.value.retryable) == (503, True)
        assert await _statuses(client, sim, response.kenmerk) == HAPPY


async def test_unknown_kenmerk_is_a_status_fault(sim: DigipoortSimulator) -> None:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault, match="onbekend kenmerk") as caught:
            await _statuses(client, sim, "no-such-kenmerk")
    assert caught.value.foutcode == "STS100"


async def test_other_status_operations(sim: DigipoortSimulator, invoice: bytes) -> None:
    async with _client(sim) as client:
        response = await _submit(client, sim, invoice)
        await sim.wait_finished(response.kenmerk)
        body = await client.call(
            sim.status_url, ns.request_action("status", "getProcessen"),
            kv.ProcessenRequest("FACTUUR-UBL", SUPPLIER).to_element(),
        )
        assert [p.kenmerk for p in kv.parse_as(body, kv.ProcessenResponse).resultaten] == [
            response.kenmerk
        ]
        body = await client.call(
            sim.status_url, ns.request_action("status", "getNieuweStatussen"),
            kv.NieuweStatussenRequest("FACTUUR-UBL", SUPPLIER).to_element(),
        )
        assert len(kv.parse_as(body, kv.StatusResponse).resultaten) == len(HAPPY)
        body = await client.call(
            sim.status_url, ns.request_action("status", "getBerichtsoorten"),
            kv.BerichtsoortenRequest(SUPPLIER).to_element(),
        )
        assert "FACTUUR-UBL" in kv.parse_as(body, kv.BerichtsoortenResponse).berichtsoorten


async def test_unknown_ca_client_is_refused_at_tls(sim: DigipoortSimulator, invoice: bytes) -> None:
    assert sim.pki is not None
    async with _client(sim, sim.pki.unknown_supplier) as client:
        with pytest.raises(WusTransportError) as caught:
            await _submit(client, sim, invoice)
    assert caught.value.kind in ("tls", "connection")
    assert sim.processes() == []


async def _raw(sim: DigipoortSimulator, data: bytes) -> kv.WusFault:
    async with _client(sim) as client:
        with pytest.raises(kv.WusFault) as caught:
            await client.post(sim.aanlever_url, ns.AANLEVEREN, data, None, timeout=10)
    return caught.value


def _signed(sim: DigipoortSimulator, payload: bytes, **kwargs: object) -> bytes:
    assert sim.pki is not None
    envelope = request_envelope(_aanlever(payload), to=sim.aanlever_url, action=ns.AANLEVEREN)
    identity = SigningIdentity.from_files(sim.pki.supplier.cert, sim.pki.supplier.key)
    return sign(envelope, identity, **kwargs)  # type: ignore[arg-type]


async def test_tampered_request_signature_is_refused(
    sim: DigipoortSimulator, invoice: bytes
) -> None:
    data = _signed(sim, invoice).replace(b"Happyflow", b"Happyfloq")
    fault = await _raw(sim, data)
    assert fault.foutcode == "ALS100"
    assert "digest mismatch for soapenv:Body" in fault.foutbeschrijving


async def test_expired_timestamp_is_refused(sim: DigipoortSimulator, invoice: bytes) -> None:
    from datetime import UTC, datetime, timedelta

    data = _signed(sim, invoice, now=datetime.now(UTC) - timedelta(hours=1))
    fault = await _raw(sim, data)
    assert fault.foutcode == "ALS100"
    assert "timestamp expired" in fault.foutbeschrijving


async def test_malformed_envelope_gets_als100(sim: DigipoortSimulator) -> None:
    fault = await _raw(sim, b"<soap:Envelope>broken")
    assert fault.foutcode == "ALS100"
    assert "malformed SOAP envelope" in fault.foutbeschrijving


@pytest.mark.parametrize(
    ("kind", "expected_kind", "status"),
    [
        (FaultKind.HTTP_500, "http", 500),
        (FaultKind.HTTP_503, "http", 503),
        (FaultKind.RESET, "connection", None),
        (FaultKind.BAD_SIGNATURE, "security", None),
    ],
)
async def test_injected_faults(sim: DigipoortSimulator, invoice: bytes, kind: FaultKind,
                               expected_kind: str, status: int | None) -> None:
    sim.inject(Fault(kind, count=1, service="aanlever"))
    async with _client(sim) as client:
        with pytest.raises(WusTransportError) as caught:
            await _submit(client, sim, invoice)
        assert caught.value.kind == expected_kind
        assert caught.value.status == status
        assert caught.value.retryable
        # The fault was used up: the next call succeeds.
        assert (await _submit(client, sim, invoice)).statuscode == "100"
    assert sim.pending_faults() == []


async def test_injected_timeout_and_slow(sim: DigipoortSimulator, invoice: bytes) -> None:
    sim.inject(Fault(FaultKind.TIMEOUT, delay=1.0))
    async with _client(sim) as client:
        with pytest.raises(WusTransportError) as caught:
            await client.call(sim.aanlever_url, ns.AANLEVEREN, _aanlever(invoice), timeout=0.3)
        assert caught.value.kind == "timeout"
        sim.inject(Fault("slow", count=2, service="status", delay=0.2))
        response = await _submit(client, sim, invoice)  # not a status call: unaffected
        await sim.wait_finished(response.kenmerk)
        with pytest.raises(WusTransportError, match="within"):
            await client.call(
                sim.status_url, ns.request_action("status", "getStatussenProces"),
                kv.StatusRequest(response.kenmerk).to_element(), timeout=0.1,
            )
        assert await _statuses(client, sim, response.kenmerk) == HAPPY


async def _aflever_service(sim: DigipoortSimulator, received: list[kv.AfleverRequest]
                           ) -> tuple[web.AppRunner, str]:
    """A supplier's AfleverService built with the library, as the channel does."""
    assert sim.pki is not None
    endpoint = WusEndpoint(
        "aflever",
        SigningIdentity.from_files(sim.pki.server.cert, sim.pki.server.key),
        Trust.from_pem_files(sim.pki.ca),
    )

    async def answer(request: WusRequest) -> etree._Element:
        message = kv.AfleverRequest.from_element(request.body)
        assert message.berichtkenmerk.encode() in request.raw
        received.append(message)
        return kv.AfleverResponse(
            kenmerk=message.kenmerk,
            berichtkenmerk=message.berichtkenmerk,
            tijdstempel_afgeleverd=message.tijdstempel_aangeleverd,
            berichtsoort=message.berichtsoort,
        ).to_element()

    app = web.Application()
    app.router.add_post("/afleverservice", endpoint.handler(answer))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context(
        sim.pki.server.cert, sim.pki.server.key, sim.pki.ca))
    await site.start()
    return runner, f"https://127.0.0.1:{runner.addresses[0][1]}/afleverservice"


@pytest.mark.parametrize(
    ("berichtsoort", "format_key"),
    [
        ("BESTELLING-UBL", "ubl-ohnl:order:1.9"),
        ("BESTELLING-HRXML", "setu-ohnl:staffing-order:2.0"),
        ("TIMECARD-HRXML", "setu-ohnl:timecard:2.0"),
    ],
)
async def test_deliver_to_an_aflever_service_and_ophalen(
    sim: DigipoortSimulator, registry: Registry, berichtsoort: str, format_key: str
) -> None:
    fmt = registry.format(format_key)
    sample = fmt.samples()[0]
    payload = sample.data or fmt.encode(sample.document, sample.context)
    received: list[kv.AfleverRequest] = []
    runner, url = await _aflever_service(sim, received)
    try:
        response = await sim.deliver(payload, berichtsoort, to=url, ontvanger=SUPPLIER)
    finally:
        await runner.cleanup()
    assert len(received) == 1
    assert received[0].bericht_inhoud.inhoud == payload
    assert received[0].berichtsoort == berichtsoort
    assert response.kenmerk == received[0].kenmerk
    assert registry.detect(received[0].bericht_inhoud.inhoud).format.key == format_key

    async with _client(sim) as client:
        request = kv.OphaalRequest("getNieuweBerichten", SUPPLIER)
        action = ns.request_action("ophaal", "getNieuweBerichten")
        body = await client.call(sim.ophaal_url, action, request.to_element())
        berichten = kv.parse_as(body, kv.OphaalResponse).berichten
        assert [b.kenmerk for b in berichten] == [response.kenmerk]
        assert berichten[0].bericht_inhoud.inhoud == payload
        again = await client.call(sim.ophaal_url, action, request.to_element())
        assert kv.parse_as(again, kv.OphaalResponse).berichten == ()
        lijst = await client.call(
            sim.ophaal_url, ns.request_action("ophaal", "getBerichtenLijst"),
            kv.OphaalRequest("getBerichtenLijst", berichtsoort=berichtsoort).to_element(),
        )
        assert [x.kenmerk for x in kv.parse_as(lijst, kv.OphaalResponse).lijst] == [
            response.kenmerk
        ]


async def test_delivering_twice_sends_the_same_message(
    sim: DigipoortSimulator, registry: Registry
) -> None:
    fmt = registry.format("ubl-ohnl:order:1.9")
    sample = fmt.samples()[0]
    payload = fmt.encode(sample.document, sample.context)
    message = sim.make_afleverbericht(payload, "BESTELLING-UBL", ontvanger=SUPPLIER)
    received: list[kv.AfleverRequest] = []
    runner, url = await _aflever_service(sim, received)
    try:
        await sim.deliver(payload, "BESTELLING-UBL", to=url, message=message)
        await sim.deliver(payload, "BESTELLING-UBL", to=url, message=message)
    finally:
        await runner.cleanup()
    assert [r.kenmerk for r in received] == [message.kenmerk, message.kenmerk]


async def test_trusting_a_listed_client_certificate(
    pki_dir: Path, installed_standards: Path, registry: Registry, invoice: bytes
) -> None:
    pki = Pki.load(pki_dir)
    settings = SimulatorSettings(pki_dir=pki.folder, standards_dir=installed_standards,
                                 trust=(pki.unknown_supplier.cert,), registry=registry)
    async with DigipoortSimulator(settings) as sim:
        async with _client(sim, pki.unknown_supplier) as client:
            assert (await _submit(client, sim, invoice)).statuscode == "100"
        async with _client(sim) as client:
            with pytest.raises(WusTransportError):
                await _submit(client, sim, invoice)
