"""Decimals: the published schema and the reader take and refuse the same numbers.

Both use DECIMAL_PATTERN: at most MAX_DIGITS_AROUND_POINT (40) digits before
and after the point in plain notation, or one digit before the point with an
exponent from E-20 to E+39. An ERP that checks its JSON against
schemas/canonical in its own CI is told what the gateway will say.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.model.json import CanonicalJSONError, from_json, to_json
from gateway.model.samples import example_invoice

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "canonical" / "invoice.schema.json"


def published() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))


def with_quantity(text: str) -> dict[str, Any]:
    data = copy.deepcopy(to_json(example_invoice()))
    data["lines"][0]["quantity"]["value"] = text
    return data


@pytest.mark.parametrize("text", [
    "1E+50",                       # 51 digits before the point
    "0E+50",
    "-1E+41",
    "1E-41",                       # 41 after
    "1E-21",                       # beyond the smallest exponent written
    "1." + "1" * 21 + "E-20",      # 41 after
    "12E+2",                       # scientific notation has one digit before the point
    "0." + "0" * 40 + "1",
    "1" + "0" * 40,                # 41 digits before the point: the reader's message says 40
    "1E+40",                       # the same number in exponent form
    "9.9E+40",
])
def test_schema_and_reader_both_refuse_out_of_range_decimals(text: str) -> None:
    data = with_quantity(text)
    with pytest.raises(CanonicalJSONError, match="out of range"):
        from_json(data)
    errors = list(published().iter_errors(data))
    assert [list(e.absolute_path) for e in errors] == [["lines", 0, "quantity", "value"]], text


@pytest.mark.parametrize("text", [
    "9" * 40 + "." + "9" * 40,     # 40 digits either side: the stated limit
    "-" + "9" * 40,
    "0." + "0" * 39 + "1",
    "1E+39",                       # 40 digits before the point, as the writer spells 1E+39
    "1.5E+3",
    "-0E+2",
    "1E-7",                        # as Python's str() writes Decimal("0.0000001")
    "1.2345E-7",
    "1." + "1" * 20 + "E-20",      # 40 after
    "12.50",
])
def test_schema_and_reader_both_take_decimals_within_range(text: str) -> None:
    data = with_quantity(text)
    from_json(data)
    assert published().is_valid(data), text
