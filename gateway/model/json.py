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
  exact.) At most :data:`MAX_DIGITS_AROUND_POINT` digits stand before and
  after the point; :data:`DECIMAL_PATTERN` says so for the reader and the
  published schema alike.
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
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from gateway.errors import GatewayError
from gateway.kinds import DocumentKind
from gateway.model.documents import DOCUMENT_CLASSES, CanonicalDocument, kind_of
from gateway.model.record import (
    FieldProblem,
    build_checked,
    check_computed,
    min_items,
    settable,
    value_rule,
)
from gateway.model.shape import DateOrDateTime, FieldInfo, fields_of, is_record

SCHEMA_VERSION = 1
"""The version of the JSON layout this module reads and writes."""

ENVELOPE_KEYS = ("document", "schema_version")

MAX_DIGITS_AROUND_POINT = 40
"""Far more than any amount, quantity or rate needs; an exponent such as 1E+999999999
would otherwise make every writer of the number spell out a billion digits."""

# Plain notation with at most 40 digits either side of the point; or scientific
# notation with one digit before the point, as the writer gives a Decimal with a
# positive exponent (1.5E+3) and as Python's str() and JavaScript write small numbers
# (1.2345E-7): up to E+39, which keeps 40 digits before the point, and down to E-20
# with 20 decimals, which keeps 40 after it. A pattern, not a check in code, so the
# published schema refuses exactly the numbers the reader refuses.
DECIMAL_PATTERN = (
    rf"^-?(?:[0-9]{{1,{MAX_DIGITS_AROUND_POINT}}}(?:\.[0-9]{{1,{MAX_DIGITS_AROUND_POINT}}})?"
    rf"|[0-9](?:\.[0-9]{{1,{MAX_DIGITS_AROUND_POINT}}})?[eE]\+?(?:[0-9]|[1-3][0-9])"
    r"|[0-9](?:\.[0-9]{1,20})?[eE]-(?:[0-9]|1[0-9]|20))$"
)
# The ranges of each part, so the published schema refuses month 13 or hour 25 as the
# reader does (Python's fromisoformat, after the pattern); a 30th of February only the
# reader, and a validator that asserts "format": "date".
_DAY = r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_HOURS_MINUTES = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
DATE_PATTERN = rf"^{_DAY}$"
TIME_PATTERN = (
    rf"{_HOURS_MINUTES}(?::[0-5][0-9](?:\.[0-9]{{1,6}})?)?(?:Z|[-+]{_HOURS_MINUTES})?"
)
DATETIME_PATTERN = rf"^{_DAY}T{TIME_PATTERN}$"
# Whole groups of four, the last one padded: what b64decode(validate=True) decodes.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

CONTROL_CHARACTERS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f"
"""What no text in a document may hold, as the inside of a character class: no XML
document can carry these, and no PostgreSQL text column NUL. Tab, line feed and
carriage return are text."""
SURROGATES = r"\ud800-\udfff"
"""Halves of a UTF-16 surrogate pair: JSON may escape one alone ("\\ud800"), but no
UTF-8 text and no XML document can carry it."""
TEXT_PATTERN = rf"^[^{CONTROL_CHARACTERS}{SURROGATES}]*$"

ROOT = "(root)"

T = TypeVar("T")


class CanonicalJSONError(GatewayError, ValueError):
    """JSON that is not a valid canonical document; ``path`` locates the fault."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or ROOT
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def within(self, outer: str) -> CanonicalJSONError:
        """The same error seen from the object that holds the value at ``outer``."""
        inner = "" if self.path == ROOT else self.path
        return CanonicalJSONError(_join(outer, inner) if inner else outer, self.problem)


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
    data = to_json(document)
    if indent == _INDENT:
        try:
            return _indented(data)
        except _NotPlain:
            pass
    return json.dumps(data, indent=indent, ensure_ascii=False)


# The standard library writes indented JSON with its pure-Python encoder (its C
# encoder is for compact JSON only), which made up most of the cost of encoding a
# canonical document. What to_json returns holds only objects with text keys,
# lists, text, whole numbers and booleans, so a writer for just those gives the
# very same text as json.dumps(data, indent=2, ensure_ascii=False), in a fraction
# of the time; anything else falls back to json.dumps.

_INDENT = 2
_quote: Callable[[str], str] = json.encoder.encode_basestring


class _NotPlain(Exception):
    """A value outside what :func:`_indented` writes."""


def _indented(data: Any) -> str:
    parts: list[str] = []
    _write_value(data, "\n", parts)
    return "".join(parts)


def _write_value(value: Any, newline: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(_quote(value))
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + " " * _INDENT
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            parts.append(separator)
            parts.append(_quote(key))
            parts.append(": ")
            _write_value(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif kind is list:
        if not value:
            parts.append("[]")
            return
        inner = newline + " " * _INDENT
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _write_value(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    elif kind is bool:
        parts.append("true" if value else "false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif value is None:
        parts.append("null")
    else:
        raise _NotPlain


def record_to_json(record: object) -> dict[str, Any]:
    """The JSON object for any model object (a document or a part of one)."""
    result: dict[str, Any] = {}
    for name, many, write in _writers(type(record)):
        value = getattr(record, name)
        if value is None or value == ():
            continue
        if many:
            result[name] = [write(item) for item in value]
        else:
            result[name] = write(value)
    return result


# Writers, like the readers below, are chosen once per model class from the
# declared field types, so a value of just that type skips the isinstance
# chain of _value_to_json; any other value still takes that chain.

_Writers = tuple[tuple[str, bool, Callable[[Any], Any]], ...]
_WRITERS: dict[type, _Writers] = {}


def _writers(cls: type) -> _Writers:
    found = _WRITERS.get(cls)
    if found is None:
        found = _WRITERS[cls] = tuple(
            (info.name, info.shape.many, _value_writer(info.shape.base))
            for info in fields_of(cls))
    return found


def _value_writer(base: type) -> Callable[[Any], Any]:
    if base is str or base is bool or base is int:
        return lambda value: value if type(value) is base else _value_to_json(value)
    if base is Decimal:
        return lambda value: (
            decimal_text(value) if type(value) is Decimal else _value_to_json(value))
    if issubclass(base, enum.Enum):
        return lambda value: value.value if type(value) is base else _value_to_json(value)
    if is_record(base):
        return record_to_json
    return _value_to_json


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
    return from_json(parse_json(text))


def parse_json(text: str | bytes) -> Any:
    """The JSON value in ``text`` as :func:`loads` reads it, for :func:`from_json`.

    Stricter than :func:`json.loads`: a repeated key in an object, and NaN or
    Infinity, are a :class:`CanonicalJSONError`, as is text that is no JSON,
    bytes that are no text, and JSON beyond what the parser takes (a number of
    thousands of digits, arrays nested thousands deep).
    """
    if isinstance(text, bytes):
        text = _decoded(text)
    try:
        data = _loads_refusing_repeats(text)
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(
            ROOT, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except CanonicalJSONError:
        raise
    except ValueError:
        # The one other ValueError json.loads raises on text: int() refusing a long number.
        raise CanonicalJSONError(
            ROOT, f"not valid JSON here: a number of more than {sys.get_int_max_str_digits()} "
            "digits") from None
    except RecursionError:
        raise CanonicalJSONError(
            ROOT, "not valid JSON here: arrays or objects nested too deeply") from None
    # Raw control characters are no JSON; escaped ones are, so look for their escapes
    # in the text (quick scans) and walk the values only when one may be there.
    if _may_hold_control_characters(text):
        _refuse_control_characters(data, "")
    return data


def _loads_refusing_repeats(text: str) -> Any:
    """``json.loads`` that refuses a key repeated in one object, and NaN and Infinity.

    A hook per object (``object_pairs_hook``) sees every repeat but triples the
    cost of reading a document on the intake's hot path. So the fast reader
    runs first, and a repeat is found by counting quotes: each string written
    has two, an escaped quote in one adds one, and a repeated key takes itself
    (and the value it replaced) out of what was read. The text holds exactly
    twice as many quotes as strings read only when no key was repeated and no
    quote escaped; any other text is read again with the hook, which names
    the repeated key if there is one.
    """
    data = json.loads(text, parse_constant=_refuse_constant)
    if (type(data) is dict or type(data) is list) and (
            text.count('"') != 2 * _strings_read(data)):
        json.loads(text, object_pairs_hook=_refuse_duplicate_keys,
                   parse_constant=_refuse_constant)
    return data


def _strings_read(value: dict[str, Any] | list[Any]) -> int:
    """How many strings ``value`` holds, keys and nested values included."""
    if type(value) is dict:
        count = len(value)
        items: Any = value.values()
    else:
        count = 0
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is dict or kind is list:
            count += _strings_read(item)
    return count


def _decoded(data: bytes) -> str:
    # The encodings json.loads detects (UTF-8, with or without BOM, UTF-16, UTF-32), but
    # strict: json.loads lets encoded surrogates through, and its UnicodeDecodeError
    # would name no fault the way a CanonicalJSONError does.
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise CanonicalJSONError(
            ROOT, f"not {name} text: {exc.reason} at byte position {exc.start + 1}; "
            "canonical JSON is UTF-8") from None


# \u0000-\u001f but tab, line feed and carriage return, the short \b and \f, and half a
# surrogate pair, escaped; an escaped backslash before them (\\b) is text, and a whole
# pair one character, which the walk then clears.
_SUSPECT_ESCAPE = re.compile(
    r"\\(?:u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])|u[dD][89a-fA-F][0-9a-fA-F]{2}|[bf])")
_NOT_TEXT = re.compile(f"[{CONTROL_CHARACTERS}{SURROGATES}]")


def _may_hold_control_characters(text: str) -> bool:
    """Whether ``text`` may hold, escaped or raw, a character no document may carry."""
    if _SUSPECT_ESCAPE.search(text):
        return True
    if text.isascii():
        return False
    # Raw half surrogate pairs come only from a Python caller (decoding refuses them),
    # and encoding finds one in a fraction of a regular expression's time.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse_control_characters(value: Any, path: str) -> None:
    """No XML document can carry these characters, no UTF-8 half a surrogate pair, and no
    PostgreSQL text column NUL."""
    if isinstance(value, str):
        found = _NOT_TEXT.search(value)
        if found:
            code = ord(found.group())
            what = ("half a surrogate pair" if 0xD800 <= code <= 0xDFFF
                    else "the control character")
            raise CanonicalJSONError(
                path, f"holds {what} U+{code:04X} at position {found.start() + 1}, which no "
                "document may carry")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _refuse_control_characters(key, path)
            _refuse_control_characters(inner, _join(path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_control_characters(inner, f"{path}[{index}]")


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
    body = dict(data)
    for key in ENVELOPE_KEYS:  # both present: checked above
        del body[key]
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
    try:
        record: T = _reader(cls)(data)
    except CanonicalJSONError as exc:
        if not path:
            raise
        raise exc.within(path) from None
    return record


# Readers are built once per model class and kept. Each reads one JSON value
# and names the fault relative to that value; the objects around it add their
# part of the path while the error passes, so a good document builds no paths.
#
# A field's reader also applies the field's own rules (text not empty, its
# pattern, not negative, enough items), so a record whose values all passed is
# made with build_checked, which skips the model's per-field checks. A value
# that breaks a rule is not an error yet: the record is then made the usual
# way, whose checks word the error, after every field was read as before.


class _RuleBroken(Exception):
    """A value of the right type that breaks its field's rule; ``value`` is what was read."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


_Reader = Callable[[Any], Any]
_READERS: dict[type, _Reader] = {}


def _reader(cls: type) -> _Reader:
    found = _READERS.get(cls)
    if found is None:
        found = _READERS[cls] = _record_reader(cls)
    return found


def _record_reader(cls: type) -> _Reader:
    slow = _field_by_field_reader(cls)
    fast = _fast_reader(cls)
    if fast is None:
        _FAST[cls] = slow
        return slow
    _FAST[cls] = fast

    def read(data: Any) -> Any:
        try:
            return fast(data)
        except Exception:
            # Anything but a valid object of the common form (or an error the making
            # raises, which reading again raises too): read it field by field, which
            # also names the fault as the JSON path to it.
            return slow(data)

    return read


def _field_by_field_reader(cls: type) -> _Reader:
    fields: list[tuple[str, bool, _Reader]] = []
    known: set[str] = set()

    def read(data: Any) -> Any:
        if not isinstance(data, dict):
            raise CanonicalJSONError("", f"expected a JSON object, got {_show(data)}")
        if not known.issuperset(data):
            key = next(key for key in data if key not in known)
            raise CanonicalJSONError(key, _unknown_field(key, known))
        kwargs: dict[str, Any] = {}
        checked = True
        for name, required, value_reader in fields:
            value = data.get(name)
            if value is None:
                if required:
                    problem = "required field is missing" if name not in data else (
                        "a value is required, got null"
                    )
                    raise CanonicalJSONError(name, problem)
                continue
            try:
                kwargs[name] = value_reader(value)
            except _RuleBroken as broken:
                kwargs[name] = broken.value
                checked = False
            except CanonicalJSONError as exc:
                raise exc.within(name) from None
        try:
            return build_checked(cls, kwargs) if checked else cls(**kwargs)
        except FieldProblem as exc:
            raise CanonicalJSONError(exc.field, exc.problem) from None

    # Registered before its fields are read, so a class that holds itself finds its reader.
    _READERS[cls] = read
    for info in fields_of(cls):
        known.add(info.name)
        fields.append((info.name, info.required, _field_reader(info)))
    return read


# The fast reader of a model class is Python code made once for the class, in the
# manner of attrs' own __init__: per field in declared order one dict look-up and
# the value set on the new object (its default when the JSON leaves it out, its
# factory's value when computed), with the common checks of text and decimals
# written out. No kwargs dict, no __init__ call and no loop over absent fields:
# this took the sample invoice from 114 to 71 us. It reads only a JSON object that
# holds a valid value for every field present, and then makes what the field by
# field reader makes (settable says when it may); anything else makes it raise
# (_NotFast, or whatever the values raise), and the record's reader reads the JSON
# again field by field, which words the fault. Fast readers call the fast readers
# of the records inside, never a field by field one, so a fault deep down costs a
# fast attempt per level and one reading field by field per level, not more.

_FAST: dict[type, _Reader] = {}


class _NotFast(Exception):
    """What a fast reader raises for JSON it leaves to the field-by-field reader."""


def _fast_reader(cls: type) -> _Reader | None:
    if not settable(cls):
        return None
    attributes = attrs.fields_dict(cls)
    names: dict[str, Any] = {
        "cls": cls, "new": cls.__new__, "set_on": object.__setattr__,
        "known": frozenset(attributes), "_NotFast": _NotFast, "Decimal": Decimal,
        "_DECIMAL": _DECIMAL, "check_computed": check_computed,
    }
    lines = [
        "def fast(data):",
        "    if type(data) is not dict:",
        "        raise _NotFast",
        "    get = data.get",
        "    record = new(cls)",
        "    set_field = set_on.__get__(record)",
        "    found = 0",
    ]
    computes = False
    for index, info in enumerate(fields_of(cls)):
        name = repr(info.name)
        value_reader = names[f"read_{index}"] = _fast_field_reader(info)
        # The first tests of _text and _decimal_from_json, without their call.
        if value_reader is _text:
            value = f"value if type(value) is str and value else read_{index}(value)"
        elif value_reader is _decimal_from_json:
            value = (f"Decimal(value) if type(value) is str and _DECIMAL(value) "
                     f"else read_{index}(value)")
        else:
            value = f"read_{index}(value)"
        lines.append(f"    value = get({name})")
        lines.append("    if value is None:")
        if info.required:
            lines.append("        raise _NotFast")
        elif info.default is not attrs.NOTHING:
            names[f"default_{index}"] = info.default
            lines.append(f"        set_field({name}, default_{index})")
        else:
            factory: Any = attributes[info.name].default  # an attrs.Factory
            names[f"compute_{index}"] = factory.factory
            argument = "record" if factory.takes_self else ""
            lines.append(f"        set_field({name}, compute_{index}({argument}))")
            computes = True
        indent = "    " if info.required else "        "
        if not info.required:
            lines.append("    else:")
        lines.append(f"{indent}set_field({name}, {value})")
        lines.append(f"{indent}found += 1")
    lines.append("    if found != len(data) and not known.issuperset(data):")
    lines.append("        raise _NotFast")
    if computes:
        lines.append("    check_computed(record)")
    lines.append("    record._check()")
    lines.append("    return record")
    source = "\n".join(lines)
    exec(compile(source, f"<fast JSON reader of {cls.__qualname__}>", "exec"), names)
    fast: _Reader = names["fast"]
    return fast


def _fast_field_reader(info: FieldInfo) -> _Reader:
    base = info.shape.base
    if is_record(base):
        _reader(base)
        # A class that holds itself finds only the reader it is being made with.
        one = _FAST.get(base) or _reader(base)
    else:
        one = _ruled(base, _value_reader(base), value_rule(info))
    if not info.shape.many:
        return one
    least = min_items(info)

    def read_many(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise _NotFast
        items = tuple(map(one, value))
        if len(items) < least:
            raise _NotFast
        return items

    return read_many


def _field_reader(info: FieldInfo) -> _Reader:
    base = info.shape.base
    read_one = _ruled(base, _value_reader(base), value_rule(info))
    if not info.shape.many:
        return read_one
    least = min_items(info)

    def read_many(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise CanonicalJSONError("", f"expected a JSON array, got {_show(value)}")
        items = []
        broken = False
        for index, item in enumerate(value):
            try:
                items.append(read_one(item))
            except _RuleBroken as exc:
                items.append(exc.value)
                broken = True
            except CanonicalJSONError as exc:
                raise exc.within(f"[{index}]") from None
        if broken or len(items) < least:
            raise _RuleBroken(tuple(items))
        return tuple(items)

    return read_many


def _ruled(base: type, read: _Reader, rule: Callable[[Any], bool] | None) -> _Reader:
    """``read``, then the field's rule on what it read (see _RuleBroken)."""
    if rule is None:
        return read
    if issubclass(base, enum.Enum) and all(rule(member) for member in base):
        return read  # it gives a member, and every member passes
    if read is _decimal_from_json and rule is Decimal.is_finite:
        return read  # its pattern admits finite numbers only
    if read is _string and rule is bool:
        return _text  # most fields: one call instead of two
    ruled_read = read
    ruled_rule = rule

    def read_ruled(value: Any) -> Any:
        result = ruled_read(value)
        if ruled_rule(result):
            return result
        raise _RuleBroken(result)

    return read_ruled


def _text(value: Any) -> str:
    """Non-empty text; empty text breaks the rule, anything else is an error."""
    if type(value) is str and value:
        return value
    text = _string(value)
    if text:
        return text  # a str subclass, from a Python caller
    raise _RuleBroken(text)


def _value_reader(base: type) -> _Reader:
    if is_record(base):
        return _reader(base)
    if issubclass(base, enum.Enum):
        return _enum_reader(base)
    found = _SCALAR_READERS.get(base)
    if found is None:
        raise TypeError(f"no JSON reading for {base!r}")  # a model class outside shape.py
    return found


def _bool_from_json(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CanonicalJSONError("", f"expected true or false, got {_show(value)}")
    return value


def _int_from_json(value: Any) -> int:
    # JSON Schema (and JSON itself) calls 2.0 an integer; the published schema says
    # "type": "integer", so an integral number written with a fraction is one too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CanonicalJSONError("", f"expected a whole number, got {_show(value)}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise CanonicalJSONError("", f"expected a string, got {_show(value)}")
    return value


def _bytes_value(value: Any) -> bytes:
    return _bytes_from_json(_string(value))


def _date_from_json(value: Any) -> dt.date:
    return _parse(dt.date.fromisoformat, _DATE, "a date YYYY-MM-DD", _string(value))


def _datetime_from_json(value: Any) -> dt.datetime:
    return _parse(dt.datetime.fromisoformat, _DATETIME, _DATETIME_HINT, _string(value))


def _time_from_json(value: Any) -> dt.time:
    return _parse(dt.time.fromisoformat, _TIME, "a time HH:MM:SS", _string(value))


def _date_or_datetime_from_json(value: Any) -> dt.date:
    text = _string(value)
    if "T" in text:
        return _datetime_from_json(text)
    return _parse(dt.date.fromisoformat, _DATE, "a date or a date and time", text)


_DATETIME_HINT = "a date and time YYYY-MM-DDTHH:MM:SS with an optional offset"


def _decimal_from_json(value: Any) -> Decimal:
    if type(value) is str and _DECIMAL(value):
        return Decimal(value)
    if isinstance(value, float):
        raise CanonicalJSONError(
            "", f"expected a decimal string, got {_show(value)} (a float would lose precision)"
        )
    if not isinstance(value, str) or not _NUMBER(value):
        raise CanonicalJSONError(
            "", f'expected a decimal string such as "12.50", got {_show(value)}'
        )
    if _DECIMAL(value):
        return Decimal(value)  # a str subclass, from a Python caller
    raise CanonicalJSONError(
        "", f"the number {value!r} is out of range or form: at most {MAX_DIGITS_AROUND_POINT} "
        'digits before and after the decimal point in plain notation ("0.0001"), or one '
        f"digit before the point and an exponent from E-20 (with at most 20 decimals) to "
        f'E+{MAX_DIGITS_AROUND_POINT - 1} ("1.5E+3", "1.2345E-7")')


def _enum_reader(base: type[enum.Enum]) -> _Reader:
    # The members by value: what base(value) looks up first, without its Python frames.
    by_value = {member.value: member for member in base}

    def read(value: Any) -> enum.Enum:
        try:
            return by_value[value]
        except (KeyError, TypeError):  # not a value, or not even hashable
            return _enum_from_json(base, value)

    return read


def _enum_from_json(base: type[enum.Enum], value: Any) -> enum.Enum:
    try:
        return base(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in base)
        raise CanonicalJSONError("", f"expected one of {allowed}, got {_show(value)}") from None


def _bytes_from_json(value: str) -> bytes:
    # The pattern first, so the reader refuses what the published schema refuses.
    if _BASE64(value):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:  # pragma: no cover - the pattern admits only valid base64
            pass
    raise CanonicalJSONError("", "expected base64 text (RFC 4648, with padding)")


def _parse(parser: Callable[[str], T], pattern: Callable[[str], Any], hint: str, value: str) -> T:
    # fromisoformat alone accepts more (e.g. "20240101"); the pattern keeps one spelling.
    if pattern(value):
        try:
            return parser(value)
        except ValueError:
            pass
    raise CanonicalJSONError("", f"expected {hint}, got {value!r}")


_DECIMAL = re.compile(DECIMAL_PATTERN).fullmatch
# Any number a writer may mean, to tell "out of range" from "not a number" in errors.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?").fullmatch
_DATE = re.compile(DATE_PATTERN).fullmatch
_BASE64 = re.compile(BASE64_PATTERN).fullmatch
_DATETIME = re.compile(DATETIME_PATTERN).fullmatch
_TIME = re.compile(f"^{TIME_PATTERN}$").fullmatch

_SCALAR_READERS: dict[type, _Reader] = {
    Decimal: _decimal_from_json,
    bool: _bool_from_json,
    int: _int_from_json,
    str: _string,
    bytes: _bytes_value,
    dt.date: _date_from_json,
    dt.datetime: _datetime_from_json,
    dt.time: _time_from_json,
    DateOrDateTime: _date_or_datetime_from_json,
}


def _read_kind(data: Mapping[str, Any]) -> DocumentKind:
    text = data.get("document")
    if text is None:
        raise CanonicalJSONError("document", "required field is missing")
    kind = _KINDS_BY_TEXT.get(text) if type(text) is str else None
    if kind is not None:
        return kind
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


# The kinds with a canonical JSON form, by their text: the common case in one look-up.
_KINDS_BY_TEXT: dict[str, DocumentKind] = {kind.value: kind for kind in DOCUMENT_CLASSES}


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
    # Built in one go; only an object that lost a pair to a repeated key is walked.
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise CanonicalJSONError(ROOT, f"duplicate key {key!r} in a JSON object")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a repeated key")


def _refuse_constant(name: str) -> Any:
    raise CanonicalJSONError(ROOT, f"{name} is not a number JSON allows")
