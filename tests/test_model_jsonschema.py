"""The published JSON Schemas: current with the generator, and true to the JSON reader."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.kinds import DocumentKind
from gateway.model import CanonicalDocument, kind_of
from gateway.model.json import CanonicalJSONError, from_json, to_json
from gateway.model.jsonschema import (
    json_schema,
    main,
    outdated_schemas,
    schema_kinds,
    write_schemas,
)
from gateway.model.samples import example_documents, example_invoice
from strategies import assert_valid, validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "canonical"

def test_published_schemas_are_current() -> None:
    stale = outdated_schemas(SCHEMA_DIR)
    assert not stale, (
        f"out of date: {[p.name for p in stale]}; "
        "run python -m gateway.model.jsonschema --write schemas/canonical"
    )
    published = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))
    assert published == sorted(f"{k.value}.schema.json" for k in schema_kinds())


def test_every_kind_has_a_schema() -> None:
    assert set(schema_kinds()) == set(DocumentKind)


@pytest.mark.parametrize("kind", schema_kinds(), ids=lambda k: k.value)
def test_schemas_are_valid_draft_2020_12(kind: DocumentKind) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: kind_of(d).value)
def test_example_json_validates(document: CanonicalDocument) -> None:
    assert_valid(to_json(document))


def test_invoice_and_credit_note_schemas_pin_the_type() -> None:
    data = to_json(example_invoice())
    data["document"] = "credit-note"
    assert not validator(DocumentKind.CREDIT_NOTE).is_valid(data)
    data["type"] = "credit"
    assert validator(DocumentKind.CREDIT_NOTE).is_valid(data)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["lines"][0]["price"].update(amount=25.0), "lines.0.price.amount"),
        (lambda d: d["lines"][0]["price"].update(amount="-1"), "lines.0.price.amount"),
        (lambda d: d.update(currency="eur"), "currency"),
        (lambda d: d.update(issue_date="2024-3-1"), "issue_date"),
        (lambda d: d.update(number=""), "number"),
        (lambda d: d.update(lines=[]), "lines"),
        (lambda d: d["lines"][0].update(vat_category="s"), "lines.0.vat_category"),
        (lambda d: d["lines"][0].update(colour="blue"), "lines.0"),
        (lambda d: d.pop("seller"), ""),
    ],
)
def test_schema_and_reader_refuse_the_same_mistakes(change: Any, path: str) -> None:
    data = copy.deepcopy(to_json(example_invoice()))
    change(data)
    errors = list(validator(DocumentKind.INVOICE).iter_errors(data))
    assert errors
    assert any(".".join(map(str, e.absolute_path)) == path for e in errors)
    with pytest.raises(CanonicalJSONError):
        from_json(data)


def test_null_for_optional_fields_is_valid_in_both() -> None:
    data = to_json(example_invoice())
    data["tax_currency"] = None
    data["notes"] = None
    data["lines"][0]["period"] = None
    assert_valid(data)
    from_json(data)


def test_script_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--write", str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    assert len(write_schemas(tmp_path)) == len(schema_kinds())
