"""The JSON reader sets the fields of a plain model class itself; it must make what the class makes.

A class whose ``__init__`` does more than set its fields (a validator, a
converter, a hash cache) is read through ``__init__`` as before, and every other object
must come out equal, of the same types, with the same errors.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest

from gateway.model import Invoice, InvoiceLine, Quantity
from gateway.model.json import CanonicalJSONError, from_json, loads, record_from_json, to_json
from gateway.model.record import Record, settable
from gateway.model.samples import example_documents, example_invoice


def _types(value: Any) -> Any:
    """The value with the type of every part of it, to compare beyond ==."""
    if attrs.has(type(value)):
        return type(value), tuple(
            (field.name, _types(getattr(value, field.name))) for field in attrs.fields(type(value)))
    if type(value) is tuple:
        return tuple, tuple(_types(item) for item in value)
    return type(value), repr(value)


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: type(d).__name__)
def test_every_sample_reads_back_to_the_same_values_and_types(document: Any) -> None:
    back = loads(json.dumps(to_json(document)))
    assert _types(back) == _types(document)


def test_keys_in_any_order_and_null_optional_fields_read_the_same() -> None:
    data = to_json(example_invoice())
    reordered = dict(reversed(list(data.items())))
    reordered["payee"] = None
    reordered["lines"] = [dict(reversed(list(line.items()))) for line in data["lines"]]
    reordered["lines"][1]["period"] = None
    assert _types(from_json(reordered)) == _types(example_invoice())


def test_a_computed_default_sees_the_fields_declared_before_it() -> None:
    data = to_json(example_invoice())
    for line in data["lines"]:
        del line["net_amount"]
    invoice = from_json(data)
    assert isinstance(invoice, Invoice)
    assert [line.net_amount for line in invoice.lines] == [
        line.recomputed().net_amount for line in invoice.lines]
    assert all(type(line.net_amount) is Decimal for line in invoice.lines)


def test_a_fault_after_a_computed_default_is_still_the_json_fault() -> None:
    data = to_json(example_invoice())
    del data["lines"][0]["net_amount"]
    data["lines"][0]["vat_rate"] = 21.0
    with pytest.raises(CanonicalJSONError) as caught:
        from_json(data)
    assert caught.value.path == "lines[0].vat_rate"
    assert "a float would lose precision" in caught.value.problem


def test_the_model_classes_are_read_by_setting_their_fields() -> None:
    assert settable(Invoice)
    assert settable(InvoiceLine)
    assert settable(Quantity)


def test_a_class_whose_init_does_more_is_made_through_init() -> None:
    seen: list[str] = []

    def remember(_record: object, _attribute: object, value: str) -> None:
        seen.append(value)

    @attrs.frozen(kw_only=True)
    class Checked(Record):
        name: str = attrs.field(validator=remember)

    def upper(text: str) -> str:
        return text.upper()

    @attrs.frozen(kw_only=True)
    class Converted(Record):
        name: str = attrs.field(converter=upper)

    @attrs.define(kw_only=True, slots=False, frozen=True)
    class Unslotted(Record):
        name: str

    @attrs.frozen(kw_only=True, cache_hash=True)
    class Hashed(Record):
        name: str

    assert not settable(Checked)
    assert not settable(Converted)
    assert not settable(Hashed)
    assert hash(record_from_json(Hashed, {"name": "x"})) == hash(Hashed(name="x"))
    assert record_from_json(Checked, {"name": "x"}) == Checked(name="x")
    assert seen == ["x", "x"]
    assert record_from_json(Converted, {"name": "x"}).name == "X"
    assert record_from_json(Unslotted, {"name": "x"}) == Unslotted(name="x")
    with pytest.raises(CanonicalJSONError, match=r"^other: unknown field"):
        record_from_json(Unslotted, {"name": "x", "other": 1})
