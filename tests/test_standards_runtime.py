"""At run time only intact standards validate, /health names missing ones, and every
channel uses the configured standards folder.

A set that `gateway standards verify` calls altered is refused for
validation rather than used with another verdict; a routed format whose
standards are missing shows in /health; the Digipoort channel finds the
koppelvlak XSD in [gateway] standards_dir, not only in the default folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from digipoort_channel_support import (
    AGENCY_OIN,
    client_settings,
    gateway_config,
    pki,
    toml_value,
)
from pipeline_support import FAST, document_json
from process_support import with_ctrl_c

from gateway.paths import DATA_DIR_ENV, STANDARDS_DIR_ENV
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import BusinessState, TransportState
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.pki import Pki
from plugins.ubl_ohnl.samples import sample_invoice

__all__ = ["pki"]  # the shared fixture, used by the tests here

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"
EXAMPLE = SHARED / "en16931/ubl/examples/guide-example1.xml"
UBL = "oasis-ubl/ubl-2.1/xsdrt"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, **(env or {})})


def replace_once(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_bytes(data.replace(old, new))


# -- validation on an altered set --------------------------------------------


@pytest.mark.parametrize(
    ("document_change", "standards_change"),
    [
        # An included schema (never looked at, not even its size) made lax.
        ((b"<cbc:IssueDate>2015-01-09</cbc:IssueDate>", b"<cbc:IssueDate>9 jan</cbc:IssueDate>"),
         (f"{UBL}/common/UBL-CommonBasicComponents-2.1.xsd",
          b'<xsd:element name="IssueDate" type="IssueDateType"/>',
          b'<xsd:element name="IssueDate" type="xsd:string"/>')),
        # The entry schema itself, altered without changing its size.
        ((b"<cbc:IssueDate>2015-01-09</cbc:IssueDate>", b""),
         (f"{UBL}/maindoc/UBL-Invoice-2.1.xsd",
          b'<xsd:element ref="cbc:IssueDate" minOccurs="1"',
          b'<xsd:element ref="cbc:IssueDate" minOccurs="0"')),
    ],
    ids=["included-schema", "entry-schema-same-size"],
)
def test_validation_refuses_a_set_that_verify_calls_altered(
    tmp_path: Path, document_change: tuple[bytes, bytes],
    standards_change: tuple[str, bytes, bytes],
) -> None:
    target = tmp_path / "standards"
    installed = gateway("standards", "install", "--from", str(SHARED), "--target", str(target),
                        "--only", "ubl-2.1-xsd")
    assert installed.returncode == 0, installed.stderr
    document = tmp_path / "invoice.xml"
    document.write_bytes(EXAMPLE.read_bytes().replace(*document_change))
    env = {STANDARDS_DIR_ENV: str(target)}
    validate = ("validate", "--format", "en16931:invoice:2017", "--layers", "xsd",
                str(document))
    pinned = gateway(*validate, env=env)
    assert pinned.returncode == 1, pinned.stdout + pinned.stderr  # the pinned XSD refuses it

    altered_path, old, new = standards_change
    replace_once(target / altered_path, old, new)
    verified = gateway("standards", "verify", "--target", str(target), "--only", "ubl-2.1-xsd")
    assert verified.returncode == 1
    assert f"altered: {altered_path}" in verified.stderr

    after = gateway(*validate, env=env)
    assert after.returncode == 2, (
        f"validation ran on a set `gateway standards verify` calls altered and answered "
        f"(exit {after.returncode}): {after.stdout.strip()}")
    assert altered_path in after.stdout + after.stderr


# -- /health when the routed formats' standards are missing -----------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_health_names_missing_standards_of_a_routed_format(tmp_path: Path) -> None:
    port = free_port()
    agency = "00000001003214345000"
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
[gateway]
listen = "127.0.0.1:{port}"
data_dir = {toml_value(str(tmp_path / "data"))}
token = "review-token-0123456789"

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"

[channels.folder]
type = "folder"
path = {toml_value(str(tmp_path / "out"))}

[agencies."{agency}"]
name = "Naam Overheidsorganisatie"
default_channel = "folder"

[agencies."{agency}".documents.invoice]
format = "en16931:invoice:2017"
""", "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "run",
         "--log-format", "text"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=with_ctrl_c)
    try:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.load(r)
                if health.get("validation") != "warming":
                    break
            except OSError:
                pass
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert health, f"the gateway never answered /health: {err[-1000:]}"
    # Every invoice for this agency is answered 503 until the standards are installed.
    assert health["status"] == "degraded", health
    assert any("ubl-2.1-xsd" in str(p) for p in health["problems"]), health["problems"]  # type: ignore[attr-defined]


# -- the Digipoort channel and [gateway] standards_dir --------------------------


@pytest.fixture
async def simulator(pki: Pki, installed_standards: Path) -> AsyncIterator[DigipoortSimulator]:
    settings = SimulatorSettings(pki_dir=pki.folder, step_delay=0.02,
                                 standards_dir=installed_standards)
    async with DigipoortSimulator(settings) as running:
        yield running


async def test_digipoort_channel_uses_the_configured_standards_dir(
    tmp_path: Path, pki: Pki, simulator: DigipoortSimulator, installed_standards: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The documented way to say where the standards are: [gateway] standards_dir. No
    # $GATEWAY_STANDARDS_DIR, and $GATEWAY_DATA_DIR is some other folder.
    monkeypatch.delenv(STANDARDS_DIR_ENV, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, status_poll_interval=0.05,
                               request_timeout=5)
    del settings["belanghebbende_nummer"]
    config = gateway_config(tmp_path, settings, standards_dir=installed_standards)
    service = GatewayService(config, make_plugin_manager(), dispatch=FAST)
    await service.start()
    try:
        assert service.outbound is not None
        assert service.store is not None
        # The gateway's own validation finds the configured standards: the invoice is taken.
        record, created = await service.outbound.submit(document_json(sample_invoice()),
                                                        agency_oin=AGENCY_OIN)
        assert created
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            current = await service.store.get(record.id)
            assert current is not None
            if current.business_state == BusinessState.ACKNOWLEDGED.value:
                break
            if (current.transport_state is TransportState.FAILED
                    or asyncio.get_running_loop().time() > deadline):
                pytest.fail(f"message {current.transport_state}/{current.business_state}: "
                            f"{current.last_error}")
            await asyncio.sleep(0.05)
    finally:
        await service.stop()
