"""The access point client does not follow a redirect with the document or its token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from gateway.channels import FinalError
from plugins.peppol.ap_client import HttpAccessPoint


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_redirect_of_a_submission_is_final_and_not_followed() -> None:
    # aiohttp followed a 307 from the access point wherever it led and posted the SBDH
    # document again: to another host, or from https:// to plain http://.
    received: list[bytes] = []

    async def elsewhere(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"id": "id-1"}, status=202)

    other = web.Application()
    other.router.add_post("/outbound", elsewhere)
    async with serving(other) as other_url:
        async def moved(request: web.Request) -> web.Response:
            return web.Response(status=307, headers={"Location": f"{other_url}/outbound"})

        access_point = web.Application()
        access_point.router.add_post("/outbound", moved)
        async with serving(access_point) as url:
            client = HttpAccessPoint(url, "ap-token", 5)
            try:
                outcome = await client.submit(b"<x/>", "id-1")
            finally:
                await client.close()
    assert isinstance(outcome, FinalError), outcome
    assert "HTTP 307" in outcome.reason
    assert received == []
