"""`gateway --config X simulate peppol|digipoort` validates with X's [gateway] standards_dir.

Both simulators used to validate against the default standards location
whatever the configuration said, so a valid document failed there (no
standards installed) while the gateway itself, on the same configuration,
found it valid. An explicit --standards-dir still wins.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from api_support import free_port

from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.pki import Pki
from plugins.digipoort.wus.security import SigningIdentity, Trust
from plugins.peppol.sbdh import participant, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

GATEWAY = Path(sys.executable).with_name("gateway")
REGISTRY = build_registry(make_plugin_manager())


def _config(tmp_path: Path, standards: Path) -> Path:
    """A configuration naming the standards folder, relative to the file as operators write it."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "standards").symlink_to(standards, target_is_directory=True)
    path = folder / "gateway.toml"
    path.write_text(f"""
[gateway]
data_dir = {str(tmp_path / "data")!r}
standards_dir = "standards"

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"
""", "utf-8")
    return path


def _sample(format_key: str) -> bytes:
    fmt = REGISTRY.format(format_key)
    sample = fmt.samples()[0]
    return sample.data or fmt.encode(sample.document, sample.context)


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _peppol_receipt(arguments: list[str], tmp_path: Path) -> dict[str, Any]:
    """Start ``gateway <arguments>``, send it a valid invoice, and return the final receipt."""
    port = free_port()
    envelope, data = wrap(_sample("peppol-bis:invoice:3.0"),
                          sender=participant("0106:30097265", "sender"),
                          receiver=participant("0190:00000001003227522000", "receiver"))
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(GATEWAY), *arguments, "--listen", f"127.0.0.1:{port}",
         "--deliver-dir", str(tmp_path / "inbox")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the simulator exited"
            assert time.monotonic() < deadline, "the simulator did not answer"
            try:
                request = urllib.request.Request(f"{url}/outbound", data=data, method="POST",
                                                 headers={"Content-Type": "application/xml"})
                with urllib.request.urlopen(request, timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        while True:
            status, receipt = _get(f"{url}/outbound/{envelope.instance_id}")
            assert status == 200, receipt
            if receipt["status"] != "accepted":
                return receipt
            assert time.monotonic() < deadline, receipt
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_peppol_simulator_validates_with_the_configured_standards(
    tmp_path: Path, installed_standards: Path, where: str,
) -> None:
    """The default standards location (in the test's own data directory) is empty; only the
    configuration names the installed standards."""
    config = _config(tmp_path, installed_standards)
    arguments = (["--config", str(config), "simulate", "peppol"] if where == "before"
                 else ["simulate", "peppol", "--config", str(config)])
    receipt = _peppol_receipt(arguments, tmp_path)
    assert receipt["status"] == "delivered", receipt


def test_an_explicit_standards_dir_wins_over_the_configuration(
    tmp_path: Path, installed_standards: Path,
) -> None:
    config = _config(tmp_path, installed_standards)
    empty = tmp_path / "no-standards"
    empty.mkdir()
    receipt = _peppol_receipt(["--config", str(config), "simulate", "peppol",
                               "--standards-dir", str(empty)], tmp_path)
    assert receipt["status"] == "failed", receipt
    assert str(empty) in json.dumps(receipt), receipt


async def test_a_peppol_simulator_that_cannot_validate_says_so_in_the_receipt(
    tmp_path: Path,
) -> None:
    """Without standards the validation raised in a task nobody awaited: the receipt said
    "accepted" for ever and nothing told why."""
    empty = tmp_path / "no-standards"
    empty.mkdir()
    simulator = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", standards=empty))
    await simulator.start()
    try:
        _, data = wrap(_sample("peppol-bis:invoice:3.0"),
                       sender=participant("0106:30097265", "sender"),
                       receiver=participant("0190:00000001003227522000", "receiver"))
        async with asyncio.timeout(60):
            transmission, _ = await simulator.take(data, wait=True)
    finally:
        await simulator.stop()
    assert transmission.status == "failed"
    assert transmission.error is not None
    assert "cannot validate" in transmission.error
    assert str(empty) in transmission.error


def test_a_broken_configuration_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway]\nstandards_dir = 42\n\n[supplier]\nname = \"Naam BV\"\n"
                      "kvk = \"30097265\"\nvestigingsnummer = \"000018727409\"\n", "utf-8")
    for name in ("peppol", "digipoort"):
        result = subprocess.run([str(GATEWAY), "--config", str(config), "simulate", name,
                                 "--listen", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode != 0
        assert str(config) in result.stderr, result.stderr
        assert "standards_dir" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("validate", [True, False], ids=["validating", "no-validate"])
async def test_the_digipoort_simulator_validates_with_the_configured_standards(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch, validate: bool,
) -> None:
    """The payload, and the koppelvlak bodies (also with --no-validate), are checked against
    the configured standards; the default location has none."""
    config = _config(tmp_path, installed_standards)
    pki_dir = tmp_path / "pki"
    env = dict(os.environ)
    # The test's own client checks its koppelvlak bodies too; the simulator must not inherit it.
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY), "--config", str(config), "simulate", "digipoort",
        "--listen", "127.0.0.1:0", "--pki-dir", str(pki_dir), "--step-delay", "0",
        *([] if validate else ["--no-validate"]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "Ctrl-C" not in lines[-1]:
                line = (await process.stdout.readline()).decode()
                assert line, "the simulator exited: " + "".join(lines)
                lines.append(line)
        urls = dict(re.findall(r"(\w+Service)\s+(https://\S+)", "".join(lines)))
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
                kv.BerichtInhoud("text/xml", "f.xml", _sample("ubl-ohnl:invoice:1.9")),
                aanleverkenmerk="Happyflow",
            )
            body = await client.call(urls["AanleverService"], ns.AANLEVEREN, request.to_element())
            kenmerk = kv.parse_as(body, kv.AanleverResponse).kenmerk
            async with asyncio.timeout(60):
                while True:
                    body = await client.call(
                        urls["StatusinformatieService"],
                        ns.request_action("status", "getStatussenProces"),
                        kv.StatusRequest(kenmerk).to_element(),
                    )
                    results = kv.parse_as(body, kv.StatusResponse).resultaten
                    if results[-1].statuscode in ("500", "311"):
                        break
                    await asyncio.sleep(0.1)
        assert [r.statuscode for r in results][-1] == "500", [
            (r.statuscode, r.statusdetails) for r in results]
    finally:
        process.terminate()
        await process.wait()
