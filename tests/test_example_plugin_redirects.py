"""The example third-party plugin (examples/wissel-plugin-http) against redirects."""

from __future__ import annotations

from aiohttp import web

from gateway.channels import Accepted, ChannelContext, OutboundMessage
from gateway.kinds import DocumentKind

wissel_http = __import__("wissel_http")


async def test_a_redirect_does_not_turn_the_post_into_an_accepted_get() -> None:
    """aiohttp follows 301/302/303 for a POST as a GET without the body. The receiver
    moved (http->https, a new path): the channel reports Accepted with our message id as
    the transport id, although the document never reached anybody."""
    received: list[bytes] = []

    async def old(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new")

    async def new_post(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=201)

    async def new_get(request: web.Request) -> web.Response:
        return web.Response(text="<html>inbound endpoint</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/inbound", old)
    app.router.add_post("/new", new_post)
    app.router.add_get("/new", new_get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    channel = wissel_http.HttpPostChannel("erp-post", {"url": f"http://127.0.0.1:{port}/inbound"})
    await channel.start(ChannelContext("erp-post"))
    try:
        outcome = await channel.send(OutboundMessage(
            "msg-1", "00000099003214345001", DocumentKind.INVOICE, "x:invoice:1",
            b"<Invoice/>"))
    finally:
        await channel.stop()
        await runner.cleanup()
    assert not (isinstance(outcome, Accepted) and not received), (
        f"channel answered {outcome!r}, but the receiver got no document: {received}")
