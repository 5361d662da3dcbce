"""WusClient against a WusEndpoint over real two-way TLS on loopback."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from lxml import etree

from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient, WusTransportError
from plugins.digipoort.wus.envelope import request_envelope
from plugins.digipoort.wus.pki import CertFiles, Pki, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust, sign
from plugins.digipoort.wus.server import WusEndpoint, WusRequest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture(autouse=True)
def _standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _identity(files: CertFiles) -> SigningIdentity:
    return SigningIdentity.from_files(files.cert, files.key)


def _request() -> kv.AanleverRequest:
    return kv.AanleverRequest(
        "FACTUUR-UBL",
        kv.Identiteit("30216247", "KvK"),
        "Bedrijf",
        kv.BerichtInhoud("text/xml", "f.xml", b"<Invoice/>"),
        aanleverkenmerk="Happyflow",
    )


async def _answer(request: WusRequest) -> etree._Element:
    body = kv.AanleverRequest.from_element(request.body)
    if body.aanleverkenmerk == "Busy":
        raise kv.WusFault("aanlever", "ALS400", "Er is een technische fout opgetreden")
    return kv.AanleverResponse(
        kenmerk="kenmerk-1",
        berichtsoort=body.berichtsoort,
        tijdstempel_aangeleverd=datetime.now(UTC),
        identiteit_belanghebbende=body.identiteit_belanghebbende,
        rol_belanghebbende=body.rol_belanghebbende,
        aanleverkenmerk=body.aanleverkenmerk,
        statuscode="100",
    ).to_element()


async def _serve(pki: Pki, handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/aanlever", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    context = tls.server_context(pki.server.cert, pki.server.key, pki.ca)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}/aanlever"
    finally:
        await runner.cleanup()


@pytest.fixture
async def url(pki: Pki) -> AsyncIterator[str]:
    endpoint = WusEndpoint("aanlever", _identity(pki.server), Trust.from_pem_files(pki.ca))
    async for value in _serve(pki, endpoint.handler(_answer)):
        yield value


def _client(pki: Pki, files: CertFiles | None = None) -> WusClient:
    files = files or pki.supplier
    context = tls.client_context(files.cert, files.key, pki.ca)
    return WusClient(_identity(files), context, server_trust=Trust.from_pem_files(pki.ca))


async def test_aanleveren_round_trip(pki: Pki, url: str) -> None:
    async with _client(pki) as client:
        for algorithm in ("rsa-sha1", "rsa-sha256"):
            client.algorithm = algorithm
            body = await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
            response = kv.parse_as(body, kv.AanleverResponse)
            assert response.kenmerk == "kenmerk-1"
            assert response.aanleverkenmerk == "Happyflow"


async def test_fault_is_raised_with_its_code(pki: Pki, url: str) -> None:
    request = kv.AanleverRequest(
        "FACTUUR-UBL", kv.Identiteit("30216247", "KvK"), "Bedrijf",
        kv.BerichtInhoud("text/xml", "f.xml", b"<x/>"), aanleverkenmerk="Busy",
    )
    async with _client(pki) as client:
        with pytest.raises(kv.WusFault) as caught:
            await client.call(url, ns.AANLEVEREN, request.to_element(), timeout=10)
    assert caught.value.foutcode == "ALS400"
    assert caught.value.retryable


async def test_client_certificate_of_unknown_ca_is_refused_at_tls(pki: Pki, url: str) -> None:
    async with _client(pki, pki.unknown_supplier) as client:
        with pytest.raises(WusTransportError) as caught:
            await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
    # The server refuses during the handshake and closes the connection (asyncio
    # sends no alert), so the client sees a reset or an empty answer. A raw TLS
    # connection shows the difference with a trusted certificate.
    assert caught.value.kind in ("tls", "connection")
    port = int(url.split(":")[2].split("/")[0])
    assert (await _raw_http(pki, pki.supplier, port)).startswith(b"HTTP/1.1 405")
    assert await _raw_http(pki, pki.unknown_supplier, port) == b"refused"


async def _raw_http(pki: Pki, files: CertFiles, port: int) -> bytes:
    context = tls.client_context(files.cert, files.key, pki.ca)

    def exchange() -> bytes:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
            ):
                conn.sendall(b"GET /aanlever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return conn.recv(100) or b"refused"
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return b"refused"

    return await asyncio.to_thread(exchange)


async def test_server_of_unknown_ca_is_refused(pki: Pki, url: str) -> None:
    context = tls.client_context(pki.supplier.cert, pki.supplier.key, pki.unknown_ca)
    async with WusClient(_identity(pki.supplier), context) as client:
        with pytest.raises(WusTransportError, match="certificate verify failed") as caught:
            await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
    assert caught.value.kind == "tls"


async def _post_raw(pki: Pki, url: str, data: bytes) -> kv.WusFault:
    async with _client(pki) as client:
        with pytest.raises(kv.WusFault) as caught:
            await client.post(url, ns.AANLEVEREN, data, None, timeout=10)
    return caught.value


async def test_tampered_request_is_refused_with_the_reason(pki: Pki, url: str) -> None:
    envelope = request_envelope(_request().to_element(), to=url, action=ns.AANLEVEREN)
    data = sign(envelope, _identity(pki.supplier)).replace(b"Happyflow", b"Happyflaw")
    fault = await _post_raw(pki, url, data)
    assert fault.foutcode == "ALS100"
    assert "digest mismatch for soapenv:Body" in fault.foutbeschrijving


async def test_expired_timestamp_is_refused_with_the_reason(pki: Pki, url: str) -> None:
    envelope = request_envelope(_request().to_element(), to=url, action=ns.AANLEVEREN)
    old = datetime.now(UTC) - timedelta(hours=2)
    fault = await _post_raw(pki, url, sign(envelope, _identity(pki.supplier), now=old))
    assert fault.foutcode == "ALS100"
    assert "timestamp expired" in fault.foutbeschrijving


async def test_signature_by_another_certificate_than_tls_is_refused(pki: Pki, url: str) -> None:
    envelope = request_envelope(_request().to_element(), to=url, action=ns.AANLEVEREN)
    fault = await _post_raw(pki, url, sign(envelope, _identity(pki.digipoort_client)))
    assert "another certificate than the TLS client certificate" in fault.foutbeschrijving


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<oops", "malformed SOAP envelope"),
        (b"<a/>", "malformed SOAP envelope"),
    ],
)
async def test_malformed_envelope_gets_als100(
    pki: Pki, url: str, data: bytes, reason: str
) -> None:
    fault = await _post_raw(pki, url, data)
    assert fault.foutcode == "ALS100"
    assert reason in fault.foutbeschrijving


async def test_wrong_action_and_unsigned_request_are_refused(pki: Pki, url: str) -> None:
    envelope = request_envelope(
        _request().to_element(), to=url, action=ns.request_action("status", "getProcessen")
    )
    fault = await _post_raw(pki, url, sign(envelope, _identity(pki.supplier)))
    assert "is not an operation of this service" in fault.foutbeschrijving
    unsigned = request_envelope(_request().to_element(), to=url, action=ns.AANLEVEREN)
    fault = await _post_raw(pki, url, etree.tostring(unsigned))
    assert "no wsse:Security header" in fault.foutbeschrijving


async def _serve_handler(pki: Pki, handler: Handler) -> AsyncIterator[str]:
    async for value in _serve(pki, handler):
        yield value


async def test_http_503_is_a_retryable_transport_error(pki: Pki) -> None:
    async def unavailable(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    async for url in _serve_handler(pki, unavailable):
        async with _client(pki) as client:
            with pytest.raises(WusTransportError) as caught:
                await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
        assert (caught.value.kind, caught.value.status, caught.value.retryable) == (
            "http", 503, True
        )


async def test_timeout_is_a_retryable_transport_error(pki: Pki) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(status=200)

    async for url in _serve_handler(pki, slow):
        async with _client(pki) as client:
            with pytest.raises(WusTransportError) as caught:
                await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=0.3)
        assert caught.value.kind == "timeout"
        assert caught.value.retryable


async def test_nothing_listening_is_retryable_and_not_blamed_on_the_certificate(
        pki: Pki) -> None:
    # A service not started yet (`make run` starts the simulator before the gateway's
    # AfleverService): the hint about a refused client certificate would mislead.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(pki) as client:
        with pytest.raises(WusTransportError) as caught:
            await client.call(f"https://127.0.0.1:{port}/aanlever", ns.AANLEVEREN,
                              _request().to_element(), timeout=10)
    assert (caught.value.kind, caught.value.retryable) == ("connection", True)
    assert "refused" in caught.value.reason
    assert "client certificate" not in caught.value.reason


async def test_response_signed_by_an_untrusted_party_is_refused(pki: Pki) -> None:
    impostor = WusEndpoint(
        "aanlever", _identity(pki.unknown_supplier), Trust.from_pem_files(pki.ca)
    )
    async for url in _serve_handler(pki, impostor.handler(_answer)):
        async with _client(pki) as client:
            with pytest.raises(WusTransportError, match="not issued by a trusted CA") as caught:
                await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
        assert caught.value.kind == "security"


async def test_a_redirect_is_not_followed_with_the_signed_document(pki: Pki) -> None:
    # The settings insist on https://, but a redirect was followed wherever it led: a
    # 307 to plain http:// (or to another host) got the signed document in the clear.
    received: list[bytes] = []

    async def plain(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/elsewhere", plain)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=307,
                            headers={"Location": f"http://127.0.0.1:{port}/elsewhere"})

    try:
        async for url in _serve_handler(pki, redirect):
            async with _client(pki) as client:
                with pytest.raises(WusTransportError) as caught:
                    await client.call(url, ns.AANLEVEREN, _request().to_element(), timeout=10)
            assert (caught.value.kind, caught.value.status) == ("http", 307)
    finally:
        await runner.cleanup()
    assert received == []
