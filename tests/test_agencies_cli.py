"""``gateway agencies``: list, show, route and switch, as an operator sees them."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli.agencies import agencies
from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.config import AuditLog, load_config
from gateway.pluginmanager import make_plugin_manager

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway.toml"
BZK = "00000001003214345000"
RWS = "00000001006492083000"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def run(path: Path, *args: str, obj: object | None = None) -> Result:
    context = obj if obj is not None else types.SimpleNamespace(config_path=path)
    return CliRunner().invoke(agencies, list(args), obj=context)


def test_list_table(config_path: Path) -> None:
    result = run(config_path, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["OIN", "NAME", "DOCUMENT", "CHANNEL", "FORMAT", "FALLBACK"]
    bzk = next(line for line in lines if line.startswith(BZK))
    assert "BZK: Ministerie van Binnenlandse Zaken" in bzk
    assert "order" in bzk
    assert "digipoort" in bzk
    assert "ubl-ohnl:order:1.9" in bzk
    assert any("invoice" in line and "ubl-ohnl:invoice:1.9" in line and "portal" in line
               for line in lines)
    assert sum(1 for line in lines if line[:1].isdigit()) == len(load_config(config_path).agencies)


def test_list_json(config_path: Path) -> None:
    result = run(config_path, "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    bzk = next(a for a in data if a["oin"] == BZK)
    assert bzk["documents"]["invoice"] == {
        "kind": "invoice", "channel": "digipoort", "format": "ubl-ohnl:invoice:1.9",
        "fallback_channel": "portal",
    }
    assert bzk["contacts"][0]["name"] == "Servicedesk inkoop"


def test_show(config_path: Path) -> None:
    result = run(config_path, "show", BZK)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Ministerie van Binnenlandse Zaken en Koninkrijksrelaties (BZK)\n")
    assert f"Peppol id:         0190:{BZK}" in out
    assert "Servicedesk inkoop (first-line support) <servicedesk-inkoop@bzk.example>" in out
    assert "Format pins:       ubl-ohnl = 1.9" in out
    assert "invoice: channel digipoort, format ubl-ohnl:invoice:1.9, fallback portal" in out
    assert f'- document kind invoice routed by [agencies."{BZK}".documents.invoice]' in out


def test_show_json(config_path: Path) -> None:
    result = run(config_path, "show", BZK, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"].startswith("Ministerie van Binnenlandse Zaken")
    assert data["routes"]["order"]["channel"] == "digipoort"
    assert data["routes"]["order"]["explanation"][0].startswith(f"agency {BZK}")


def test_show_unknown_agency(config_path: Path) -> None:
    result = run(config_path, "show", "00000001002345675000")
    assert result.exit_code == 1
    assert "Error: no agency with OIN 00000001002345675000" in result.output
    assert "Traceback" not in result.output
    assert result.exception is not None
    assert isinstance(result.exception, SystemExit)


def test_route(config_path: Path) -> None:
    result = run(config_path, "route", RWS, "--document", "invoice")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"invoice for {RWS} (Rijkswaterstaat): channel portal, format nlcius:invoice:1.0, "
        "fallback email"
    )
    assert lines[1] == "why:"
    assert lines[2] == f"  - agency {RWS} (Rijkswaterstaat) found in {config_path}"


def test_route_json_and_errors(config_path: Path) -> None:
    result = run(config_path, "route", BZK, "-d", "order-response", "--json")
    assert json.loads(result.output)["format"] == "ubl-ohnl:order-response:1.9"

    result = run(config_path, "route", BZK, "-d", "timecard")
    assert result.exit_code == 1
    assert "has no route for document kind timecard" in result.output

    result = run(config_path, "route", BZK, "-d", "invoise")
    assert result.exit_code == 2
    assert "invoise" in result.output


def test_switch(config_path: Path) -> None:
    result = run(config_path, "switch", BZK, "--document", "invoice", "--channel", "peppol",
                 "--reason", "Digipoort onderhoud", "--actor", "ops@test")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"invoice for {BZK} (Ministerie van Binnenlandse Zaken en Koninkrijksrelaties): "
        "digipoort, ubl-ohnl:invoice:1.9 -> peppol, ubl-ohnl:invoice:1.9"
    )
    config = load_config(config_path)
    [record] = AuditLog(config.gateway.audit_log).read()
    assert (record["actor"], record["reason"]) == ("ops@test", "Digipoort onderhoud")
    assert "# Goods ordered and invoiced over Digipoort" in config_path.read_text("utf-8")

    again = run(config_path, "switch", BZK, "-d", "invoice", "--channel", "peppol")
    assert "nothing changed" in again.output


def test_switch_with_format(config_path: Path) -> None:
    result = run(config_path, "switch", RWS, "-d", "invoice", "--channel", "peppol",
                 "--format", "peppol-bis:invoice:3.0")
    assert result.exit_code == 0, result.output
    assert "portal, nlcius:invoice:1.0 -> peppol, peppol-bis:invoice:3.0" in result.output


def test_switch_that_could_not_be_audited_is_not_made(config_path: Path) -> None:
    audit = load_config(config_path).gateway.audit_log
    audit.parent.parent.mkdir(parents=True, exist_ok=True)
    audit.parent.write_text("a file where the audit log's folder should be")
    before = config_path.read_bytes()
    result = run(config_path, "switch", BZK, "-d", "invoice", "--channel", "peppol")
    assert result.exit_code == 1
    assert "nothing was switched: the audit log" in result.output
    assert config_path.read_bytes() == before


def test_switch_refused(config_path: Path) -> None:
    before = config_path.read_bytes()
    result = run(config_path, "switch", BZK, "-d", "invoice", "--channel", "peppol",
                 "--format", "ubl-ohnl:invoice:2.0")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {config_path}:")
    assert "pins ubl-ohnl to 1.9" in result.output
    assert "unchanged" in result.output
    assert config_path.read_bytes() == before


def test_switch_checks_the_registry_when_the_context_has_one(config_path: Path) -> None:
    registry = types.SimpleNamespace(formats={"nlcius:invoice:1.0": None},
                                     channels={"peppol": None})
    obj = types.SimpleNamespace(config_path=config_path, registry=registry)
    before = config_path.read_bytes()
    result = run(config_path, "switch", BZK, "-d", "invoice", "--channel", "peppol", obj=obj)
    assert result.exit_code == 1
    assert "no installed plugin provides the format 'ubl-ohnl:invoice:1.9'" in result.output
    assert config_path.read_bytes() == before


def test_broken_config_is_reported_with_file_and_line(config_path: Path) -> None:
    text = config_path.read_text("utf-8").replace('short_name = "BZK"', 'shortname = "BZK"')
    config_path.write_text(text, "utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("shortname"))
    result = run(config_path, "list")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {config_path}:{line}, key ")
    assert "did you mean 'short_name'?" in result.output


def test_list_names_a_route_format_no_installed_plugin_provides(config_path: Path) -> None:
    """The file loads, but `gateway run` would refuse the route: checking it says so."""
    text = config_path.read_text("utf-8")
    assert 'format = "nlcius:credit-note:1.0"' in text
    config_path.write_text(text.replace('format = "nlcius:credit-note:1.0"',
                                        'format = "nlcius:credit-note:1.1"', 1), "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config_path), "agencies", "list"],
                                obj=CliContext(config_path, make_plugin_manager()))
    assert result.exit_code == 1, result.output
    assert "'nlcius:credit-note:1.1' is not provided by any installed plugin" in result.stderr
    assert "did you mean 'nlcius:credit-note:1.0'" in result.stderr
    assert f"{config_path.name}:" in result.stderr  # the file and the line of the key
    assert BZK in result.stdout  # the list itself is printed all the same

    config_path.write_text(text, "utf-8")
    clean = CliRunner().invoke(cli, ["--config", str(config_path), "agencies", "list"],
                               obj=CliContext(config_path, make_plugin_manager()))
    assert clean.exit_code == 0, clean.output
