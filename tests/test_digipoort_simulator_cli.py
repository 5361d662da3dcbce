"""``gateway simulate digipoort``: started as a real process, rehearsed against over TLS."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from aiohttp import web
from lxml import etree

from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.simulator.plugin import parse_listen
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.pki import Pki, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust
from plugins.digipoort.wus.server import WusEndpoint, WusRequest

GATEWAY = Path(sys.executable).with_name("gateway")


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8781") == ("127.0.0.1", 8781)
    assert parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(click.BadParameter, match="HOST:PORT"):
        parse_listen("localhost")


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [str(GATEWAY), "simulate", "digipoort", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--listen", "--pki-dir", "--trust", "--step-delay", "--deliver-to",
                   "--deliver-samples", "--control-listen", "--redeliver-for"):
        assert option in result.stdout


async def test_simulator_process_serves_a_wus_client(
    installed_standards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    env = {**os.environ, STANDARDS_DIR_ENV: str(installed_standards)}
    pki_dir = tmp_path / "pki"
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY), "simulate", "digipoort", "--listen", "127.0.0.1:0",
        "--pki-dir", str(pki_dir), "--step-delay", "0", "--no-validate",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "Ctrl-C" not in lines[-1]:
                line = (await process.stdout.readline()).decode()
                assert line, "the simulator exited: " + "".join(lines)
                lines.append(line)
        output = "".join(lines)
        urls = dict(re.findall(r"(\w+Service)\s+(https://\S+)", output))
        assert set(urls) == {"AanleverService", "StatusinformatieService", "OphaalService"}
        assert str(pki_dir / "ca.pem") in output
        pki = Pki.load(pki_dir)
        supplier = pki.supplier
        client = WusClient(
            SigningIdentity.from_files(supplier.cert, supplier.key),
            tls.client_context(supplier.cert, supplier.key, pki.ca),
            server_trust=Trust.from_pem_files(pki.ca),
        )
        async with client:
            request = kv.AanleverRequest(
                "FACTUUR-UBL", kv.Identiteit("30216247", "KvK"), "Bedrijf",
                kv.BerichtInhoud("text/xml", "f.xml", b"<Invoice/>"), aanleverkenmerk="Happyflow",
            )
            body = await client.call(urls["AanleverService"], ns.AANLEVEREN, request.to_element())
            kenmerk = kv.parse_as(body, kv.AanleverResponse).kenmerk
            for _ in range(50):
                body = await client.call(
                    urls["StatusinformatieService"],
                    ns.request_action("status", "getStatussenProces"),
                    kv.StatusRequest(kenmerk).to_element(),
                )
                codes = [r.statuscode for r in kv.parse_as(body, kv.StatusResponse).resultaten]
                if codes[-1] == "500":
                    break
                await asyncio.sleep(0.1)
        assert codes == ["105", "100", "110", "200", "301", "301", "405", "400", "500"]
    finally:
        process.terminate()
        await process.wait()


async def test_deliver_samples_sends_the_sample_documents(
    installed_standards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    pki = make_pki(tmp_path / "pki")
    endpoint = WusEndpoint(
        "aflever",
        SigningIdentity.from_files(pki.server.cert, pki.server.key),
        Trust.from_pem_files(pki.ca),
    )
    received: list[str] = []

    async def answer(request: WusRequest) -> etree._Element:
        message = kv.AfleverRequest.from_element(request.body)
        received.append(message.berichtsoort)
        return kv.AfleverResponse(
            kenmerk=message.kenmerk, berichtkenmerk=message.berichtkenmerk,
            tijdstempel_afgeleverd=message.tijdstempel_aangeleverd,
        ).to_element()

    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_post("/aflever", endpoint.handler(answer))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context(
        pki.server.cert, pki.server.key, pki.ca)).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/aflever"
    env = {**os.environ, STANDARDS_DIR_ENV: str(installed_standards)}
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY), "simulate", "digipoort", "--listen", "127.0.0.1:0",
        "--pki-dir", str(pki.folder), "--deliver-to", url, "--deliver-samples", "--no-validate",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(90):
            while sum(f"to {url}: " in line for line in lines) < 3:
                line = (await process.stdout.readline()).decode()
                assert line, "the simulator exited: " + "".join(lines)
                lines.append(line)
    finally:
        process.terminate()
        await process.wait()
        await runner.cleanup()
    assert sorted(received) == ["BESTELLING-HRXML", "BESTELLING-UBL", "TIMECARD-HRXML"]
    assert sum(line.endswith(f"to {url}: delivered\n") for line in lines) == 3
