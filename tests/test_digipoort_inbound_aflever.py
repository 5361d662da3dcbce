"""The channel's AfleverService against a real WUS client playing Digipoort.

Real two-way TLS on loopback, real WS-Security signatures, and the real
inbound pipeline on a SQLite store behind it: a delivery is stored before it
is answered, a repeat is answered again and stored once, and every kind of bad
request is refused with the reason on both sides.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from digipoort_channel_support import AGENCY_OIN, aflever_settings, order_19, registry

from gateway.channels import ChannelContext
from gateway.kinds import Direction
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pipeline import InboundPipeline
from gateway.store import Store, open_store
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.wus.client import WusClient, WusTransportError
from plugins.digipoort.wus.envelope import request_envelope
from plugins.digipoort.wus.koppelvlak import (
    AfleverRequest,
    AfleverResponse,
    BerichtInhoud,
    Identiteit,
    WusFault,
    parse_as,
)
from plugins.digipoort.wus.ns import AFLEVEREN
from plugins.digipoort.wus.pki import CertFiles, Pki, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust, sign
from plugins.digipoort.wus.tls import client_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), kvk_numbers=("30097265",))


@pytest.fixture(autouse=True)
def standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    await opened.migrate()
    yield opened
    await opened.close()


async def started(pki: Pki, store: Store, *, max_bytes: int | None = None) -> DigipoortChannel:
    pipeline = (InboundPipeline(store, registry()) if max_bytes is None
                else InboundPipeline(store, registry(), max_bytes=max_bytes))
    channel = DigipoortChannel("digipoort", aflever_settings(pki))
    await channel.start(ChannelContext("digipoort", inbound=pipeline.receive))
    return channel


def digipoort(pki: Pki, who: CertFiles | None = None) -> WusClient:
    """A WUS client with Digipoort's (or ``who``'s) certificate, trusting the test CA."""
    files = who or pki.digipoort_client
    return WusClient(SigningIdentity.from_files(files.cert, files.key),
                     client_context(files.cert, files.key, pki.ca), "rsa-sha1",
                     Trust.from_pem_files(pki.ca))


def bericht(kenmerk: str = "dgp-0001") -> AfleverRequest:
    return AfleverRequest(
        kenmerk=kenmerk, berichtsoort="BESTELLING-UBL", berichtkenmerk=f"msg-{kenmerk}",
        tijdstempel_aangeleverd=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        identiteit_belanghebbende=Identiteit(AGENCY_OIN, "OIN"), rol_belanghebbende="Bedrijf",
        identiteit_ontvanger=Identiteit("30097265", "KvK"),
        bericht_inhoud=BerichtInhoud("text/xml", "order-1.xml", order_19()))


async def inbox(store: Store) -> list[str]:
    page = await store.list_messages(direction=Direction.INBOUND, limit=100)
    return [str(r.transport_id) for r in page.items]


async def test_a_delivery_is_stored_once_and_answered_every_time(
        pki: Pki, store: Store) -> None:
    channel = await started(pki, store)
    assert channel.aflever is not None
    try:
        async with digipoort(pki) as client:
            for _ in range(2):
                answer = await client.call(channel.aflever.url, AFLEVEREN,
                                           bericht().to_element())
                response = parse_as(answer, AfleverResponse)
                assert (response.kenmerk, response.berichtkenmerk) == ("dgp-0001",
                                                                       "msg-dgp-0001")
        assert await inbox(store) == ["dgp-0001"]
        [record] = (await store.list_messages(direction=Direction.INBOUND)).items
        assert record.raw_payload == order_19()
        assert record.document_kind == "order"
        events = await store.events(record.id)
        received = next(e for e in events if e.kind == "received")
        assert received.detail["sender"] == AGENCY_OIN
        assert received.detail["metadata"]["berichtsoort"] == "BESTELLING-UBL"
    finally:
        await channel.stop()


async def test_the_wsdl_is_served(pki: Pki, store: Store) -> None:
    channel = await started(pki, store)
    assert channel.aflever is not None
    files = pki.digipoort_client
    try:
        async with aiohttp.ClientSession() as session, session.get(
            channel.aflever.url + "?wsdl", ssl=client_context(files.cert, files.key, pki.ca),
        ) as response:
            text = await response.text()
        assert response.status == 200
        assert "afleverRequest" in text
        assert "definitions" in text
    finally:
        await channel.stop()


async def test_an_unknown_client_certificate_is_refused_in_the_handshake(
        pki: Pki, store: Store) -> None:
    channel = await started(pki, store)
    assert channel.aflever is not None
    stranger = pki.unknown_supplier
    client = WusClient(SigningIdentity.from_files(stranger.cert, stranger.key),
                       client_context(stranger.cert, stranger.key, pki.ca), "rsa-sha1",
                       Trust.from_pem_files(pki.ca))
    try:
        with pytest.raises(WusTransportError) as refused:
            await client.call(channel.aflever.url, AFLEVEREN, bericht().to_element())
        assert refused.value.kind in ("tls", "connection")
        assert await inbox(store) == []
    finally:
        await client.close()
        await channel.stop()


async def post_refused(pki: Pki, store: Store, data: bytes, message_id: str | None,
                       caplog: pytest.LogCaptureFixture) -> WusFault:
    channel = await started(pki, store)
    assert channel.aflever is not None
    caplog.set_level(logging.WARNING, logger="plugins.digipoort.aflever")
    try:
        async with digipoort(pki) as client:
            with pytest.raises(WusFault) as refused:
                await client.post(channel.aflever.url, AFLEVEREN, data, message_id, 10)
        assert await inbox(store) == []
        assert any(refused.value.foutbeschrijving in r.getMessage() for r in caplog.records)
        return refused.value
    finally:
        await channel.stop()


async def test_a_tampered_signature_is_refused(
        pki: Pki, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    async with digipoort(pki) as client:
        data, message_id = client.build("https://127.0.0.1/", AFLEVEREN, bericht().to_element())
    tampered = data.replace(b"msg-dgp-0001", b"msg-dgp-0666")
    assert tampered != data
    fault = await post_refused(pki, store, tampered, message_id, caplog)
    assert fault.foutcode == "ALS100"
    assert "altered" in fault.foutbeschrijving


async def test_an_expired_timestamp_is_refused(
        pki: Pki, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    files = pki.digipoort_client
    envelope = request_envelope(bericht().to_element(), to="https://127.0.0.1/",
                                action=AFLEVEREN)
    message_id = envelope.findtext("{*}Header/{*}MessageID")
    data = sign(envelope, SigningIdentity.from_files(files.cert, files.key), "rsa-sha1",
                now=datetime.now(UTC) - timedelta(hours=2))
    fault = await post_refused(pki, store, data, message_id, caplog)
    assert "expired" in fault.foutbeschrijving.lower()


async def test_a_malformed_envelope_is_refused(
        pki: Pki, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    fault = await post_refused(pki, store, b"<afleverRequest>not soap</afleverRequest>", None,
                               caplog)
    assert "malformed SOAP envelope" in fault.foutbeschrijving


async def test_a_delivery_the_gateway_cannot_store_gets_a_retryable_fault(
        pki: Pki, store: Store) -> None:
    channel = await started(pki, store, max_bytes=100)
    assert channel.aflever is not None
    try:
        async with digipoort(pki) as client:
            with pytest.raises(WusFault) as refused:
                await client.call(channel.aflever.url, AFLEVEREN, bericht().to_element())
        assert refused.value.foutcode == "ALS400"
        assert refused.value.retryable
        assert "dgp-0001" in refused.value.foutbeschrijving
        assert await inbox(store) == []
    finally:
        await channel.stop()
