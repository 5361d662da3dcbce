"""Digipoort: an HTTP error's body, the only account of what went wrong, reaches the operator.

A 500 (or 502 from a proxy in front of Digipoort) without a SOAP fault was
recorded as "... answered HTTP 500" and nothing more, although its body said
why. The reason now quotes the start of the body: on one line, without
control characters (it lands in logs and the dead letter), and bounded.
The counterparts are real: the simulator's injected faults, and an aiohttp
server over TLS standing for a proxy that answers with a page of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import attrs
import pytest
from aiohttp import web
from digipoort_channel_support import client_settings, invoice_19, pki, standards
from test_digipoort_resend_and_deadline import MESSAGE, accepted, started, waiting

from gateway.channels import ChannelContext, RetryableError
from plugins.digipoort.channel import DigipoortChannel, StatusRoundFailed
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.wus import tls
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as running:
        yield running


async def test_a_500_from_the_aanleverservice_names_what_its_body_says(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    channel, _desk = await started(pki, simulator)
    simulator.inject(Fault(FaultKind.HTTP_500, service="aanlever"))
    try:
        outcome = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
    finally:
        await channel.stop()
    assert isinstance(outcome, RetryableError), outcome
    assert "HTTP 500" in outcome.reason
    assert "Internal Server Error (injected)" in outcome.reason, outcome.reason


async def test_a_500_from_the_statusinformatieservice_names_what_its_body_says(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    channel, desk = await started(pki, simulator)
    try:
        kenmerk = await accepted(channel, simulator)
        desk.waiting = [waiting(kenmerk, "none", datetime.now(UTC))]
        simulator.inject(Fault(FaultKind.HTTP_500, service="status"))
        with pytest.raises(StatusRoundFailed) as caught:
            await channel.poll_statuses()
    finally:
        await channel.stop()
    assert "HTTP 500" in str(caught.value)
    assert "Internal Server Error (injected)" in str(caught.value), str(caught.value)


# A proxy's error page: markup over many lines, a terminal escape and a NUL picked up on
# the way, and far longer than a reason should be.
PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
        "<h1>Bad Gateway</h1>\n\t<p>upstream aanleverservice-3 refused the connection"
        "\x1b[31m (pool exhausted)\x00</p>\n" + "<!-- padding -->\n" * 200 + "</body></html>")


@pytest.fixture
async def proxy(pki: Pki) -> AsyncIterator[str]:
    """An HTTPS server answering every request with a 502 and PAGE."""
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_post("/aanlever", bad_gateway)
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


async def test_a_long_error_page_is_quoted_on_one_line_without_control_characters(
        pki: Pki, proxy: str) -> None:
    channel = DigipoortChannel("digipoort", client_settings(pki, aanlever_url=proxy,
                                                            request_timeout=2))
    await channel.start(ChannelContext("digipoort"))
    try:
        outcome = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
    finally:
        await channel.stop()
    assert isinstance(outcome, RetryableError), outcome
    reason = outcome.reason
    assert "HTTP 502" in reason
    assert "<title>502 Bad Gateway</title>" in reason, reason
    assert "<p>upstream aanleverservice-3 refused the connection" in reason, reason
    assert "(pool exhausted)" in reason, reason
    assert all(char.isprintable() for char in reason), repr(reason)
    assert "</body>" not in reason, "the page is quoted in part, not whole"
    assert reason.endswith("…")
    for control in ("\n", "\t", "\x1b", "\x00"):
        assert control not in reason, repr(reason)
    assert len(reason) < len(proxy) + 500, len(reason)
