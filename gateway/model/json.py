"""Lossless JSON for canonical documents.

The store keeps every document as this JSON, the REST API speaks it and ERP
integrations may write it. Conventions:

- A document is a JSON object with ``"document"`` (the
  :class:`~gateway.kinds.DocumentKind` value) and ``"schema_version"`` (now
  ``1``) next to the fields of its class. An :class:`~gateway.model.Invoice`
  of type credit is written with ``"document": "credit-note"``, a debit one
  with ``"invoice"``; the ``"type"`` field is written too and must agree.
- Keys are the Python field names (snake_case). Unknown keys are an error.
- A field that is ``None`` or an empty tuple is left out. On reading, a
  missing or ``null`` optional field is ``None`` (or empty), and a missing
  field with a default takes its default (a line's net amount is computed).
- Decimals are JSON strings in plain notation that keep their scale exactly:
  ``Decimal("12.50")`` is ``"12.50"``, never ``12.5``. JSON numbers are
  refused for them, because a float would lose precision. (A Decimal with a
  positive exponent, ``Decimal("1E+2")``, is written ``"1E+2"`` to keep it
  exact.)
- Dates are ``YYYY-MM-DD``, datetimes and times ISO 8601 as
  ``isoformat()`` writes them (with an offset when the value has one).
- Bytes (embedded attachments) are standard base64 with padding.
- Enums are written by value (``"S"``, ``"debit"``, ``"accepted"``).

``from_json(to_json(doc)) == doc`` holds for every document, Decimal scale
included. Errors name the JSON path at fault, e.g.
``lines[2].quantity.value: expected a decimal string, got 1.5 (a float would
lose precision)``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
import enum
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from gateway.errors import GatewayError
from gateway.kinds import DocumentKind
from gateway.model.documents import DOCUMENT_CLASSES, CanonicalDocument, kind_of
from gateway.model.record import FieldProblem
from gateway.model.shape import DateOrDateTime, FieldInfo, fields_of, is_record

SCHEMA_VERSION = 1
"""The version of the JSON layout this module reads and writes."""

ENVELOPE_KEYS = ("document", "schema_version")

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME_PATTERN = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[-+][0-9]{2}:[0-9]{2})?"
DATETIME_PATTERN = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T{TIME_PATTERN}$"
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"

ROOT = "(root)"

T = TypeVar("T")


class CanonicalJSONError(GatewayError, ValueError):
    """JSON that is not a valid canonical document; ``path`` locates the fault."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or ROOT
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# -- writing ---------------------------------------------------------------------------------


def to_json(document: CanonicalDocument) -> dict[str, Any]:
    """The JSON object (plain dicts, lists and strings) for ``document``."""
    return {
        "document": kind_of(document).value,
        "schema_version": SCHEMA_VERSION,
        **record_to_json(document),
    }


def dumps(document: CanonicalDocument, *, indent: int | None = 2) -> str:
    """``document`` as JSON text."""
    return json.dumps(to_json(document), indent=indent, ensure_ascii=False)


def record_to_json(record: object) -> dict[str, Any]:
    """The JSON object for any model object (a document or a part of one)."""
    result: dict[str, Any] = {}
    for info in fields_of(type(record)):
        value = getattr(record, info.name)
        if value is None or value == ():
            continue
        if info.shape.many:
            result[info.name] = [_value_to_json(item) for item in value]
        else:
            result[info.name] = _value_to_json(value)
    return result


def _value_to_json(value: Any) -> Any:
    # bool before int, datetime before date: the subclasses come first.
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return record_to_json(value)


def decimal_text(value: Decimal) -> str:
    """``value`` written so that ``Decimal(text)`` gives back the same digits and scale."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        # Plain notation would turn 1E+2 into 100 and change the scale.
        return str(value)
    return format(value, "f")


# -- reading ---------------------------------------------------------------------------------


def loads(text: str | bytes) -> CanonicalDocument:
    """The document in JSON ``text``; :class:`CanonicalJSONError` if it is not one."""
    try:
        data = json.loads(
            text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(
            ROOT, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return from_json(data)


def from_json(data: Any) -> CanonicalDocument:
    """The document in the JSON object ``data`` (as :func:`json.loads` returns it)."""
    if not isinstance(data, dict):
        raise CanonicalJSONError(ROOT, f"expected a JSON object, got {_show(data)}")
    kind = _read_kind(data)
    version = data.get("schema_version")
    if "schema_version" not in data:
        raise CanonicalJSONError("schema_version", "required field is missing")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise CanonicalJSONError(
            "schema_version", f"this gateway reads version {SCHEMA_VERSION}, got {_show(version)}"
        )
    body = {key: value for key, value in data.items() if key not in ENVELOPE_KEYS}
    document: CanonicalDocument = record_from_json(DOCUMENT_CLASSES[kind], body)
    actual = kind_of(document)
    if actual is not kind:
        raise CanonicalJSONError(
            "type",
            f"{_show(body.get('type'))} does not match document {kind.value!r}; an invoice of "
            f"type credit is a {DocumentKind.CREDIT_NOTE.value!r}, of type debit an "
            f"{DocumentKind.INVOICE.value!r}",
        )
    return document


def record_from_json(cls: type[T], data: Any, path: str = "") -> T:
    """The model object of class ``cls`` in JSON object ``data``; ``path`` prefixes errors."""
    if not isinstance(data, dict):
        raise CanonicalJSONError(path, f"expected a JSON object, got {_show(data)}")
    infos = fields_of(cls)
    known = {info.name for info in infos}
    for key in data:
        if key not in known:
            raise CanonicalJSONError(_join(path, key), _unknown_field(key, known))
    kwargs: dict[str, Any] = {}
    for info in infos:
        where = _join(path, info.name)
        value = data.get(info.name)
        if value is None:
            if info.required:
                problem = "required field is missing" if info.name not in data else (
                    "a value is required, got null"
                )
                raise CanonicalJSONError(where, problem)
            continue
        kwargs[info.name] = _field_from_json(info, value, where)
    try:
        return cls(**kwargs)
    except FieldProblem as exc:
        raise CanonicalJSONError(_join(path, exc.field), exc.problem) from None


def _field_from_json(info: FieldInfo, value: Any, path: str) -> Any:
    if not info.shape.many:
        return _value_from_json(info.shape.base, value, path)
    if not isinstance(value, list):
        raise CanonicalJSONError(path, f"expected a JSON array, got {_show(value)}")
    return tuple(
        _value_from_json(info.shape.base, item, f"{path}[{i}]") for i, item in enumerate(value)
    )


def _value_from_json(base: type, value: Any, path: str) -> Any:
    if is_record(base):
        return record_from_json(base, value, path)
    if issubclass(base, enum.Enum):
        return _enum_from_json(base, value, path)
    if base is Decimal:
        return _decimal_from_json(value, path)
    if base is bool:
        if not isinstance(value, bool):
            raise CanonicalJSONError(path, f"expected true or false, got {_show(value)}")
        return value
    if base is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CanonicalJSONError(path, f"expected a whole number, got {_show(value)}")
        return value
    if not isinstance(value, str):
        raise CanonicalJSONError(path, f"expected a string, got {_show(value)}")
    if base is str:
        return value
    if base is bytes:
        return _bytes_from_json(value, path)
    if base is dt.date:
        return _parse(dt.date.fromisoformat, DATE_PATTERN, "a date YYYY-MM-DD", value, path)
    if base is dt.datetime:
        return _parse(dt.datetime.fromisoformat, DATETIME_PATTERN, _DATETIME_HINT, value, path)
    if base is dt.time:
        return _parse(dt.time.fromisoformat, f"^{TIME_PATTERN}$", "a time HH:MM:SS", value, path)
    if base is DateOrDateTime:
        if "T" in value:
            return _parse(
                dt.datetime.fromisoformat, DATETIME_PATTERN, _DATETIME_HINT, value, path
            )
        return _parse(
            dt.date.fromisoformat, DATE_PATTERN, "a date or a date and time", value, path
        )
    raise TypeError(f"{path}: no JSON reading for {base!r}")  # a model class outside shape.py


_DATETIME_HINT = "a date and time YYYY-MM-DDTHH:MM:SS with an optional offset"


def _decimal_from_json(value: Any, path: str) -> Decimal:
    if isinstance(value, float):
        raise CanonicalJSONError(
            path, f"expected a decimal string, got {_show(value)} (a float would lose precision)"
        )
    if not isinstance(value, str) or not re.fullmatch(DECIMAL_PATTERN, value):
        raise CanonicalJSONError(
            path, f'expected a decimal string such as "12.50", got {_show(value)}'
        )
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise CanonicalJSONError(path, f"not a decimal number: {value!r}") from None


def _enum_from_json(base: type[enum.Enum], value: Any, path: str) -> enum.Enum:
    try:
        return base(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in base)
        raise CanonicalJSONError(path, f"expected one of {allowed}, got {_show(value)}") from None


def _bytes_from_json(value: str, path: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise CanonicalJSONError(path, "expected base64 text (RFC 4648, with padding)") from None


def _parse(parser: Any, pattern: str, hint: str, value: str, path: str) -> Any:
    # fromisoformat alone accepts more (e.g. "20240101"); the pattern keeps one spelling.
    if re.fullmatch(pattern, value):
        try:
            return parser(value)
        except ValueError:
            pass
    raise CanonicalJSONError(path, f"expected {hint}, got {value!r}")


def _read_kind(data: Mapping[str, Any]) -> DocumentKind:
    text = data.get("document")
    if text is None:
        raise CanonicalJSONError("document", "required field is missing")
    known = ", ".join(repr(k.value) for k in DOCUMENT_CLASSES)
    if not isinstance(text, str):
        raise CanonicalJSONError("document", f"expected one of {known}, got {_show(text)}")
    try:
        kind = DocumentKind(text)
    except ValueError:
        raise CanonicalJSONError("document", f"expected one of {known}, got {text!r}") from None
    if kind not in DOCUMENT_CLASSES:
        raise CanonicalJSONError(
            "document", f"{text!r} has no canonical JSON form; expected one of {known}"
        )
    return kind


def _unknown_field(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint}"


def _join(path: str, name: str) -> str:
    if not path:
        return name
    if name.startswith("["):
        return f"{path}{name}"
    return f"{path}.{name}"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalJSONError(ROOT, f"duplicate key {key!r} in a JSON object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise CanonicalJSONError(ROOT, f"{name} is not a number JSON allows")
