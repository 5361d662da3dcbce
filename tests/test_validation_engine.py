"""The validation engine on real artifacts: verdicts, findings, skipping, hostile input."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from lxml import etree

from gateway.errors import StandardsError
from gateway.formats import LayerKind
from gateway.standards.installer import install_from_dir
from gateway.standards.manifest import default_manifest
from gateway.validation import (
    Finding,
    LayerSelectionError,
    Severity,
    ValidationReport,
    Validator,
    validator_for,
)
from gateway.validation.engine import SKIPPED_RULE
from gateway.validation.locations import line_of
from gateway.validation.svrl import severity_of
from validation_layers import BASE_EXAMPLE, EN16931, PEPPOL, PEPPOL_INVOICE, SHARED_STANDARDS


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


def test_a_good_invoice_is_valid_on_every_layer(validator: Validator) -> None:
    report = validator.validate(BASE_EXAMPLE.read_bytes(), PEPPOL_INVOICE, format_key="x:y:1")
    assert report.valid, report.findings
    assert report.layers == ("ubl-2.1", "en16931", "peppol")
    assert report.format_key == "x:y:1"
    assert report.to_json() == {"format": "x:y:1", "valid": True,
                                "layers": ["ubl-2.1", "en16931", "peppol"], "findings": []}


def test_a_broken_total_names_the_rule_location_and_line(validator: Validator) -> None:
    data = BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1')
    report = validator.validate(data, PEPPOL_INVOICE)
    assert not report.valid
    [finding] = report.errors
    assert finding.layer == "en16931"
    assert finding.rule == "BR-CO-16"
    assert finding.severity is Severity.FATAL
    assert "LegalMonetaryTotal" in finding.location
    line = next(n for n, text in enumerate(data.decode().splitlines(), 1)
                if "<cac:LegalMonetaryTotal>" in text)
    assert finding.line == line


def test_schematron_is_skipped_after_a_failing_xsd(validator: Validator) -> None:
    data = BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">abc')
    report = validator.validate(data, PEPPOL_INVOICE)
    assert not report.valid
    assert report.layers == ("ubl-2.1",)
    [xsd] = report.errors
    assert xsd.layer == "ubl-2.1"
    assert xsd.rule.startswith("SCHEMAV_")
    assert xsd.line is not None
    assert "PayableAmount" in xsd.location
    skipped = [f for f in report.findings if f.rule == SKIPPED_RULE]
    assert [f.layer for f in skipped] == ["en16931", "peppol"]
    assert all(f.severity is Severity.INFO for f in skipped)


def test_only_selects_layers_by_kind_or_name(validator: Validator) -> None:
    data = BASE_EXAMPLE.read_bytes()
    assert validator.validate(data, PEPPOL_INVOICE, only=[LayerKind.XSD]).layers == ("ubl-2.1",)
    assert validator.validate(data, PEPPOL_INVOICE, only=["schematron"]).layers == (
        "en16931", "peppol")
    assert validator.validate(data, PEPPOL_INVOICE, only={"peppol"}).layers == ("peppol",)
    with pytest.raises(LayerSelectionError, match="'pepol'"):
        validator.validate(data, PEPPOL_INVOICE, only=["pepol"])


def test_a_saxon_dynamic_error_is_a_fatal_finding(validator: Validator) -> None:
    # Not an xs:decimal: the XSD would catch it, so only the Schematron layer runs,
    # and the EN 16931 stylesheet raises FORG0001 converting it.
    data = BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">abc')
    report = validator.validate(data, PEPPOL_INVOICE, only=["en16931"])
    assert not report.valid
    [finding] = report.findings
    assert (finding.layer, finding.rule, finding.severity) == (
        "en16931", "saxon-error", Severity.FATAL)
    assert "abc1656.25" in finding.text


@pytest.mark.parametrize(("data", "rule"), [
    (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "unsafe-xml"),
    (b"<Invoice><unclosed></Invoice>", "not-well-formed"),
    (b"", "not-well-formed"),
])
def test_unparsable_input_is_a_fatal_parse_finding(
    validator: Validator, data: bytes, rule: str,
) -> None:
    report = validator.validate(data, PEPPOL_INVOICE)
    assert not report.valid
    assert report.layers == ()
    [finding] = report.findings
    assert (finding.layer, finding.rule, finding.severity) == ("parse", rule, Severity.FATAL)


def test_reports_pickle(validator: Validator) -> None:
    data = BASE_EXAMPLE.read_bytes().replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x")
    report = validator.validate(data, PEPPOL_INVOICE)
    assert pickle.loads(pickle.dumps(report)) == report
    assert isinstance(report, ValidationReport)


def test_a_missing_artifact_names_itself_and_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(StandardsError, match=r"en16931-ubl-xslt.*gateway standards install"):
        Validator(tmp_path).validate(BASE_EXAMPLE.read_bytes(), [EN16931])


def test_a_standards_folder_with_spaces_works(tmp_path: Path) -> None:
    # The default data directory on macOS is ".../Application Support/wissel".
    target = tmp_path / "Application Support" / "standards"
    install_from_dir(default_manifest(), SHARED_STANDARDS, target,
                     only=["peppol-bis-billing-3-xslt"])
    report = Validator(target).validate(BASE_EXAMPLE.read_bytes(), [PEPPOL])
    assert report.valid
    assert report.layers == ("peppol",)


_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@pytest.mark.parametrize(("location", "line"), [
    (f"/*:Invoice[namespace-uri()='{_INVOICE}'][1]", 1),
    (f"/*:Invoice[namespace-uri()='{_INVOICE}'][1]/*:InvoiceLine[namespace-uri()='{_CAC}'][2]",
     6),
    (f"/*:Invoice[namespace-uri()='{_INVOICE}'][1]/*:InvoiceLine[namespace-uri()='{_CAC}'][2]"
     f"/*:ID[namespace-uri()='{_CBC}'][1]/@schemeID", 7),
    ("/*[local-name()='Invoice'][1]/*[local-name()='InvoiceLine'][1]", 3),
    (f"/*[local-name()='Invoice' and namespace-uri()='{_INVOICE}'][1]/*[local-name()="
     f"'InvoiceLine' and namespace-uri()='{_CAC}'][2]/text()[1]", 6),
    (f"/*:Invoice[namespace-uri()='{_INVOICE}'][1]/*:InvoiceLine[namespace-uri()='{_CAC}'][3]",
     None),
    ("/Invoice[1]", None),  # no namespace: not this root
    ("", None),
    ("cac:InvoiceLine", None),  # relative: not a location the walker understands
])
def test_svrl_locations_become_lines(location: str, line: int | None) -> None:
    root = etree.fromstring(
        f'<Invoice xmlns="{_INVOICE}" xmlns:cac="{_CAC}" xmlns:cbc="{_CBC}">\n'
        "  <cbc:ID>1</cbc:ID>\n"
        "  <cac:InvoiceLine>\n"
        "    <cbc:ID>1</cbc:ID>\n"
        "  </cac:InvoiceLine>\n"
        "  <cac:InvoiceLine>\n"
        '    <cbc:ID schemeID="x">2</cbc:ID>\n'
        "  </cac:InvoiceLine>\n"
        "</Invoice>".encode())
    assert line_of(root, location) == line


@pytest.mark.parametrize(("flag", "severity"), [
    ("fatal", Severity.FATAL), ("error", Severity.ERROR), ("warning", Severity.WARNING),
    ("information", Severity.INFO), ("", Severity.ERROR), (None, Severity.ERROR),
    ("Fatal ", Severity.FATAL), ("something-else", Severity.ERROR),
])
def test_svrl_flags_map_to_severities(flag: str | None, severity: Severity) -> None:
    assert severity_of(flag) is severity


def test_warnings_never_make_a_document_invalid() -> None:
    warning = Finding("peppol", "PEPPOL-X", Severity.WARNING, "/x", 3, "careful")
    info = Finding("peppol", "skipped", Severity.INFO, "", None, "not run")
    report = ValidationReport.of([warning, info], ["peppol"])
    assert report.valid
    assert report.summary() == "valid (1 warning)"
    assert report.warnings == (warning,)
    error = Finding("en16931", "BR-1", Severity.FATAL, "/x", None, "broken")
    report = ValidationReport.of([warning, error], ["en16931", "peppol"])
    assert not report.valid
    assert report.by_severity() == (error, warning)
    assert report.summary() == "invalid (1 error, 1 warning)"
