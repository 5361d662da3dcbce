"""The Peppol BIS Ordering 3 unit tests for T01 (Order) and T76 (Order Response), rule by rule.

Same VEFA judging as the billing unit tests (see :mod:`vefa`). ``unit-common``
holds the rules every transaction shares; its files name the T01
configuration, so they run against the T01 stylesheet. The fragments are
incomplete documents, so only the compiled Schematron runs, not the XSD.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from gateway.validation import Validator, validator_for
from plugins.ubl_ordering.formats import T01_LAYER, T76_LAYER
from validation_layers import SHARED_STANDARDS
from vefa import UnitCase, check_case, read_test_set

UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-ordering-3" / "unit-tests"
_LAYER_BY_CONFIGURATION = {"peppolbis-t01-base-3.0": T01_LAYER, "peppolbis-t76-base-3.0": T76_LAYER}
_FOLDERS = ("unit-order", "unit-common", "unit-order-response")


def _cases() -> list[UnitCase]:
    cases = []
    for folder in _FOLDERS:
        directory = UNIT_TESTS / folder
        for path in sorted(directory.glob("*.xml")) if directory.is_dir() else []:
            cases += read_test_set(path, layers=_LAYER_BY_CONFIGURATION)
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
    check_case(validator, case)
