"""The JSON reader checks each value as it reads it, and the model then skips those checks.

Nothing it refuses may get through that way, and every error must read as the
model's own check words it: the rule a value breaks, at the first field (in
declaration order) that breaks one, and only once nothing else is wrong with
the JSON itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest

from gateway.model import Invoice, Period
from gateway.model.json import CanonicalJSONError, from_json, record_from_json, to_json
from gateway.model.record import FieldProblem, FieldValueError, Record, build_checked
from gateway.model.samples import example_invoice

Change = Callable[[dict[str, Any]], object]


def invoice_data() -> dict[str, Any]:
    return to_json(example_invoice())


def refused(change: Change) -> str:
    data = invoice_data()
    change(data)
    with pytest.raises(CanonicalJSONError) as caught:
        from_json(data)
    return str(caught.value)


def model_refuses(make: Callable[[], object]) -> str:
    """The model's own words for a fault, as ``Class.field: problem``."""
    with pytest.raises(FieldProblem) as caught:
        make()
    return f"{caught.value.field}: {caught.value.problem}"


def test_each_rule_is_worded_as_the_model_words_it() -> None:
    invoice = example_invoice()
    line = invoice.lines[0]
    assert refused(lambda d: d.update(currency="eur")) == model_refuses(
        lambda: attrs.evolve(invoice, currency="eur"))
    assert refused(lambda d: d.update(buyer_reference="")) == model_refuses(
        lambda: attrs.evolve(invoice, buyer_reference=""))
    assert refused(lambda d: d.update(lines=[])) == model_refuses(
        lambda: attrs.evolve(invoice, lines=()))
    assert refused(lambda d: d.update(notes=["fine", ""])) == model_refuses(
        lambda: attrs.evolve(invoice, notes=("fine", "")))
    # Deeper down the path grows, the words stay the model's.
    assert refused(lambda d: d["lines"][0].update(vat_rate="-0.00")) == (
        "lines[0]." + model_refuses(lambda: attrs.evolve(line, vat_rate=Decimal("-0.00"))))
    address = invoice.buyer.address
    assert address is not None
    assert refused(lambda d: d["buyer"]["address"].update(country_code="nl")) == (
        "buyer.address." + model_refuses(lambda: attrs.evolve(address, country_code="nl")))


def test_the_first_broken_rule_in_field_order_is_named() -> None:
    def two_faults(data: dict[str, Any]) -> None:
        data["notes"] = [""]  # declared after currency, comes first in the JSON
        data["currency"] = "euro"
        data.update(notes=data.pop("notes"), currency=data.pop("currency"))

    assert refused(two_faults).startswith("currency: expected an ISO 4217 currency code")


@pytest.mark.parametrize("later", [
    lambda d: d["lines"][2]["quantity"].update(value=1.5),
    lambda d: d.update(received_date="yesterday"),
    lambda d: d.pop("totals"),
])
def test_a_fault_in_the_json_comes_before_any_broken_rule(later: Change) -> None:
    # The invoice's own rules are checked once all its fields are read (a rule a
    # line breaks is a fault in reading the invoice's lines, so not one of these).
    def faults(data: dict[str, Any]) -> None:
        data["currency"] = "eur"
        data["notes"] = [""]
        later(data)

    message = refused(faults)
    assert "ISO 4217" not in message
    assert "must not be empty" not in message


def test_cross_field_rules_still_run() -> None:
    def backwards(data: dict[str, Any]) -> None:
        data["invoice_period"] = {"start": "2024-03-31", "end": "2024-03-01"}

    assert refused(backwards) == (
        "invoice_period.end: ends (2024-03-01) before it starts (2024-03-31)")
    with pytest.raises(CanonicalJSONError, match="a period needs a start date"):
        record_from_json(Period, {})


def test_a_computed_default_is_still_checked() -> None:
    computed = from_json(invoice_data())
    assert isinstance(computed, Invoice)
    assert computed == example_invoice()

    @attrs.frozen(kw_only=True)
    class Broken(Record):
        amount: Decimal = attrs.field(default=attrs.Factory(lambda: Decimal("NaN")))

    with pytest.raises(FieldValueError, match=r"Broken\.amount: must be a finite number"):
        build_checked(Broken, {})
    assert build_checked(Broken, {"amount": Decimal("1.00")}).amount == Decimal("1.00")


def test_a_class_whose_literal_default_breaks_a_rule_gets_the_full_check() -> None:
    @attrs.frozen(kw_only=True)
    class Odd(Record):
        name: str = ""

    with pytest.raises(FieldValueError, match=r"Odd\.name: must not be empty"):
        build_checked(Odd, {})
    assert build_checked(Odd, {"name": "x"}).name == "x"


def test_a_refused_build_leaves_no_object_marked_as_checked() -> None:
    from gateway.model import record

    with pytest.raises(FieldValueError):
        build_checked(Period, {"start": dt.date(2024, 3, 2), "end": dt.date(2024, 3, 1)})
    assert not record._PRECHECKED
    # And the usual construction checks every field as before.
    with pytest.raises(FieldValueError, match=r"Invoice\.currency"):
        attrs.evolve(example_invoice(), currency="eur")
