"""The Peppol BIS Billing 3 unit tests, run through the engine rule by rule.

The files are VEFA testSets (see :mod:`vefa`). The fragments are not meant to
pass the XSD, so only the Peppol Schematron runs.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from gateway.validation import Validator, validator_for
from validation_layers import PEPPOL, SHARED_STANDARDS
from vefa import UnitCase, check_case, read_test_set

UNIT_TESTS = SHARED_STANDARDS / "peppol-bis-billing-3" / "unit-tests"


def _cases() -> list[UnitCase]:
    paths = sorted(UNIT_TESTS.glob("unit-UBL-*/*.xml")) if UNIT_TESTS.is_dir() else []
    return [case for path in paths for case in read_test_set(path, PEPPOL)]


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
    check_case(validator, case)
