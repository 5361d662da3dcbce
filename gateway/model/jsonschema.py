"""JSON Schema (draft 2020-12) of the canonical JSON, generated from the model classes.

The schema describes exactly what :mod:`gateway.model.json` reads: the same
fields, required where the constructor has no default, ``null`` allowed where
the field is optional, no unknown keys. Constraints that the model checks
in code across fields (a period that ends before it starts, line totals) are
not in the schema; :func:`gateway.model.json.from_json` reports those.

The published files live in ``schemas/canonical/<kind>.schema.json``. Rewrite
them after changing the model::

    python -m gateway.model.jsonschema --write schemas/canonical

and check they are current (as the tests do) with ``--check``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import inspect
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from gateway.kinds import DocumentKind
from gateway.model.documents import DOCUMENT_CLASSES, document_class
from gateway.model.invoice import Invoice, InvoiceType
from gateway.model.json import (
    BASE64_PATTERN,
    DATE_PATTERN,
    DATETIME_PATTERN,
    DECIMAL_PATTERN,
    SCHEMA_VERSION,
    TEXT_PATTERN,
    TIME_PATTERN,
)
from gateway.model.shape import Constraint, DateOrDateTime, FieldInfo, fields_of, is_record

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NON_NEGATIVE_DECIMAL_PATTERN = DECIMAL_PATTERN.replace("^-?", "^", 1)

_SCALARS: dict[type, tuple[str, dict[str, Any]]] = {
    str: (
        "Text",
        {
            "type": "string",
            "minLength": 1,
            "pattern": TEXT_PATTERN,
            "description": "Text of at least one character; no control characters but tab, "
            "line feed and carriage return, and no half of a surrogate pair.",
        },
    ),
    Decimal: (
        "Decimal",
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": "An exact decimal number written as a string, keeping its scale "
            '("12.50"). JSON numbers are not accepted: a float would lose precision.',
        },
    ),
    dt.date: (
        "Date",
        {"type": "string", "format": "date", "pattern": DATE_PATTERN},
    ),
    dt.datetime: (
        "DateTime",
        {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "ISO 8601 date and time, with an offset when known.",
        },
    ),
    dt.time: (
        "Time",
        {"type": "string", "pattern": f"^{TIME_PATTERN}$"},
    ),
    bytes: (
        "Base64",
        {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": BASE64_PATTERN,
            "description": "Binary content, base64 encoded (RFC 4648, with padding).",
        },
    ),
}


def schema_kinds() -> list[DocumentKind]:
    """The document kinds that have a canonical JSON form, in DocumentKind order."""
    return [kind for kind in DocumentKind if kind in DOCUMENT_CLASSES]


def json_schema(kind: DocumentKind) -> dict[str, Any]:
    """The JSON Schema of canonical documents of ``kind``."""
    cls = document_class(kind)
    defs: dict[str, Any] = {}
    body = _object_schema(cls, defs)
    properties: dict[str, Any] = {
        "document": {"const": kind.value, "description": "The document kind."},
        "schema_version": {
            "const": SCHEMA_VERSION,
            "description": "The version of this JSON layout.",
        },
        **body["properties"],
    }
    if cls is Invoice:
        invoice_type = InvoiceType.CREDIT if kind is DocumentKind.CREDIT_NOTE else InvoiceType.DEBIT
        properties["type"] = {
            "const": invoice_type.value,
            "description": "Debit for an invoice, credit for a credit note; matches 'document'.",
        }
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"urn:wissel:schema:canonical:{kind.value}:{SCHEMA_VERSION}",
        "title": f"Wissel canonical {kind.value.replace('-', ' ')}",
        "description": body["description"],
        "type": "object",
        "properties": properties,
        "required": ["document", "schema_version", *body["required"]],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }
    return schema


def schema_text(kind: DocumentKind) -> str:
    """The published file content of the schema of ``kind``."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def schema_filename(kind: DocumentKind) -> str:
    """The file name the schema of ``kind`` is published under."""
    return f"{kind.value}.schema.json"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in schema_kinds():
        path = directory / schema_filename(kind)
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written


def outdated_schemas(directory: Path) -> list[Path]:
    """The schema files in ``directory`` that are missing or differ from the generator."""
    stale = []
    for kind in schema_kinds():
        path = directory / schema_filename(kind)
        if not path.is_file() or path.read_text(encoding="utf-8") != schema_text(kind):
            stale.append(path)
    return stale


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    properties = {}
    required = []
    for info in fields_of(cls):
        properties[info.name] = _field_schema(info, defs)
        if info.required:
            required.append(info.name)
    return {
        "type": "object",
        "description": _description(cls),
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _field_schema(info: FieldInfo, defs: dict[str, Any]) -> dict[str, Any]:
    schema = _value_schema(info.shape.base, info.constraint, defs)
    if info.shape.many:
        schema = {"type": "array", "items": schema}
        if info.constraint is not None and info.constraint.min_items:
            schema["minItems"] = info.constraint.min_items
    if not info.required:
        schema = _nullable(schema)
        default = info.default
        # NOTHING marks a computed default (a line's net amount); None and () go without saying.
        if default is not attrs.NOTHING and default is not None and default != ():
            schema["default"] = default.value if isinstance(default, enum.Enum) else default
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # The reader takes null for "absent"; a typed schema says so more briefly than anyOf.
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if list(schema) == ["anyOf"]:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def _value_schema(
    base: type, constraint: Constraint | None, defs: dict[str, Any]
) -> dict[str, Any]:
    if is_record(base):
        if base.__name__ not in defs:
            defs[base.__name__] = {}  # placeholder: classes may refer to each other
            defs[base.__name__] = _object_schema(base, defs)
        return _ref(base.__name__)
    if issubclass(base, enum.Enum):
        if base.__name__ not in defs:
            defs[base.__name__] = {
                "description": _description(base),
                "enum": [member.value for member in base],
            }
        return _ref(base.__name__)
    if base is str:
        if constraint is None or constraint.pattern is None:
            return _scalar_ref(str, defs)
        # The field's own pattern, e.g. ^[A-Z]{3}$, leaves no room for control characters.
        text = constraint.description
        return {"type": "string", "minLength": 1, "pattern": constraint.pattern,
                "description": f"{text[0].upper()}{text[1:]}."}
    if base is bool:
        return {"type": "boolean"}
    if base is int:
        schema: dict[str, Any] = {"type": "integer"}
        if constraint is not None and constraint.non_negative:
            schema["minimum"] = 0
        return schema
    if base is Decimal and constraint is not None and constraint.non_negative:
        return {
            "type": "string",
            "pattern": NON_NEGATIVE_DECIMAL_PATTERN,
            "description": "A decimal string that is not negative.",
        }
    if base is DateOrDateTime:
        return {"anyOf": [_scalar_ref(dt.date, defs), _scalar_ref(dt.datetime, defs)]}
    return _scalar_ref(base, defs)


def _scalar_ref(base: type, defs: dict[str, Any]) -> dict[str, Any]:
    name, schema = _SCALARS[base]
    defs.setdefault(name, schema)
    return _ref(name)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _description(cls: type) -> str:
    doc = inspect.getdoc(cls) or cls.__name__
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    """Write (``--write DIR``) or check (``--check DIR``) the published schema files."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway.model.jsonschema",
        description="Write or check the JSON Schema files of the canonical model.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="DIR", type=Path, help="write the schema files")
    action.add_argument("--check", metavar="DIR", type=Path, help="fail if any file is stale")
    args = parser.parse_args(argv)
    if args.write is not None:
        for path in write_schemas(args.write):
            print(path)
        return 0
    stale = outdated_schemas(args.check)
    for path in stale:
        print(f"{path}: out of date; run python -m gateway.model.jsonschema --write "
              f"{args.check}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
