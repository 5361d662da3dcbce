"""``gateway conformance``: all eleven Aansluit Suite scenarios against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from digipoort_channel_support import SUPPLIER_KVK, client_settings, gateway_config

from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.conformance import (
    SCENARIOS,
    ScenarioResult,
    StatusLine,
    judge,
    urls_for_target,
)
from plugins.digipoort.wus.pki import make_pki


def gateway(*args: str, standards: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, STANDARDS_DIR_ENV: str(standards)}
    return subprocess.run(
        [sys.executable, "-c", "from gateway.cli.main import main; main()", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)


def test_every_scenario_runs_green_against_the_simulator(
        installed_standards: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = gateway("conformance", "--report", str(report), standards=installed_standards,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 of 11 scenarios passed" in result.stdout
    for name in SCENARIOS:
        assert name in result.stdout
    document = json.loads(report.read_text("utf-8"))
    assert document["passed"] == document["scenarios"] == 11
    assert "serialNumber" in document["certificate_subject"] or "2.5.4.5=" in (
        document["certificate_subject"])
    by_name = {r["scenario"]: r for r in document["results"]}
    happy = by_name["Happyflow"]
    assert [s["code"] for s in happy["statuses"]] == [
        "105", "100", "110", "200", "301", "301", "405", "400", "500"]
    assert happy["kenmerk"]
    assert all(s["at"] for s in happy["statuses"])
    assert by_name["AanleverFault"]["aanlevering"] == "final"
    assert "ALS100" in by_name["AanleverFault"]["aanlevering_detail"]
    assert by_name["OverbelastAanleveren"]["aanlevering"] == "retryable"
    assert by_name["OverbelastAanleveren"]["retries"][0].startswith("retry 1: accepted")
    assert by_name["MaximaalAantalAfleverpogingen"]["statuses"][-1]["foutcode"] == "AFS600"


def test_a_markdown_report_for_chosen_scenarios(installed_standards: Path,
                                                tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    result = gateway("conformance", "--scenario", "Happyflow", "--scenario", "Afleverfout",
                     "--report", str(report), standards=installed_standards, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = report.read_text("utf-8")
    assert text.startswith("# Digipoort WUS conformance run")
    assert "Result: 2 of 2 scenarios passed" in text
    assert "## Happyflow" in text
    assert "| 410 |" in text
    assert "AanleverFault" not in text


def test_an_unreachable_target_fails_every_scenario_with_exit_1(
        installed_standards: Path, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", kvk_numbers=(SUPPLIER_KVK,))
    settings = client_settings(pki)
    del settings["belanghebbende_nummer"]
    config = gateway_config(tmp_path, settings)
    report = tmp_path / "report.json"
    result = gateway("conformance", "--config", str(config), "--target", "https://127.0.0.1:1",
                     "--scenario", "Happyflow", "--scenario", "AanleverFault",
                     "--poll-interval", "0.01", "--report", str(report),
                     standards=installed_standards, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 of 2 scenarios passed" in result.stdout
    document = json.loads(report.read_text("utf-8"))
    assert document["aanlever_url"] == "https://127.0.0.1:1/cpl/aanleverservice/1.2"
    assert all(r["verdict"] == "fail" for r in document["results"])
    assert "connection" in document["results"][0]["aanlevering_detail"]


def test_a_target_without_a_configured_channel_is_a_clear_error(
        installed_standards: Path, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndata_dir = "data"\n[supplier]\nname = "X"\n'
                      f'kvk = "{SUPPLIER_KVK}"\nvestigingsnummer = "000018727409"\n', "utf-8")
    result = gateway("conformance", "--config", str(config), "--target",
                     "https://cs-bedrijven.procesinfrastructuur.nl",
                     standards=installed_standards, cwd=tmp_path)
    assert result.returncode != 0
    assert "no digipoort channel 'digipoort'" in result.stderr


def test_target_addresses() -> None:
    assert urls_for_target("https://cs-bedrijven.procesinfrastructuur.nl") == (
        "https://cs-bedrijven.procesinfrastructuur.nl/cpl/aanleverservice/1.2",
        "https://cs-bedrijven.procesinfrastructuur.nl/cpl/statusinformatieservice/1.2")
    assert urls_for_target("https://h.example/wus/2.0/aanleverservice/1.2")[1] == (
        "https://h.example/wus/2.0/statusinformatieservice/1.2")
    for bad in ("http://h.example", "https://h.example/somewhere"):
        with pytest.raises(ValueError, match="--target"):
            urls_for_target(bad)


AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def finished(name: str, *codes: str, foutcode: str | None = None) -> ScenarioResult:
    result = ScenarioResult(name, SCENARIOS[name], AT, kenmerk="k", send="accepted")
    result.statuses = [StatusLine(code, AT, "x") for code in codes]
    if foutcode is not None:
        result.statuses[-1].foutcode = foutcode
    return result


def test_the_verdict_names_what_differs() -> None:
    assert judge(finished("Happyflow", "105", "100", "400", "500")) == []
    assert judge(finished("Happyflow", "105", "100", "410")) == ["ended with 410, expected 500"]
    assert judge(finished("Happyflow", "105", "100")) == ["ended with 100, expected 500"]
    assert judge(finished("MaximaalAantalAfleverpogingen", "405", "420")) == [
        "last status carries None, expected AFS600"]
    assert judge(finished("TechnischProbleemAfleveren", "405", "420")) == []
    wrong_send = ScenarioResult("AanleverFault", SCENARIOS["AanleverFault"], AT,
                                send="accepted", kenmerk="k")
    assert judge(wrong_send)[0].startswith("aanleveren gave accepted")
    silent = finished("StatusInformatieFault", "105", "100", "500")
    assert judge(silent) == ["status service: expected fault, got answers"]
