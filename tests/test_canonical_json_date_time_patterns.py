"""Dates and times: the published patterns refuse impossible values as the reader does.

Month 13, day 32, year 0000, hour 25, minute 61, second 60 and an offset of
+25:00 or +01:60 are refused by the schema's patterns and by the reader
alike (a 30th of February by the reader, and by a validator asserting
``"format": "date"``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.kinds import DocumentKind
from gateway.model.json import CanonicalJSONError, from_json, to_json
from gateway.model.samples import example_order, example_timecard

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "canonical"


def published(kind: DocumentKind) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{kind.value}.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)  # formats as annotations: the default


def order_with(field: str, text: str) -> dict[str, Any]:
    data = copy.deepcopy(to_json(example_order()))
    data[field] = text
    return data


def timecard_submitted_at(text: str) -> dict[str, Any]:
    data = copy.deepcopy(to_json(example_timecard()))
    data["submitted_at"] = text
    return data


CASES: list[tuple[DocumentKind, Callable[[], dict[str, Any]], str]] = [
    (DocumentKind.ORDER, lambda: order_with("issue_date", "2024-13-01"), "issue_date"),
    (DocumentKind.ORDER, lambda: order_with("issue_date", "2024-00-10"), "issue_date"),
    (DocumentKind.ORDER, lambda: order_with("issue_date", "2024-01-32"), "issue_date"),
    (DocumentKind.ORDER, lambda: order_with("issue_date", "0000-01-01"), "issue_date"),
    (DocumentKind.ORDER, lambda: order_with("issue_time", "25:00:00"), "issue_time"),
    (DocumentKind.ORDER, lambda: order_with("issue_time", "14:61"), "issue_time"),
    (DocumentKind.ORDER, lambda: order_with("issue_time", "14:11:60"), "issue_time"),
    (DocumentKind.ORDER, lambda: order_with("issue_time", "14:11:22+25:00"), "issue_time"),
    (DocumentKind.TIMECARD, lambda: timecard_submitted_at("2014-10-09T24:00:00"),
     "submitted_at"),
    (DocumentKind.TIMECARD, lambda: timecard_submitted_at("2014-19-09T16:30:16"),
     "submitted_at"),
]


@pytest.mark.parametrize(("kind", "make", "field"), CASES)
def test_schema_refuses_dates_and_times_the_reader_refuses(
    kind: DocumentKind, make: Callable[[], dict[str, Any]], field: str,
) -> None:
    data = make()
    with pytest.raises(CanonicalJSONError, match=f"^{field}: expected"):
        from_json(data)
    assert [list(e.absolute_path) for e in published(kind).iter_errors(data)] == [[field]]


@pytest.mark.parametrize(("kind", "make", "field"), [
    (DocumentKind.TIMECARD, lambda: timecard_submitted_at("2014-10-09T16:30:16+01:60"),
     "submitted_at"),
    (DocumentKind.ORDER, lambda: order_with("issue_time", "14:11:22-12:60"), "issue_time"),
])
def test_an_offset_of_60_minutes_is_refused_by_both(
    kind: DocumentKind, make: Callable[[], dict[str, Any]], field: str,
) -> None:
    """Python's fromisoformat reads +01:60 as +02:00, so the reader takes it today."""
    test_schema_refuses_dates_and_times_the_reader_refuses(kind, make, field)


@pytest.mark.parametrize(("kind", "data"), [
    (DocumentKind.ORDER, order_with("issue_date", "2024-02-29")),
    (DocumentKind.ORDER, order_with("issue_time", "23:59:59.999999-12:00")),
    (DocumentKind.ORDER, order_with("issue_time", "00:00Z")),
    (DocumentKind.TIMECARD, timecard_submitted_at("2014-12-31T23:59:59+14:00")),
])
def test_both_take_real_dates_and_times(kind: DocumentKind, data: dict[str, Any]) -> None:
    from_json(data)
    assert published(kind).is_valid(data)
