"""HTTP 408 Request Timeout is a transient failure on both transports, not a final one."""

from __future__ import annotations

from aiohttp import web

from gateway.channels import RetryableError
from plugins.peppol.ap_client import HttpAccessPoint


async def test_a_408_from_the_access_point_is_retryable() -> None:
    async def outbound(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=408, text="request timeout")

    app = web.Application()
    app.router.add_post("/outbound", outbound)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = HttpAccessPoint(f"http://127.0.0.1:{port}", None, 5)
    try:
        outcome = await client.submit(b"<x/>", "id-1")
    finally:
        await client.close()
        await runner.cleanup()
    assert isinstance(outcome, RetryableError), outcome


def test_a_408_from_digipoort_is_retryable() -> None:
    import pytest

    from plugins.digipoort.wus.client import WusClient, WusTransportError

    client = WusClient.__new__(WusClient)
    client.server_trust = None
    with pytest.raises(WusTransportError) as caught:
        client._answer("https://digipoort.example/aanlever", 408, b"", "urn:uuid:1")
    assert caught.value.retryable, caught.value
