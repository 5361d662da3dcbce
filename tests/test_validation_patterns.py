"""Schematron pattern by pattern: the same report as the whole stylesheet, for every example.

The engine runs an ISO-skeleton stylesheet one pattern mode at a time on
large documents (see :mod:`gateway.validation.patterns`); here every
document is large for one validator (``by_pattern_above=0``), while
``by_pattern_above=None`` runs each stylesheet whole, as its publisher does. The
two must agree finding by finding on every publisher example and every
Peppol unit-test fragment, valid or not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.validation import LayerSelectionError, Validator
from gateway.validation.engine import SAXON_ERROR_RULE, ParsedDocument, saxon_processor
from gateway.validation.patterns import pattern_runner, patterns_of, skeleton_patterns
from gateway.validation.svrl import svrl_findings
from validation_layers import (
    BASE_EXAMPLE,
    EN16931,
    OHNL_INVOICE_RULES,
    OHNL_INVOICE_XSD,
    PEPPOL,
    PEPPOL_INVOICE,
    SHARED_STANDARDS,
    SI_UBL,
    ubl21_xsd,
    ubl_document_type,
)
from vefa import read_test_set

EXAMPLE_FOLDERS = [
    SHARED_STANDARDS / "en16931" / "ubl" / "examples",
    SHARED_STANDARDS / "peppol-bis-billing-3" / "examples",
    SHARED_STANDARDS / "peppol-bis-billing-3" / "national-examples",
]
OHNL_EXAMPLES = SHARED_STANDARDS / "ubl-ohnl" / "1.9" / "xml"
UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-billing-3" / "unit-tests"


def _files(folder: Path, pattern: str = "*.xml") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def by_pattern(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


@pytest.fixture(scope="module")
def whole(installed_standards: Path) -> Validator:
    return Validator(installed_standards, as_published=True)


def test_the_official_stylesheets_are_run_pattern_by_pattern(
    by_pattern: Validator, whole: Validator,
) -> None:
    assert by_pattern.patterns(EN16931) == ("M11", "M12", "M13")
    assert by_pattern.patterns(PEPPOL) == ("M26", "M27", "M28", "M29", "M30", "M31", "M32",
                                           "M37", "M38", "M39", "M40", "M41", "M42")
    for layer in (SI_UBL, OHNL_INVOICE_RULES):
        assert len(by_pattern.patterns(layer)) >= 2, layer
    assert by_pattern.patterns(ubl21_xsd("Invoice")) == ()
    assert whole.patterns(PEPPOL) == ()


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS, ids=lambda folder: folder.name)
def test_ubl_examples_get_the_same_report_either_way(
    by_pattern: Validator, whole: Validator, folder: Path,
) -> None:
    files = _files(folder, "**/*.xml")  # the national examples sit in a folder per country
    if not files:
        pytest.skip(f"{folder} is not present")
    invalid = 0
    for path in files:
        data = path.read_bytes()
        layers = (ubl21_xsd(ubl_document_type(data)), EN16931, PEPPOL, SI_UBL)
        expected = whole.validate(data, layers)
        assert by_pattern.validate(data, layers) == expected, path.name
        invalid += not expected.valid
    assert invalid > 0  # SI-UBL rejects the foreign examples: findings were compared too


def test_ubl_ohnl_examples_get_the_same_report_either_way(
    by_pattern: Validator, whole: Validator,
) -> None:
    files = _files(OHNL_EXAMPLES, "*Invoice*")
    if not files:
        pytest.skip(f"{OHNL_EXAMPLES} is not present")
    for path in files:
        data = path.read_bytes()
        layers = (OHNL_INVOICE_XSD, OHNL_INVOICE_RULES)
        assert by_pattern.validate(data, layers) == whole.validate(data, layers), path.name


def test_every_peppol_unit_fragment_gets_the_same_findings_either_way(
    by_pattern: Validator, whole: Validator,
) -> None:
    paths = sorted(UNIT_TESTS.glob("unit-UBL-*/*.xml")) if UNIT_TESTS.is_dir() else []
    if not paths:
        pytest.skip(f"{UNIT_TESTS} is not present")
    fragments = {case.document for path in paths for case in read_test_set(path, PEPPOL)}
    findings = 0
    for data in sorted(fragments):
        expected = whole.validate(data, [PEPPOL])
        assert by_pattern.validate(data, [PEPPOL]) == expected, data[:200]
        findings += len(expected.findings)
    assert len(fragments) > 400
    assert findings > 500


def test_patterns_run_in_parts_add_up_to_the_whole_layer(by_pattern: Validator) -> None:
    data = BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1')
    expected = by_pattern.validate(data, PEPPOL_INVOICE)
    assert "BR-CO-16" in expected.rules("en16931")
    document = ParsedDocument.parse(data)
    patterns = by_pattern.patterns(EN16931)
    first = by_pattern.check(document, PEPPOL_INVOICE,
                             patterns={"en16931": patterns[:1], "peppol": ("M26",)})
    rest = by_pattern.check(document, PEPPOL_INVOICE[:2], patterns={"en16931": patterns[1:]})
    layer = [f for f in expected.findings if f.layer == "en16931"]
    assert [f for f in first.findings + rest.findings if f.layer == "en16931"] == layer
    # The schema ran once for both parts: its verdict is kept on the document.
    assert list(document.schema_findings) == [PEPPOL_INVOICE[0]]


def test_a_pattern_the_stylesheet_lacks_is_refused(by_pattern: Validator) -> None:
    document = ParsedDocument.parse(BASE_EXAMPLE.read_bytes())
    with pytest.raises(LayerSelectionError, match="no pattern 'M99'"):
        by_pattern.check(document, [PEPPOL], patterns={"peppol": ["M99"]})
    with pytest.raises(LayerSelectionError, match="no pattern of the peppol stylesheet"):
        by_pattern.check(document, [PEPPOL], patterns={"peppol": []})


def test_a_saxon_error_is_the_same_fatal_finding_either_way(
    by_pattern: Validator, whole: Validator,
) -> None:
    # Not an xs:decimal: the EN 16931 stylesheet raises FORG0001 converting it.
    data = BASE_EXAMPLE.read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">abc')
    expected = whole.validate(data, PEPPOL_INVOICE, only=["en16931", "peppol"])
    assert by_pattern.validate(data, PEPPOL_INVOICE, only=["en16931", "peppol"]) == expected
    assert [f.rule for f in expected.findings if f.layer == "en16931"] == [SAXON_ERROR_RULE]


XSL = "http://www.w3.org/1999/XSL/Transform"


def _skeleton(body: str, root: str | None = None, extra: str = "") -> str:
    root = root if root is not None else (
        '<svrl:schematron-output><svrl:active-pattern><xsl:apply-templates/>'
        '</svrl:active-pattern><xsl:apply-templates select="/" mode="M1"/>'
        '</svrl:schematron-output>')
    return (f'<xsl:stylesheet xmlns:xsl="{XSL}" version="2.0" '
            f'xmlns:svrl="http://purl.oclc.org/dsdl/svrl">{extra}'
            f'<xsl:template match="/">{root}</xsl:template>'
            f'<xsl:template match="text()" priority="-1"/>{body}</xsl:stylesheet>')


@pytest.mark.parametrize(("stylesheet", "expected"), [
    (_skeleton(""), ("M1",)),
    # An unnamed-mode template that writes: skipping the walk would lose its output.
    (_skeleton("", extra='<xsl:template match="*"><svrl:failed-assert/></xsl:template>'), ()),
    (_skeleton("", extra='<xsl:import href="other.xsl"/>'), ()),
    (_skeleton("", extra='<xsl:mode on-no-match="shallow-copy"/>'), ()),
    (_skeleton("", root='<xsl:call-template name="all"/>'), ()),
    # A finding written by the root template itself: running the modes alone would lose it.
    (_skeleton("", root='<svrl:schematron-output><svrl:failed-assert id="X"/>'
                        '<xsl:apply-templates select="/" mode="M1"/></svrl:schematron-output>'),
     ()),
    (_skeleton("", root='<xsl:apply-templates select="//x" mode="M1"/>'), ()),
    (_skeleton("", root='<xsl:apply-templates select="/" mode="M1">'
                        '<xsl:with-param name="p" select="1"/></xsl:apply-templates>'), ()),
    ('<not-a-stylesheet/>', ()),
])
def test_only_the_skeletons_shape_is_split_into_patterns(
    stylesheet: str, expected: tuple[str, ...],
) -> None:
    assert patterns_of(etree.fromstring(stylesheet)) == expected


def test_an_unreadable_stylesheet_runs_whole(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xsl"
    broken.write_text("<xsl:stylesheet")
    assert skeleton_patterns(broken) == ()
    assert skeleton_patterns(tmp_path / "missing.xsl") == ()


def test_the_pattern_runner_imports_the_stylesheet_and_keeps_its_version(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    folder.mkdir()
    official = folder / "rules.xsl"
    official.write_text(_skeleton('<xsl:template match="x" mode="M1">'
                                  '<svrl:failed-assert id="X-1"><svrl:text>no x</svrl:text>'
                                  '</svrl:failed-assert></xsl:template>')
                        .replace('version="2.0"', 'version="1.0"'), "utf-8")
    runner = etree.fromstring(pattern_runner(official, ("M1",)))
    assert runner.get("version") == "1.0"
    [imported] = runner.findall(f"{{{XSL}}}import")
    assert imported.get("href") == official.resolve().as_uri()
    assert [a.get("mode") for a in runner.iter(f"{{{XSL}}}apply-templates")] == ["M1"]
    # Saxon finds the imported file by that URI, space and all, and runs its mode.
    compiled = saxon_processor().new_xslt30_processor().compile_stylesheet(
        stylesheet_text=pattern_runner(official, ("M1",)))
    node = saxon_processor().parse_xml(xml_text="<r><x/><y/><x/></r>")
    findings = svrl_findings(saxon_processor(), compiled.transform_to_value(xdm_node=node).head,
                             "rules", lambda location: None)
    assert [finding.rule for finding in findings] == ["X-1", "X-1"]
