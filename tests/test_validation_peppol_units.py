"""The Peppol BIS Billing 3 unit tests, run through the engine rule by rule.

Each file is a VEFA ``testSet``: a top-level ``<assert>`` whose ``<scope>``
names the rules under test, then ``<test>`` elements, each with its own
``<assert>`` (``<success>RULE</success>``: the rule must not fire;
``<error>``/``<warning>``: it must fire, ``@number`` times, default once, as
a fatal resp. warning assert) and one embedded document. As in
vefa-validator, test-level asserts add to the testSet's, only rules in scope
count, and an in-scope rule that fires without being expected fails the
test. The fragments are not meant to pass the XSD, so only the Peppol
Schematron runs.
"""

from __future__ import annotations

import collections
from pathlib import Path

import attrs
import pytest
from lxml import etree

from gateway.validation import Severity, Validator, validator_for
from validation_layers import PEPPOL, SHARED_STANDARDS

UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-billing-3" / "unit-tests"
VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
_EXPECTED = {"error": Severity.FATAL, "warning": Severity.WARNING}


@attrs.frozen
class UnitCase:
    file: str
    index: int
    scope: frozenset[str]
    must_not_fire: frozenset[str]
    must_fire: tuple[tuple[str, Severity, int], ...]  # rule, severity, times
    document: bytes

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"


def _expectations(asserts: list[etree._Element]) -> tuple[
    frozenset[str], frozenset[str], tuple[tuple[str, Severity, int], ...],
]:
    scope, success, fire = set(), set(), []
    for element in asserts:
        for child in element:
            tag = etree.QName(child).localname
            rule = (child.text or "").strip()
            if tag == "scope":
                scope.add(rule)
            elif tag == "success":
                success.add(rule)
            elif tag in _EXPECTED:
                fire.append((rule, _EXPECTED[tag], int(child.get("number", "1"))))
    return frozenset(scope), frozenset(success), tuple(fire)


def _cases() -> list[UnitCase]:
    cases = []
    for path in sorted(UNIT_TESTS.glob("unit-UBL-*/*.xml")) if UNIT_TESTS.is_dir() else []:
        test_set = etree.parse(str(path)).getroot()
        set_asserts = test_set.findall(f"{VEFA}assert")
        for index, test in enumerate(test_set.findall(f"{VEFA}test"), start=1):
            scope, success, fire = _expectations(set_asserts + test.findall(f"{VEFA}assert"))
            [document] = [child for child in test if isinstance(child.tag, str)
                          and child.tag != f"{VEFA}assert"]
            cases.append(UnitCase(
                file=f"{path.parent.name}/{path.name}", index=index, scope=scope,
                must_not_fire=success, must_fire=fire,
                document=etree.tostring(document, encoding="UTF-8", xml_declaration=True),
            ))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    validator = validator_for(installed_standards)
    validator.prepare([PEPPOL])
    return validator


def test_the_unit_tests_are_all_there() -> None:
    if not UNIT_TESTS.is_dir():
        pytest.skip(f"{UNIT_TESTS} is not present")
    per_folder = collections.Counter(case.file.split("/")[0] for case in CASES)
    assert per_folder == {
        "unit-UBL-PEPPOL": 221, "unit-UBL-DK": 126, "unit-UBL-DE": 60, "unit-UBL-SE": 48,
        "unit-UBL-GR": 41, "unit-UBL-NL": 21, "unit-UBL-NO": 14, "unit-UBL-IT": 12,
    }
    assert len({case.file for case in CASES}) == 144
    assert sum(1 for case in CASES if case.must_fire) == 268
    assert sum(1 for case in CASES if not case.must_fire) == 275


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_peppol_unit_case(validator: Validator, case: UnitCase) -> None:
    report = validator.validate(case.document, [PEPPOL])
    assert not [f for f in report.findings if f.rule == "saxon-error"], report.findings
    fired = collections.Counter(
        (f.rule, f.severity) for f in report.findings if f.rule in case.scope)
    for rule in case.must_not_fire:
        assert not [key for key in fired if key[0] == rule], f"{rule} fired: {report.findings}"
    expected = collections.Counter({(rule, severity): times
                                    for rule, severity, times in case.must_fire})
    assert fired == expected, [str(f) for f in report.findings if f.rule in case.scope]
