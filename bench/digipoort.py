"""Digipoort channel throughput against the simulator, next to its two floors.

    .venv/bin/python bench/digipoort.py                 # 200 messages, 8 at a time
    .venv/bin/python bench/digipoort.py -n 500 --concurrency 16 --algorithm rsa-sha256

Measures, with the same sample UBL-OHNL 1.9 invoice:

- sign only: build the aanleverRequest envelope and sign it (WS-Security, no network);
- sign + verify: the same, then verify it as the receiver does;
- HTTPS POST: the signed request's bytes POSTed over two-way TLS to a bare
  aiohttp handler answering 200 with an envelope-sized body (no WS-Security
  at either end): the transport floor;
- aanleveren: ``DigipoortChannel.send`` against the simulator (signed both
  ways, XSD checks on both sides) until Accepted;
- aanleveren + status: the same, then (once the simulator has walked the
  process to 500, with step_delay 0) one ``getStatussenProces`` that fetches
  the whole history: the two round trips a message costs.

Client and server share this process and its event loop, so the HTTPS and
simulator figures include the server's work; the simulator's payload
validation (XSD + Schematron) is off unless ``--validate``. The machine has
two cores shared with whatever else runs: treat single runs as rough.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.channels import Accepted, ChannelContext, OutboundMessage
from gateway.kinds import DocumentKind
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.koppelvlak import AanleverRequest, BerichtInhoud, Identiteit
from plugins.digipoort.wus.ns import AANLEVEREN
from plugins.digipoort.wus.pki import Pki, make_pki
from plugins.digipoort.wus.security import Algorithm, SigningIdentity, Trust, verify
from plugins.digipoort.wus.tls import client_context, server_context

KVK = "30097265"
AGENCY_OIN = "00000001003227522000"


def sample_invoice() -> bytes:
    fmt = build_registry(make_plugin_manager()).format("ubl-ohnl:invoice:1.9")
    chosen = fmt.samples()[0]
    return fmt.encode(chosen.document, chosen.context)


def request_body(payload: bytes) -> Any:
    return AanleverRequest(
        berichtsoort="FACTUUR-UBL", aanleverkenmerk="bench",
        identiteit_belanghebbende=Identiteit(KVK, "KvK"), rol_belanghebbende="Bedrijf",
        identiteit_ontvanger=Identiteit(AGENCY_OIN, "OIN"),
        bericht_inhoud=BerichtInhoud("application/xml", "factuur.xml", payload),
        autorisatie_adres="http://geenausp.nl").to_element()


class Row:
    def __init__(self, what: str, count: int, seconds: float, each: list[float]) -> None:
        self.what, self.count, self.seconds, self.each = what, count, seconds, each

    def line(self) -> str:
        rate = self.count / self.seconds if self.seconds else float("inf")
        median = statistics.median(self.each) * 1000 if self.each else 0.0
        p95 = (statistics.quantiles(self.each, n=20)[18] * 1000
               if len(self.each) >= 20 else median)
        return (f"{self.what:<44} {self.count:>6} {rate:>10.1f} {median:>10.2f} "
                f"{p95:>10.2f}")


def time_sync(what: str, count: int, step: Callable[[], object]) -> Row:
    each = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        step()
        each.append(time.perf_counter() - t0)
    return Row(what, count, time.perf_counter() - started, each)


async def time_async(what: str, count: int, concurrency: int,
                     step: Callable[[int], Awaitable[object]]) -> Row:
    each: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            t0 = time.perf_counter()
            await step(n)
            each.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Row(what, count, time.perf_counter() - started, each)


async def https_floor(pki: Pki, data: bytes, answer: bytes, count: int,
                      concurrency: int) -> Row:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="text/xml")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0,
                       ssl_context=server_context(pki.server.cert, pki.server.key, pki.ca))
    await site.start()
    port = runner.addresses[0][1]
    supplier = pki.suppliers[KVK]
    connector = aiohttp.TCPConnector(ssl=client_context(supplier.cert, supplier.key, pki.ca),
                                     limit=32)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            async def post(_n: int) -> None:
                async with session.post(f"https://127.0.0.1:{port}/", data=data,
                                        headers={"Content-Type": "text/xml"}) as response:
                    await response.read()
                    assert response.status == 200

            await post(0)  # the handshake, once per connection, is not what we measure
            return await time_async(f"HTTPS POST, two-way TLS ({len(data)} bytes)", count,
                                    concurrency, post)
    finally:
        await runner.cleanup()


async def run(args: argparse.Namespace) -> list[Row]:
    payload = sample_invoice()
    algorithm: Algorithm = args.algorithm
    with tempfile.TemporaryDirectory(prefix="bench-digipoort-") as scratch:
        pki = make_pki(Path(scratch) / "pki", kvk_numbers=(KVK,))
        supplier = pki.suppliers[KVK]
        identity = SigningIdentity.from_files(supplier.cert, supplier.key)
        trust = Trust.from_pem_files(pki.ca)
        client = WusClient(identity, client_context(supplier.cert, supplier.key, pki.ca),
                           algorithm, trust)
        url = "https://127.0.0.1/cpl/aanleverservice/1.2"
        rows = [time_sync(f"sign only ({algorithm})", args.n,
                          lambda: client.build(url, AANLEVEREN, request_body(payload)))]
        signed, _ = client.build(url, AANLEVEREN, request_body(payload))
        rows.append(time_sync(f"sign + verify ({algorithm})", args.n, lambda: verify(
            client.build(url, AANLEVEREN, request_body(payload))[0], trust)))
        await client.close()
        rows.append(await https_floor(pki, signed, signed[:2000], args.n, args.concurrency))

        settings = SimulatorSettings(pki_dir=pki.folder, step_delay=0.0, algorithm=algorithm,
                                     validate_payload=args.validate)
        async with DigipoortSimulator(settings) as simulator:
            channel = DigipoortChannel("bench", {
                "environment": "simulator", "aanlever_url": simulator.aanlever_url,
                "status_url": simulator.status_url, "certificate": str(supplier.cert),
                "private_key": str(supplier.key), "server_ca": str(pki.ca),
                "belanghebbende_nummer": KVK, "signature_algorithm": algorithm,
            })
            await channel.start(ChannelContext("bench"))
            try:
                async def aanleveren(n: int) -> str:
                    outcome = await channel.send(OutboundMessage(
                        message_id=f"bench-{n:06d}", agency_oin=AGENCY_OIN,
                        kind=DocumentKind.INVOICE, format_key="ubl-ohnl:invoice:1.9",
                        payload=payload, filename="factuur.xml"))
                    assert isinstance(outcome, Accepted), outcome
                    return outcome.transport_id

                async def round_trip(n: int) -> None:
                    kenmerk = await aanleveren(n)
                    # Wait on the simulator's side, then one status call fetches it all:
                    # two round trips per message, as the poller makes them.
                    await simulator.wait_finished(kenmerk)
                    codes = [r.statuscode for r in
                             await channel.statuses(kenmerk, new_only=False)]
                    assert codes[-1] == "500", codes

                await aanleveren(-1)
                rows.append(await time_async("aanleveren (channel -> simulator)", args.n,
                                             args.concurrency, aanleveren))
                rows.append(await time_async("aanleveren + getStatussenProces", args.n,
                                             args.concurrency, round_trip))
            finally:
                await channel.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="messages per measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--algorithm", choices=["rsa-sha1", "rsa-sha256"], default="rsa-sha1")
    parser.add_argument("--validate", action="store_true",
                        help="let the simulator validate every payload (XSD + Schematron)")
    parser.add_argument("--standards", type=Path, default=None,
                        help="installed standards (default: the gateway's standards folder)")
    args = parser.parse_args()
    if args.standards is not None:
        os.environ[STANDARDS_DIR_ENV] = str(args.standards)
    rows = asyncio.run(run(args))
    print(f"{'measurement':<44} {'n':>6} {'per sec':>10} {'ms p50':>10} {'ms p95':>10}")
    for row in rows:
        print(row.line())
    print(f"(concurrency {args.concurrency} for the network rows; client and server share "
          "one process; other load on the machine skews every figure)")


if __name__ == "__main__":
    main()
