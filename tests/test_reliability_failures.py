"""A receiving side that fails: everything arrives eventually; rejections end as dead letters.

The gateway runs in-process with the example ``http-post`` channel
(examples/wissel-plugin-http) against a real HTTP server on loopback that
fails calls in every way a network does: 500, 503, an answer slower than the
channel's timeout (after the receiver already kept the document), and a
connection reset. The receiver tells a repeat by the Idempotency-Key header,
the message id the gateway sends on every try of the same message.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from reliability_support import AGENCY_OIN, SUPPLIER_KVK, invoice_json, invoice_number

from gateway.pipeline import DispatchSettings, OutboundSettings
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, Store, TransportState

CHANNEL_TIMEOUT = 0.3
FAILURE_RATE = 0.30
MAX_ATTEMPTS = 20
SETTLED = {TransportState.SENT, TransportState.FAILED}

DISPATCH = DispatchSettings(
    workers=4, lease=timedelta(seconds=30), idle_poll=0.02,
    backoff_base=timedelta(milliseconds=20), backoff_cap=timedelta(milliseconds=100),
    # One try per attempt: every failure becomes a stored attempt the test can count.
    quick_tries=1, stop_grace=1.0,
)


class Receiver:
    """The agency's side: keeps each document once per Idempotency-Key.

    ``decide(number)`` says how to answer a call: "ok", "500", "503",
    "slow" (keep the document, answer after the channel gave up), "reset"
    (cut the connection before answering), or "reject" (422, for good).
    """

    def __init__(self, decide: Callable[[str], str]) -> None:
        self.decide = decide
        self.kept: dict[str, set[str]] = defaultdict(set)
        self.calls: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        number = json.loads(await request.read())["number"]
        key = request.headers["Idempotency-Key"]
        self.calls[number] += 1
        outcome = self.decide(number)
        self.outcomes[outcome] += 1
        if outcome in ("500", "503"):
            return web.Response(status=int(outcome), text="try again later")
        if outcome == "reject":
            return web.Response(status=422, text=f"invoice {number}: unknown buyer reference")
        if outcome == "reset":
            transport = request.transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            # Linger 0: closing sends a TCP reset instead of an orderly FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            return web.Response(status=200)  # never written: the connection is gone
        self.kept[number].add(key)
        if outcome == "slow":
            await asyncio.sleep(CHANNEL_TIMEOUT * 2)
        return web.Response(status=202, text="ok")


@asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/documents", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/documents"
    finally:
        await runner.cleanup()


def config_file(tmp_path: Path, database: str, url: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(tmp_path / "data")!r}
database = {database!r}
token = "reliability-token"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.agency]
type = "http-post"
url = {url!r}
timeout = {CHANNEL_TIMEOUT}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "agency"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "canonical:invoice:1"
""", "utf-8")
    return path


async def run_gateway(
    store_url: str, tmp_path: Path, receiver: Receiver, count: int, max_attempts: int,
) -> dict[str, MessageRecord]:
    """Submit invoices 0..count-1, dispatch until each is sent or failed; records by number."""
    async with serve(receiver) as url:
        service = GatewayService(config_file(tmp_path, store_url, url), make_plugin_manager(),
                                 dispatch=DISPATCH,
                                 outbound=OutboundSettings(max_attempts=max_attempts))
        await service.start()
        try:
            assert service.outbound is not None
            assert service.store is not None
            assert "agency" in service.channels, service.channel_problems
            ids = {}
            for n in range(count):
                record, created = await service.outbound.submit(invoice_json(n),
                                                                agency_oin=AGENCY_OIN)
                assert created
                ids[invoice_number(n)] = record.id
            return await settled(service.store, ids, within=60)
        finally:
            await service.stop()


async def settled(store: Store, ids: dict[str, str], within: float) -> dict[str, MessageRecord]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        records = {number: await store.get(message_id) for number, message_id in ids.items()}
        waiting = {n: None if r is None else r.transport_state for n, r in records.items()
                   if r is None or r.transport_state not in SETTLED}
        if not waiting:
            return {n: r for n, r in records.items() if r is not None}
        if loop.time() > deadline:
            raise AssertionError(f"{len(waiting)} messages never settled: {waiting}")
        await asyncio.sleep(0.05)


async def test_a_flaky_receiver_gets_everything_once(store_url: str, tmp_path: Path) -> None:
    count = 200
    rng = random.Random(30)

    def flaky(number: str) -> str:
        roll = rng.random()
        if roll >= FAILURE_RATE:
            return "ok"
        return ("500", "503", "slow", "reset")[int(roll / FAILURE_RATE * 4)]

    receiver = Receiver(flaky)
    records = await run_gateway(store_url, tmp_path, receiver, count, MAX_ATTEMPTS)

    assert {n: r.transport_state for n, r in records.items()} == {
        invoice_number(n): TransportState.SENT for n in range(count)}
    # Each document kept under one key: no try was taken for a new document.
    assert {n: len(keys) for n, keys in receiver.kept.items()} == {n: 1 for n in records}
    assert {n: next(iter(keys)) for n, keys in receiver.kept.items()} == {
        n: r.id for n, r in records.items()}
    # The failures really happened, each kind of them, and were retried within bounds.
    assert all(receiver.outcomes[kind] > 0 for kind in ("500", "503", "slow", "reset")), \
        receiver.outcomes
    failed_calls = sum(receiver.outcomes.values()) - receiver.outcomes["ok"]
    assert failed_calls > count * FAILURE_RATE / 2
    attempts = [r.attempts for r in records.values()]
    assert max(attempts) > 1
    assert max(attempts) <= MAX_ATTEMPTS
    for number, record in records.items():
        assert record.attempts == receiver.calls[number]
    print(f"receiver outcomes {dict(receiver.outcomes)}; attempts per message: "
          f"max {max(attempts)}, {sum(a > 1 for a in attempts)} of {count} retried")


async def test_permanent_failures_end_as_dead_letters(store_url: str, tmp_path: Path) -> None:
    count, max_attempts = 30, 4

    def answer(number: str) -> str:
        return ("reject", "503", "ok")[int(number.rsplit("-", 1)[1]) % 3]

    receiver = Receiver(answer)
    records = await run_gateway(store_url, tmp_path, receiver, count, max_attempts)

    for number, record in records.items():
        match answer(number):
            case "reject":
                # A final answer: no second try, the receiver's reason kept.
                assert record.transport_state is TransportState.FAILED
                assert record.attempts == 1
                assert record.last_error is not None
                assert "HTTP 422" in record.last_error
                assert "unknown buyer reference" in record.last_error
            case "503":
                # Always down: bounded by max_attempts, then a dead letter saying why.
                assert record.transport_state is TransportState.FAILED
                assert record.attempts == max_attempts
                assert record.last_error is not None
                assert f"gave up after {max_attempts} of {max_attempts}" in record.last_error
                assert "HTTP 503" in record.last_error
            case _:
                assert record.transport_state is TransportState.SENT
        assert receiver.calls[number] == record.attempts
    assert set(receiver.kept) == {n for n in records if answer(n) == "ok"}
