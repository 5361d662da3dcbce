"""Reading Peppol's VEFA unit-test files and judging a validation report by them.

Each file is a VEFA ``testSet``: a top-level ``<assert>`` whose ``<scope>``
names the rules under test, then ``<test>`` elements, each with its own
``<assert>`` (``<success>RULE</success>``: the rule must not fire;
``<error>``/``<warning>``: it must fire, ``@number`` times, default once, as
a fatal resp. warning assert) and one embedded document. As in
vefa-validator, test-level asserts add to the testSet's, only rules in scope
count, and an in-scope rule that fires without being expected fails the
test. The billing and the ordering unit tests share this module.
"""

from __future__ import annotations

import collections
from pathlib import Path

import attrs
from lxml import etree

from gateway.formats import ValidationLayer
from gateway.validation import Severity, Validator

VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
_EXPECTED = {"error": Severity.FATAL, "warning": Severity.WARNING}


@attrs.frozen
class UnitCase:
    file: str
    index: int
    layer: ValidationLayer
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


def read_test_set(path: Path, layer: ValidationLayer | None = None,
                  layers: dict[str, ValidationLayer] | None = None) -> list[UnitCase]:
    """The cases of one testSet file, judged against ``layer`` (or the one its
    ``@configuration`` names in ``layers``)."""
    test_set = etree.parse(str(path)).getroot()
    if layer is None:
        assert layers is not None
        layer = layers[test_set.get("configuration", "")]
    set_asserts = test_set.findall(f"{VEFA}assert")
    cases = []
    for index, test in enumerate(test_set.findall(f"{VEFA}test"), start=1):
        scope, success, fire = _expectations(set_asserts + test.findall(f"{VEFA}assert"))
        [document] = [child for child in test if isinstance(child.tag, str)
                      and child.tag != f"{VEFA}assert"]
        cases.append(UnitCase(
            file=f"{path.parent.name}/{path.name}", index=index, layer=layer, scope=scope,
            must_not_fire=success, must_fire=fire,
            document=etree.tostring(document, encoding="UTF-8", xml_declaration=True),
        ))
    return cases


def check_case(validator: Validator, case: UnitCase) -> None:
    """Assert that validating the case's document fires exactly what the case expects."""
    report = validator.validate(case.document, [case.layer])
    assert not [f for f in report.findings if f.rule == "saxon-error"], report.findings
    fired = collections.Counter(
        (f.rule, f.severity) for f in report.findings if f.rule in case.scope)
    for rule in case.must_not_fire:
        assert not [key for key in fired if key[0] == rule], f"{rule} fired: {report.findings}"
    expected = collections.Counter({(rule, severity): times
                                    for rule, severity, times in case.must_fire})
    assert fired == expected, [str(f) for f in report.findings if f.rule in case.scope]
