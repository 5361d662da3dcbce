"""The digipoort channel's settings, aanleverkenmerk and status reading, without a network."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.store import BusinessState
from plugins.digipoort.channel import aanleverkenmerk_for
from plugins.digipoort.settings import SettingsError, parse_settings
from plugins.digipoort.status import report_for
from plugins.digipoort.wus.koppelvlak import Fout, Identiteit, StatusResultaat
from plugins.digipoort.wus.ns import ENVIRONMENTS

FILES = {"certificate": "pki/client.pem", "private_key": "pki/client.key",
         "server_ca": "pki/ca.pem"}


def settings(**extra: Any) -> dict[str, Any]:
    return {"environment": "conformance", **FILES, **extra}


def test_an_environment_picks_the_endpoints() -> None:
    parsed = parse_settings("dp", settings())
    assert parsed.aanlever_url == ENVIRONMENTS["cs-bedrijven"]["aanlever"]
    assert parsed.status_url == ENVIRONMENTS["cs-bedrijven"]["status"]
    assert parsed.signature_algorithm == "rsa-sha1"
    assert parsed.autorisatie_adres == "http://geenausp.nl"
    assert (parsed.belanghebbende_type, parsed.belanghebbende_rol) == ("KvK", "Bedrijf")
    production = parse_settings("dp", settings(environment="productie-2026"))
    assert production.aanlever_url.startswith("https://wus.digipoort.logius.nl/")


def test_explicit_urls_win_and_relative_files_live_in_the_data_dir(tmp_path: Path) -> None:
    parsed = parse_settings("dp", settings(
        environment="simulator", aanlever_url="https://127.0.0.1:9/a",
        status_url="https://127.0.0.1:9/s")).resolved(str(tmp_path))
    assert parsed.aanlever_url == "https://127.0.0.1:9/a"
    assert parsed.certificate == tmp_path / "pki" / "client.pem"
    absolute = parse_settings("dp", settings(server_ca="/etc/ca.pem")).resolved(str(tmp_path))
    assert absolute.server_ca == Path("/etc/ca.pem")


@pytest.mark.parametrize(("raw", "named"), [
    (settings(environment="acceptatie"), "environment must be one of"),
    (settings(environment="simulator"), "aanlever_url is required"),
    ({"environment": "conformance", "private_key": "k", "server_ca": "c"}, "certificate is "
                                                                           "required"),
    (settings(signature_algorithm="rsa-md5"), "signature_algorithm must be one of"),
    (settings(status_poll_interval=0), "status_poll_interval must be a number"),
    (settings(status_poll_interval="often"), "status_poll_interval must be a number"),
    (settings(status_poll_interval=float("nan")), "status_poll_interval must be a number"),
    (settings(status_deadline=float("inf")), "status_deadline must be a number"),
    (settings(status_batch=2.5), "status_batch must be a whole number of at least 1, not 2.5"),
    (settings(status_batch=0), "status_batch must be a whole number"),
    (settings(aflever_listen="127.0.0.1"), "aflever_listen must be host:port"),
    (settings(aflever_listen="127.0.0.1:8444"), "aflever_client_ca is required"),
    (settings(aflever_listen="127.0.0.1:8444", aflever_client_ca="ca.pem"),
     "aflever_client_ids is required"),
    (settings(aflever_client_ids="00000001"), "aflever_client_ids must be a list"),
    (settings(aanlever_url="ftp://x"), "aanlever_url must be an https:// address"),
    (settings(private_key_passphrase_env="WISSEL_TEST_NOT_SET"), "WISSEL_TEST_NOT_SET"),
    (settings(ophaal="yes"), "ophaal must be true or false"),
    (settings(certifcate="x"), "unknown setting(s) certifcate"),
    (settings(belanghebbende_identity="bsn"), "belanghebbende_identity must be one of"),
    (settings(environment="productie", aanleverkenmerk_scenario="Happyflow"),
     "aanleverkenmerk_scenario is for rehearsals"),
])
def test_bad_settings_name_the_key(raw: dict[str, Any], named: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISSEL_TEST_NOT_SET", raising=False)
    with pytest.raises(SettingsError) as caught:
        parse_settings("dp", raw)
    assert named in str(caught.value)
    assert "channel 'dp'" in str(caught.value)


def test_the_passphrase_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WISSEL_TEST_PASS", "geheim")
    parsed = parse_settings("dp", settings(private_key_passphrase_env="WISSEL_TEST_PASS"))
    assert parsed.private_key_passphrase == b"geheim"


def test_the_aanleverkenmerk_is_stable_and_fits() -> None:
    ulid = "01KB5Z3E8W9G6Q2M4T7X1C0V5N"
    assert aanleverkenmerk_for(ulid) == aanleverkenmerk_for(ulid)
    assert aanleverkenmerk_for(ulid).endswith(ulid)
    long_id = "a message id that is far too long to be an aanleverkenmerk / with slashes"
    derived = aanleverkenmerk_for(long_id)
    assert derived == aanleverkenmerk_for(long_id)
    assert len(derived) <= 40
    assert re.fullmatch(r"[A-Za-z0-9-]+", derived)
    assert derived != aanleverkenmerk_for(long_id + "!")


AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def resultaat(code: str, fout: tuple[str, str] | None = None) -> StatusResultaat:
    return StatusResultaat(
        kenmerk="k-1", identiteit_belanghebbende=Identiteit("30097265", "KvK"), statuscode=code,
        tijdstempel_status=AT, statusomschrijving=f"omschrijving {code}",
        status_foutcode=None if fout is None else Fout(*fout))


@pytest.mark.parametrize("code", ["105", "100", "110", "200", "301", "405", "420", "999"])
def test_progress_statuses_only_add_an_event(code: str) -> None:
    report = report_for(resultaat(code))
    assert (report.code, report.transport_id, report.at) == (code, "k-1", AT)
    assert not report.failed
    assert not report.final
    assert report.business_state is None


def test_delivered_and_acknowledged_move_the_business_state() -> None:
    delivered = report_for(resultaat("400"))
    assert delivered.business_state == BusinessState.DELIVERED_TO_AGENCY.value
    assert not delivered.final
    done = report_for(resultaat("500"))
    assert done.business_state == BusinessState.ACKNOWLEDGED.value
    assert done.final
    assert not done.failed


@pytest.mark.parametrize(("code", "fout"), [
    ("210", None), ("230", None), ("311", ("VAS500", "Validatie niet gelukt")),
    ("321", ("VAS400", "Technisch")), ("410", ("AFS400", "Afleveren mislukt")),
    ("410", ("AFO100", "Niet geaccepteerd")), ("420", ("AFS600", "72 uur")),
])
def test_error_statuses_fail_the_message_with_the_reason(
        code: str, fout: tuple[str, str] | None) -> None:
    report = report_for(resultaat(code, fout))
    assert report.failed
    assert report.final
    assert f"omschrijving {code}" in report.text
    if fout is not None:
        assert f"{fout[0]}: {fout[1]}" in report.text
        assert report.detail["foutcode"] == fout[0]
