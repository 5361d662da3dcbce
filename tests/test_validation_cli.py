"""``gateway validate``, ``gateway decode`` and ``gateway encode`` as an operator uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import plugins.canonical_json
from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.errors import GatewayError
from gateway.formats import Decoded, Detection, EncodeContext, Format, ValidationLayer
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.model.json import dumps
from gateway.model.samples import example_invoice
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import make_plugin_manager
from gateway.registry import Registry, UnknownFormatError
from gateway.sniff import Sniffed
from validation_layers import BASE_EXAMPLE, PEPPOL_INVOICE, SHARED_STANDARDS

REPO = Path(__file__).resolve().parents[1]
PEPPOL_BILLING = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
NL_UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-billing-3" / "unit-tests" / "unit-UBL-NL"


class _PeppolInvoiceForTests(Format):
    """Stands in for the Peppol invoice plugin: detection and layers only."""

    key = "test-peppol:invoice:3.0"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.INBOUND})

    def detect(self, doc: Sniffed) -> Detection:
        if doc.root_name != "Invoice":
            return Detection.NO
        customization = doc.text("*[local-name()='CustomizationID']")
        return Detection.MATCH if customization == PEPPOL_BILLING else Detection.NO

    def layers(self) -> tuple[ValidationLayer, ...]:
        return PEPPOL_INVOICE

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        raise GatewayError("not needed by these tests")

    def decode(self, data: bytes) -> Decoded:
        raise GatewayError("not needed by these tests")


class _TestFormats:
    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(_PeppolInvoiceForTests())


@pytest.fixture
def context(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> CliContext:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    pm = make_plugin_manager(entry_points=False, plugins=[
        ("test-formats", _TestFormats()), ("canonical-json", plugins.canonical_json)])
    return CliContext(tmp_path / "no-config.toml", pm)


def invoke(context: CliContext, *args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], obj=context)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken total.xml"
    path.write_bytes(BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1'))
    return path


def test_a_valid_file_exits_0(context: CliContext) -> None:
    result = invoke(context, "validate", BASE_EXAMPLE)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{BASE_EXAMPLE}: valid [test-peppol:invoice:3.0; layers: ubl-2.1, en16931, peppol]"]


def test_an_invalid_file_exits_1_and_lists_its_findings(
    context: CliContext, broken: Path,
) -> None:
    result = invoke(context, "validate", broken)
    assert result.exit_code == 1, result.output
    verdict, finding, location = result.stdout.splitlines()
    assert verdict.startswith(f"{broken}: invalid (1 error)")
    assert finding.startswith("  fatal en16931/BR-CO-16 line ")
    assert "LegalMonetaryTotal" in location


def test_unreadable_and_unknown_files_exit_2_saying_what_was_seen(
    context: CliContext, broken: Path, tmp_path: Path,
) -> None:
    page = tmp_path / "page.xml"
    page.write_bytes(b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>')
    result = invoke(context, "validate", BASE_EXAMPLE, broken, tmp_path / "missing.xml", page,
                    "--jobs", "1")
    assert result.exit_code == 2
    assert "missing.xml: cannot validate: cannot read the file" in result.stderr
    assert ("no installed format matches the document; saw root element "
            "{http://www.w3.org/1999/xhtml}html") in result.stderr
    assert f"{BASE_EXAMPLE}: valid" in result.stdout
    assert f"{broken}: invalid" in result.stdout


def test_json_gives_one_object_per_file_and_line(context: CliContext, broken: Path) -> None:
    result = invoke(context, "validate", "--json", BASE_EXAMPLE, broken, "--jobs", "1")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["file"], o["format"], o["valid"]) for o in lines] == [
        (str(BASE_EXAMPLE), "test-peppol:invoice:3.0", True),
        (str(broken), "test-peppol:invoice:3.0", False)]
    [finding] = lines[1]["findings"]
    assert set(finding) == {"layer", "rule", "severity", "location", "line", "text"}
    assert (finding["layer"], finding["rule"], finding["severity"]) == (
        "en16931", "BR-CO-16", "fatal")
    assert isinstance(finding["line"], int)


def test_many_files_use_worker_processes_with_the_same_verdicts(
    context: CliContext, broken: Path,
) -> None:
    files = [BASE_EXAMPLE, broken] * 3
    single = invoke(context, "validate", "--json", "--jobs", "1", *files)
    pooled = invoke(context, "validate", "--json", "--jobs", "2", *files)
    assert (single.exit_code, pooled.exit_code) == (1, 1)
    assert pooled.stdout == single.stdout


def test_layers_check_rules_on_a_fragment_that_fails_the_xsd(
    context: CliContext, tmp_path: Path,
) -> None:
    fragment = tmp_path / "fragment.xml"
    fragment.write_bytes(BASE_EXAMPLE.read_bytes().replace(
        b"<cbc:IssueDate>2017-11-13</cbc:IssueDate>", b""))  # mandatory in UBL
    whole = invoke(context, "validate", "--json", fragment)
    assert whole.exit_code == 1
    assert json.loads(whole.stdout)["layers"] == ["ubl-2.1"]
    rules_only = invoke(context, "validate", "--json", "--layers", "schematron", fragment)
    report = json.loads(rules_only.stdout)
    assert report["layers"] == ["en16931", "peppol"]
    assert {f["rule"] for f in report["findings"]} == {"BR-03"}  # the issue date
    by_name = invoke(context, "validate", "--json", "--layers", "peppol", fragment)
    assert by_name.exit_code == 0
    assert json.loads(by_name.stdout)["layers"] == ["peppol"]


def test_an_unknown_layer_name_is_refused(context: CliContext) -> None:
    result = invoke(context, "validate", "--layers", "pepol", BASE_EXAMPLE)
    assert result.exit_code != 0
    assert "'pepol'" in str(result.exception) + result.output


def test_format_forces_the_format(context: CliContext, tmp_path: Path) -> None:
    odd = tmp_path / "odd.xml"
    odd.write_bytes(BASE_EXAMPLE.read_bytes().replace(PEPPOL_BILLING.encode(), b"urn:other"))
    assert invoke(context, "validate", odd).exit_code == 2
    forced = invoke(context, "validate", "--json", "--format", "test-peppol:invoice:3.0", odd)
    assert forced.exit_code == 1
    assert "PEPPOL-EN16931-R004" in {f["rule"] for f in json.loads(forced.stdout)["findings"]}


def test_an_unknown_format_key_is_a_usage_error(context: CliContext) -> None:
    result = invoke(context, "validate", "--format", "peppol:invoice:9", BASE_EXAMPLE)
    assert isinstance(result.exception, UnknownFormatError)


def test_formats_without_layers_are_checked_by_decoding(
    context: CliContext, tmp_path: Path,
) -> None:
    good = tmp_path / "invoice.json"
    good.write_text(dumps(example_invoice()), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(dumps(example_invoice()).replace('"schema_version": 1', '"x": 1'),
                   encoding="utf-8")
    result = invoke(context, "validate", "--json", "--format", "canonical:invoice:1", good, bad,
                    "--jobs", "1")
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["valid"], first["layers"]) == (True, ["decode"])
    assert second["valid"] is False
    assert second["findings"][0]["rule"] == "decode-error"
    assert result.exit_code == 1


def test_decode_prints_canonical_json(context: CliContext, tmp_path: Path) -> None:
    source = tmp_path / "invoice.json"
    source.write_text(dumps(example_invoice()), encoding="utf-8")
    result = invoke(context, "decode", source)
    assert result.exit_code == 0, result.output
    assert result.stdout == dumps(example_invoice()) + "\n"


def test_encode_writes_the_format_and_checks_the_agency(
    context: CliContext, tmp_path: Path,
) -> None:
    source = tmp_path / "invoice.json"
    source.write_text(dumps(example_invoice()), encoding="utf-8")
    result = invoke(context, "encode", source, "--format", "canonical:invoice:1",
                    "--agency", "00000001003214345000")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["document"] == "invoice"
    refused = invoke(context, "encode", source, "--format", "canonical:invoice:1",
                     "--agency", "123")
    assert refused.exit_code != 0
    assert isinstance(refused.exception, GatewayError)


def _gateway(*args: str | Path, standards: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, STANDARDS_DIR_ENV: str(standards)},
    )


def test_exit_status_reaches_the_shell(installed_standards: Path, tmp_path: Path) -> None:
    good = tmp_path / "invoice.json"
    good.write_text(dumps(example_invoice()), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text('{"document": "invoice", "schema_version": 1}', encoding="utf-8")
    assert _gateway("validate", good, standards=installed_standards).returncode == 0
    assert _gateway("validate", good, bad, "--jobs", "1",
                    standards=installed_standards).returncode == 1
    unknown = _gateway("validate", REPO / "contracts" / "foreign" / "xhtml-page.xml",
                       standards=installed_standards)
    assert unknown.returncode == 2
    assert "saw root element {http://www.w3.org/1999/xhtml}html" in unknown.stderr


# -- with the real format plugins, once they are installed ------------------------------------


def _real_context(installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
                  tmp_path: Path) -> CliContext:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    return CliContext(tmp_path / "no-config.toml")


def _detected_format(context: CliContext, path: Path) -> Format:
    try:
        return context.registry.detect(path.read_bytes()).format
    except UnknownFormatError as exc:
        pytest.skip(f"no installed format plugin reads {path.name} yet: {exc}")


@pytest.mark.parametrize("path", [
    BASE_EXAMPLE,
    SHARED_STANDARDS / "ubl-ohnl" / "1.9" / "xml" / "UBL-Invoice-Example07.xml",
], ids=lambda p: p.name)
def test_real_formats_validate_publisher_examples(
    installed_standards: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: Path,
) -> None:
    context = _real_context(installed_standards, monkeypatch, tmp_path)
    fmt = _detected_format(context, path)
    result = invoke(context, "validate", "--json", path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["format"] == fmt.key
    assert report["layers"] == [layer.name for layer in fmt.layers()]


def test_real_formats_decode_then_encode_a_valid_document(
    installed_standards: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    context = _real_context(installed_standards, monkeypatch, tmp_path)
    fmt = _detected_format(context, BASE_EXAMPLE)
    decoded = invoke(context, "decode", BASE_EXAMPLE)
    assert decoded.exit_code == 0, decoded.output
    canonical = tmp_path / "invoice.json"
    canonical.write_text(decoded.stdout, encoding="utf-8")
    encoded = invoke(context, "encode", canonical, "--format", fmt.key)
    assert encoded.exit_code == 0, encoded.stderr
    assert encoded.stdout_bytes.lstrip().startswith(b"<")
