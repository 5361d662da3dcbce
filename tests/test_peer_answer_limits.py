"""Answers of any size from Digipoort, an access point or the ERP do not fill the memory.

Each client read a peer's whole answer into memory (``response.read()``,
``response.text()``): a broken server, or a proxy in between, answering with
gigabytes could exhaust the gateway. Now each reads in chunks up to a limit
of its own and stops there, closing the connection; the outcome is
classified as the client's other transport failures are, and says what
limit was passed and by whom. The counterparts are real aiohttp servers
that stream far more than the limit and note whether the client hung up.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
from aiohttp import web
from delivery_support import SECRET, SECRET_ENV, deliver_until
from digipoort_channel_support import client_settings, invoice_19, pki, standards
from pipeline_support import make_pipeline
from test_delivery_webhook import DONE, received_order, worker_for
from test_digipoort_resend_and_deadline import MESSAGE

from gateway.channels import ChannelContext, RetryableError
from gateway.store import Store, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.wus import tls
from plugins.digipoort.wus.envelope import MAX_ENVELOPE_BYTES
from plugins.digipoort.wus.pki import Pki
from plugins.peppol.ap_client import MAX_ANSWER_BYTES, HttpAccessPoint, NoReceipt

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here

CHUNK = b"x" * (64 * 1024)


@attrs.define
class Flood:
    """Answers every request with ``status`` and ``start``, then ``size`` bytes more,
    streamed without a Content-Length; ``finished`` once it all went out."""

    status: int
    size: int
    start: bytes = b""
    sent: int = 0
    finished: bool = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=self.status,
                                      headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            await response.write(self.start)
            while self.sent < self.size:
                await response.write(CHUNK)
                self.sent += len(CHUNK)
                # A write that need not wait does not yield: without this the loop never
                # learns that the client hung up and writes on into the void.
                await asyncio.sleep(0)
            await response.write_eof()
            self.finished = True
        except ConnectionError:
            pass  # the client hung up: what the tests want
        return response


@asynccontextmanager
async def serving(handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                  context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "http" if context is None else "https"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_digipoort_answer_past_the_envelope_limit_is_retryable_and_not_read_whole(
        pki: Pki) -> None:
    flood = Flood(200, 3 * MAX_ENVELOPE_BYTES, b"<?xml version='1.0'?><soapenv:Envelope>")
    context = tls.server_context(pki.server.cert, pki.server.key, pki.ca)
    async with serving(flood.handle, context) as url:
        aanlever = f"{url}/aanlever"
        channel = DigipoortChannel("digipoort", client_settings(
            pki, aanlever_url=aanlever, request_timeout=30))
        await channel.start(ChannelContext("digipoort"))
        try:
            outcome = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
        finally:
            await channel.stop()
    assert isinstance(outcome, RetryableError), outcome
    assert f"{aanlever} answered HTTP 200" in outcome.reason, outcome.reason
    assert f"larger than the {MAX_ENVELOPE_BYTES} bytes" in outcome.reason, outcome.reason
    assert not flood.finished, "the client read the whole answer"


async def test_an_access_point_answer_past_its_limit_is_retryable_and_not_read_whole() -> None:
    flood = Flood(202, 8 * MAX_ANSWER_BYTES, b'{"id": "id-1", "padding": "')
    async with serving(flood.handle) as url:
        client = HttpAccessPoint(url, "ap-token", 10)
        try:
            outcome = await client.submit(b"<x/>", "id-1")
        finally:
            await client.close()
    assert isinstance(outcome, RetryableError), outcome
    assert outcome.code == "too-large"
    assert outcome.transport_id == "id-1"
    assert f"the access point at {url}/outbound" in outcome.reason, outcome.reason
    assert f"larger than the {MAX_ANSWER_BYTES} bytes" in outcome.reason, outcome.reason
    assert not flood.finished, "the client read the whole answer"


async def test_an_access_point_announcing_a_large_receipt_gives_no_receipt_for_now() -> None:
    async def large(request: web.Request) -> web.Response:
        return web.Response(body=b" " * (MAX_ANSWER_BYTES + 1),
                            content_type="application/json")

    async with serving(large) as url:
        client = HttpAccessPoint(url, "ap-token", 10)
        try:
            answer = await client.look_up("id-1")
        finally:
            await client.close()
    assert isinstance(answer, NoReceipt), answer
    assert not answer.unknown, "a refused answer says nothing about the transmission"
    assert f"the access point at {url}/outbound/id-1" in answer.reason, answer.reason
    assert f"announced {MAX_ANSWER_BYTES + 1} bytes" in answer.reason, answer.reason


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.mark.usefixtures("secret")
async def test_an_erp_webhook_answering_without_end_is_delivered_on_its_status(
        store: Store, tmp_path: Path) -> None:
    # The status decides a delivery; of the body only its start is quoted.
    flood = Flood(200, 64 * 1024 * 1024, b"thanks")
    async with serving(flood.handle) as url:
        pipe = await make_pipeline(store, tmp_path)
        message_id = await received_order(pipe)
        worker = worker_for(pipe, f"{url}/hook")
        try:
            record = await deliver_until(worker, store, message_id, DONE)
        finally:
            await worker.stop()
    assert record.transport_state is TransportState.DELIVERED
    assert not flood.finished, "the client read the whole answer"
