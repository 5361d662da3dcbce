"""Embedded files: base64 cut short or without padding is refused by schema and reader.

Both take whole groups of four with the last one padded (RFC 4648), which is
what ``base64.b64decode(validate=True)`` decodes.
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


def with_content(text: str) -> dict[str, Any]:
    data = copy.deepcopy(to_json(example_invoice()))
    data["attachments"] = [{"content": text, "mime_type": "application/pdf",
                            "filename": "factuur.pdf"}]
    return data


@pytest.mark.parametrize("text", ["A", "abc", "A=", "QQ=", "QUJDRA", "QUJDRA="])
def test_schema_refuses_base64_the_reader_refuses(text: str) -> None:
    data = with_content(text)
    with pytest.raises(CanonicalJSONError, match="base64"):
        from_json(data)
    paths = [list(e.absolute_path) for e in published().iter_errors(data)]
    assert paths == [["attachments", 0, "content"]]


@pytest.mark.parametrize("text", ["", "QQ==", "QR==", "QUI=", "QUJD", "QUJDRA==", "+/+/"])
def test_both_take_padded_base64(text: str) -> None:
    data = with_content(text)
    from_json(data)
    assert published().is_valid(data)
