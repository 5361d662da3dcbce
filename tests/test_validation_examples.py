"""Publisher examples get the verdict their publisher intends.

Every example is run through the layers the format plugins declare: UBL 2.1
XSD plus the EN 16931 rules (and the Peppol rules for Peppol examples), or
the UBL-OHNL 1.9 XSD plus its Schematron. Where an example does not pass,
the test names the rule and says why rather than loosening the engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import Severity, Validator, validator_for
from gateway.validation.engine import SKIPPED_RULE
from validation_layers import (
    EN16931,
    OHNL_INVOICE_RULES,
    OHNL_INVOICE_XSD,
    PEPPOL,
    SHARED_STANDARDS,
    SI_UBL,
    ubl21_xsd,
    ubl_document_type,
)

EN16931_EXAMPLES = SHARED_STANDARDS / "en16931" / "ubl" / "examples"
PEPPOL_EXAMPLES = SHARED_STANDARDS / "peppol-bis-billing-3" / "examples"
PEPPOL_NATIONAL = SHARED_STANDARDS / "peppol-bis-billing-3" / "national-examples"
OHNL_EXAMPLES = SHARED_STANDARDS / "ubl-ohnl" / "1.9" / "xml"
FOREIGN = Path(__file__).resolve().parents[1] / "contracts" / "foreign"


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


def test_the_example_folders_are_there() -> None:
    if not SHARED_STANDARDS.is_dir():
        pytest.skip(f"{SHARED_STANDARDS} is not present")
    assert len(_files(EN16931_EXAMPLES)) == 18
    assert len(_files(PEPPOL_EXAMPLES)) == 9
    assert len(_files(OHNL_EXAMPLES, "*Invoice*")) == 7


# BIS3_Invoice_negativ.XML is not a negative test: "negativ" is an invoice
# (type 380) whose amounts are all negative, published next to its positive
# twin to show that the EN 16931 rules accept negative totals. Every example
# in this folder is meant to pass the CEN rules, and does.
@pytest.mark.parametrize("path", _files(EN16931_EXAMPLES), ids=lambda p: p.name)
def test_en16931_examples_pass_ubl_and_the_cen_rules(validator: Validator, path: Path) -> None:
    data = path.read_bytes()
    report = validator.validate(data, [ubl21_xsd(ubl_document_type(data)), EN16931])
    assert report.valid, [str(f) for f in report.errors]
    assert report.layers == ("ubl-2.1", "en16931")


def test_the_cen_examples_are_not_all_peppol_invoices(validator: Validator) -> None:
    # The CEN examples predate Peppol BIS 3 or show other countries' data, so
    # the Peppol layer rejects them, e.g. for a CustomizationID that is not
    # Peppol's (PEPPOL-EN16931-R004) and a missing buyer reference
    # (PEPPOL-EN16931-R003). This is the Peppol layer doing its job.
    data = (EN16931_EXAMPLES / "ubl-tc434-example1.xml").read_bytes()
    report = validator.validate(data, [ubl21_xsd("Invoice"), EN16931, PEPPOL])
    assert not report.valid
    assert {"PEPPOL-EN16931-R004", "PEPPOL-EN16931-R003"} <= report.rules("peppol")
    assert not report.rules("en16931")


@pytest.mark.parametrize("path", _files(PEPPOL_EXAMPLES), ids=lambda p: p.name)
def test_peppol_examples_pass_every_layer(validator: Validator, path: Path) -> None:
    data = path.read_bytes()
    report = validator.validate(data, [ubl21_xsd(ubl_document_type(data)), EN16931, PEPPOL])
    assert report.valid, [str(f) for f in report.errors]
    assert report.findings == ()
    assert report.layers == ("ubl-2.1", "en16931", "peppol")


def test_the_norwegian_national_example_passes_with_one_cen_warning(validator: Validator) -> None:
    data = (PEPPOL_NATIONAL / "NO" / "Norwegian-example-1.xml").read_bytes()
    report = validator.validate(data, [ubl21_xsd("Invoice"), EN16931, PEPPOL])
    assert report.valid
    assert [(f.layer, f.rule, f.severity) for f in report.findings] == [
        ("en16931", "UBL-CR-679", Severity.WARNING)]


@pytest.mark.parametrize("name", ["GR-base-example-correct.xml",
                                  "GR-base-example-TaxRepresentative.xml"])
def test_the_greek_national_examples_break_the_ubl_element_order(
    validator: Validator, name: str,
) -> None:
    # A publisher error: both put cac:AdditionalDocumentReference after the
    # parties, where UBL 2.1 allows it only before them. Peppol's own check of
    # these files ran the Peppol XSLT alone (see the xslt README), which does
    # not look at element order; the XSD does. The Peppol layer alone passes.
    data = (PEPPOL_NATIONAL / "GR" / name).read_bytes()
    report = validator.validate(data, [ubl21_xsd("Invoice"), EN16931, PEPPOL])
    assert not report.valid
    [error] = report.errors
    assert (error.layer, error.rule) == ("ubl-2.1", "SCHEMAV_ELEMENT_CONTENT")
    assert "AdditionalDocumentReference" in error.text
    assert {f.layer for f in report.findings if f.rule == SKIPPED_RULE} == {"en16931", "peppol"}
    assert not validator.validate(data, [PEPPOL]).errors


@pytest.mark.parametrize("path", _files(OHNL_EXAMPLES, "*Invoice*"), ids=lambda p: p.name)
def test_ubl_ohnl_invoice_examples_pass(validator: Validator, path: Path) -> None:
    # All seven are published as correct examples of the 1.9 invoice (two of
    # them the "factuurakkoord" scenario); none is meant to fail. Two file
    # names contain spaces: Saxon is given the text, never the name.
    report = validator.validate(path.read_bytes(), [OHNL_INVOICE_XSD, OHNL_INVOICE_RULES])
    assert report.valid, [str(f) for f in report.errors]
    assert report.layers == ("ubl-ohnl-1.9", "ubl-ohnl-1.9-rules")


def test_ubl_ohnl_rules_without_id_or_flag_are_errors_named_by_their_test(
    validator: Validator,
) -> None:
    # The UBL-OHNL stylesheets give failed asserts neither @id nor @flag.
    path = OHNL_EXAMPLES / "UBL-Invoice-Example07.xml"
    data = path.read_bytes()
    start = data.index(b"<cbc:ProfileID>")
    end = data.index(b"</cbc:ProfileID>") + len(b"</cbc:ProfileID>")
    report = validator.validate(data[:start] + data[end:], [OHNL_INVOICE_RULES])
    assert not report.valid
    [finding] = [f for f in report.errors if "ProfileID" in f.text]
    assert finding.severity is Severity.ERROR
    assert finding.rule == "count(cbc:ProfileID) >= 1"
    assert finding.line is not None


def test_si_ubl_rule_ids_come_from_the_bracketed_text(validator: Validator) -> None:
    # No SI-UBL 2.0 example is published with the validation artifacts; a
    # Peppol invoice is simply not tagged as SI-UBL, which SI-UBL says so.
    data = (PEPPOL_EXAMPLES / "base-example.xml").read_bytes()
    report = validator.validate(data, [SI_UBL])
    assert [(f.rule, f.severity) for f in report.errors] == [("SI-V20-INV-R000", Severity.FATAL)]


@pytest.mark.parametrize("path", _files(FOREIGN), ids=lambda p: p.name)
def test_the_hostile_corpus_never_raises(validator: Validator, path: Path) -> None:
    report = validator.validate(path.read_bytes(), [ubl21_xsd("Invoice"), EN16931, PEPPOL])
    assert not report.valid
    first = report.findings[0]
    assert first.text
    if first.layer == "parse":  # refused or unreadable: nothing else ran
        assert (first.rule, first.severity) in {("unsafe-xml", Severity.FATAL),
                                                ("not-well-formed", Severity.FATAL)}
        assert report.layers == ()
    else:  # well-formed but foreign: the schema rejects it, the rules are skipped
        assert first.layer == "ubl-2.1"
        assert report.layers == ("ubl-2.1",)


@pytest.mark.parametrize("name", ["billion-laughs.xml", "external-dtd.xml",
                                  "external-entity.xml", "invalid-utf8.xml",
                                  "not-well-formed.xml", "wrong-encoding-declared.xml"])
def test_hostile_xml_is_a_fatal_parse_finding(validator: Validator, name: str) -> None:
    report = validator.validate((FOREIGN / name).read_bytes(), [ubl21_xsd("Invoice"), EN16931])
    [finding] = report.findings
    assert (finding.layer, finding.severity) == ("parse", Severity.FATAL)
