"""The sample ERP payloads in examples/ are current and valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.model import CanonicalDocument, kind_of
from gateway.model.json import dumps, from_json
from gateway.model.samples import example_documents
from strategies import validator

PAYLOADS = Path(__file__).resolve().parents[1] / "examples" / "erp-payloads"


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: kind_of(d).value)
def test_payload_file_is_current(document: CanonicalDocument) -> None:
    path = PAYLOADS / f"{kind_of(document).value}.json"
    assert path.read_text("utf-8") == dumps(document) + "\n", (
        f"{path} is stale: run python -m gateway.model.samples --write examples/erp-payloads"
    )


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("*.json")), ids=lambda p: p.stem)
def test_payload_validates_and_reads_back(path: Path) -> None:
    data = json.loads(path.read_text("utf-8"))
    validator(kind_of(from_json(data))).validate(data)
