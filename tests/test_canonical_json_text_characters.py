"""Text: control characters no XML document can carry are refused by schema and reader.

U+0000-U+001F but tab, line feed and carriage return: the published schema's
``Text`` pattern and ``loads`` refuse the same characters, naming the field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.model.json import CanonicalJSONError, loads, to_json
from gateway.model.samples import example_invoice

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "canonical" / "invoice.schema.json"


def published() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))


def invoice() -> dict[str, Any]:
    return copy.deepcopy(to_json(example_invoice()))


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"])
def test_schema_refuses_the_control_characters_loads_refuses(char: str) -> None:
    data = invoice()
    data["seller"]["name"] = f"Naam{char}Leverancier"
    data["notes"] = [f"let op{char}"]
    with pytest.raises(CanonicalJSONError, match="control character"):
        loads(json.dumps(data))
    paths = sorted(list(e.absolute_path) for e in published().iter_errors(data))
    assert paths == [["notes", 0], ["seller", "name"]]


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x7f", "é"])
def test_both_take_the_characters_documents_carry(char: str) -> None:
    data = invoice()
    data["seller"]["name"] = f"Naam{char}Leverancier"
    loads(json.dumps(data))
    assert published().is_valid(data)
