"""The Peppol BIS Ordering 3 unit tests for T01 (Order) and T76 (Order Response), rule by rule.

Same VEFA ``testSet`` judging as :mod:`test_validation_peppol_units`: only
rules in ``<scope>`` count, ``<success>`` must not fire, ``<error>`` and
``<warning>`` must fire ``@number`` times. ``unit-common`` holds the rules
every transaction shares; its files name the T01 configuration, so they run
against the T01 stylesheet. The fragments are incomplete documents, so only
the compiled Schematron runs, not the XSD.
"""

from __future__ import annotations

import collections
from pathlib import Path

import attrs
import pytest
from lxml import etree

from gateway.formats import ValidationLayer
from gateway.validation import Severity, Validator, validator_for
from plugins.ubl_ordering.formats import T01_LAYER, T76_LAYER
from validation_layers import SHARED_STANDARDS

UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-ordering-3" / "unit-tests"
VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
_EXPECTED = {"error": Severity.FATAL, "warning": Severity.WARNING}
_LAYER_BY_CONFIGURATION = {"peppolbis-t01-base-3.0": T01_LAYER, "peppolbis-t76-base-3.0": T76_LAYER}
_FOLDERS = ("unit-order", "unit-common", "unit-order-response")


@attrs.frozen
class UnitCase:
    file: str
    index: int
    layer: ValidationLayer
    scope: frozenset[str]
    must_not_fire: frozenset[str]
    must_fire: tuple[tuple[str, Severity, int], ...]
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
    for folder in _FOLDERS:
        directory = UNIT_TESTS / folder
        for path in sorted(directory.glob("*.xml")) if directory.is_dir() else []:
            test_set = etree.parse(str(path)).getroot()
            layer = _LAYER_BY_CONFIGURATION[test_set.get("configuration", "")]
            set_asserts = test_set.findall(f"{VEFA}assert")
            for index, test in enumerate(test_set.findall(f"{VEFA}test"), start=1):
                scope, success, fire = _expectations(set_asserts + test.findall(f"{VEFA}assert"))
                [document] = [child for child in test if isinstance(child.tag, str)
                              and child.tag != f"{VEFA}assert"]
                cases.append(UnitCase(
                    file=f"{folder}/{path.name}", index=index, layer=layer, scope=scope,
                    must_not_fire=success, must_fire=fire,
                    document=etree.tostring(document, encoding="UTF-8", xml_declaration=True),
                ))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    validator = validator_for(installed_standards)
    validator.prepare([T01_LAYER, T76_LAYER])
    return validator


def test_the_unit_tests_are_all_there() -> None:
    if not UNIT_TESTS.is_dir():
        pytest.skip(f"{UNIT_TESTS} is not present")
    per_folder = collections.Counter(case.file.split("/")[0] for case in CASES)
    # The counts the stylesheets' README reports: 126 + 29 for T01, 28 for T76.
    assert per_folder == {"unit-order": 126, "unit-common": 29, "unit-order-response": 28}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_ordering_unit_case(validator: Validator, case: UnitCase) -> None:
    report = validator.validate(case.document, [case.layer])
    assert not [f for f in report.findings if f.rule == "saxon-error"], report.findings
    fired = collections.Counter(
        (f.rule, f.severity) for f in report.findings if f.rule in case.scope)
    for rule in case.must_not_fire:
        assert not [key for key in fired if key[0] == rule], f"{rule} fired: {report.findings}"
    expected = collections.Counter({(rule, severity): times
                                    for rule, severity, times in case.must_fire})
    assert fired == expected, [str(f) for f in report.findings if f.rule in case.scope]
