"""The conformance runner judges a scenario by what the service answered, not by any failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.digipoort.conformance import run_all, sample_payload
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.pki import make_pki

KVK = "30097265"


@pytest.fixture(autouse=True)
def _standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


async def test_aanleverfault_does_not_pass_when_the_service_was_never_reached(
        tmp_path: Path, installed_standards: Path) -> None:
    """A failed TLS handshake (no SOAP exchange at all) is not the AanleverFault scenario."""
    registry = build_registry(make_plugin_manager())
    pki = make_pki(tmp_path / "pki", kvk_numbers=(KVK,))
    sim = DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, step_delay=0.0,
                                               standards_dir=installed_standards,
                                               registry=registry))
    await sim.start()
    try:
        settings = {
            "environment": "simulator", "aanlever_url": sim.aanlever_url,
            "status_url": sim.status_url,
            "certificate": str(pki.suppliers[KVK].cert),
            "private_key": str(pki.suppliers[KVK].key),
            # the wrong CA pinned for the server: the TLS handshake fails, no SOAP at all
            "server_ca": str(pki.folder / "unknown-ca.pem"), "belanghebbende_nummer": KVK,
            "request_timeout": 10,
        }
        _, results = await run_all(settings, ["Happyflow", "AanleverFault"],
                                   sample_payload(registry), target="simulator",
                                   data_dir=str(tmp_path / "data"), follow_for=5.0)
    finally:
        await sim.stop()
    by_name = {r.name: r for r in results}
    for r in results:
        print("RESULT", r.name, r.send, r.send_detail, r.problems)
    assert not by_name["Happyflow"].passed  # the connection really failed
    detail = by_name["AanleverFault"].send_detail
    assert not by_name["AanleverFault"].passed, (
        f"AanleverFault judged PASS although no aanleverFault was answered: {detail}")
