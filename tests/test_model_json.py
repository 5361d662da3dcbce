"""Canonical JSON: layout, exact round trips, and errors that name the JSON path at fault."""

from __future__ import annotations

import copy
import json
from decimal import Decimal as D
from typing import Any

import attrs
import pytest

from gateway.errors import GatewayError
from gateway.model import CanonicalDocument, Invoice, Quantity, kind_of
from gateway.model.json import (
    CanonicalJSONError,
    decimal_text,
    dumps,
    from_json,
    loads,
    record_from_json,
    record_to_json,
    to_json,
)
from gateway.model.samples import (
    example_credit_note,
    example_documents,
    example_invoice,
    example_order,
    example_timecard,
)
from strategies import assert_same


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: kind_of(d).value)
def test_examples_round_trip_exactly(document: CanonicalDocument) -> None:
    assert_same(from_json(to_json(document)), document)
    assert_same(loads(dumps(document)), document)
    assert_same(loads(dumps(document, indent=None).encode()), document)


def test_invoice_layout() -> None:
    data = to_json(example_invoice())
    assert list(data)[:5] == ["document", "schema_version", "number", "issue_date", "type"]
    assert data["document"] == "invoice"
    assert data["schema_version"] == 1
    assert data["type"] == "debit"
    assert data["issue_date"] == "2024-03-01"
    assert data["proposal"] is False
    assert data["lines"][0]["price"]["amount"] == "25.00"  # scale kept
    assert data["lines"][1]["quantity"] == {"value": "2.5", "unit_code": "HUR"}
    assert data["lines"][2]["price"]["amount"] == "12.345"
    assert data["lines"][0]["vat_category"] == "S"
    assert data["tax_breakdown"][1] == {
        "category": "S", "rate": "9", "taxable_amount": "39.54", "tax_amount": "3.56",
    }
    assert data["totals"]["payable"] == "338.00"
    assert data["attachments"][0]["content"] == "JVBERi0xLjQgZXhhbXBsZQ=="
    # None and empty tuples are left out
    assert "tax_currency" not in data
    assert "other_references" not in data
    assert "allowance_charges" not in data["lines"][0]


def test_credit_note_layout() -> None:
    data = to_json(example_credit_note())
    assert data["document"] == "credit-note"
    assert data["type"] == "credit"


def test_datetimes_and_either_dates_keep_their_form() -> None:
    data = to_json(example_timecard())
    assert data["submitted_at"] == "2014-10-09T16:30:16"
    assert data["intervals"][0]["start"] == "2014-03-17"
    assert data["intervals"][3]["start"] == "2014-03-22T22:00:00"
    assert data["intervals"][3]["approval"]["approved_at"] == "2014-03-24T09:00:00+00:00"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12.50", "12.50"),
        ("0", "0"),
        ("-0.00", "-0.00"),
        ("1E-7", "0.0000001"),  # str() would write 1E-7
        ("1E+2", "1E+2"),  # plain 100 would lose the exponent
        ("123456789012345678901234567.8", "123456789012345678901234567.8"),
    ],
)
def test_decimal_text_is_exact(value: str, text: str) -> None:
    assert decimal_text(D(value)) == text
    assert str(D(decimal_text(D(value)))) == str(D(value))


def test_missing_optional_fields_take_defaults() -> None:
    data = to_json(example_invoice())
    del data["proposal"]
    del data["lines"][0]["net_amount"]  # computed again
    invoice = from_json(data)
    assert isinstance(invoice, Invoice)
    assert invoice.proposal is False
    assert str(invoice.lines[0].net_amount) == "100.00"


def test_null_is_absent() -> None:
    data = to_json(example_invoice())
    data["tax_currency"] = None
    data["notes"] = None
    invoice = from_json(data)
    assert isinstance(invoice, Invoice)
    assert invoice.tax_currency is None
    assert invoice.notes == ()


def test_record_helpers_work_on_parts() -> None:
    quantity = Quantity(value=D("1E+2"), unit_code="EA")
    data = record_to_json(quantity)
    assert data == {"value": "1E+2", "unit_code": "EA"}
    assert str(record_from_json(Quantity, data).value) == "1E+2"


# -- errors -------------------------------------------------------------------------------------


def error_of(data: Any) -> str:
    with pytest.raises(CanonicalJSONError) as caught:
        from_json(data)
    return str(caught.value)


def invoice_json() -> dict[str, Any]:
    return copy.deepcopy(to_json(example_invoice()))


def test_float_amount_names_its_path() -> None:
    data = invoice_json()
    data["lines"][2]["quantity"]["value"] = 1.5
    assert error_of(data) == (
        "lines[2].quantity.value: expected a decimal string, got 1.5 "
        "(a float would lose precision)"
    )


def test_integer_amount_is_refused() -> None:
    data = invoice_json()
    data["totals"]["payable"] = 338
    assert error_of(data) == 'totals.payable: expected a decimal string such as "12.50", got 338'


@pytest.mark.parametrize("text", ["1,50", " 1.50", "1.", ".5", "NaN", "1_000", "+1"])
def test_malformed_decimal_strings_are_refused(text: str) -> None:
    data = invoice_json()
    data["lines"][0]["price"]["amount"] = text
    assert error_of(data).startswith("lines[0].price.amount: expected a decimal string")


def test_error_is_a_gateway_error() -> None:
    assert issubclass(CanonicalJSONError, GatewayError)
    assert issubclass(CanonicalJSONError, ValueError)


def test_unknown_field_suggests_the_right_one() -> None:
    data = invoice_json()
    data["lines"][1]["quantiy"] = data["lines"][1].pop("quantity")
    assert error_of(data) == "lines[1].quantiy: unknown field; did you mean 'quantity'?"


def test_missing_required_field() -> None:
    data = invoice_json()
    del data["seller"]
    assert error_of(data) == "seller: required field is missing"
    data = invoice_json()
    data["lines"][0]["item"]["name"] = None
    assert error_of(data) == "lines[0].item.name: a value is required, got null"


def test_model_rule_errors_carry_the_path() -> None:
    data = invoice_json()
    data["currency"] = "eur"
    assert error_of(data) == (
        "currency: expected an ISO 4217 currency code of three capital letters, e.g. EUR, "
        "got 'eur'"
    )
    data = invoice_json()
    data["lines"][0]["price"]["amount"] = "-1.00"
    assert error_of(data) == "lines[0].price.amount: must not be negative, got -1.00"
    data = invoice_json()
    data["invoice_period"] = {"start": "2024-02-01", "end": "2024-01-01"}
    assert error_of(data) == "invoice_period.end: ends (2024-01-01) before it starts (2024-02-01)"
    data = invoice_json()
    data["lines"] = []
    assert error_of(data) == "lines: needs at least one item"
    data = invoice_json()
    data["number"] = ""
    assert error_of(data).startswith("number: must not be empty")


def test_wrong_json_types() -> None:
    data = invoice_json()
    data["lines"] = {"0": data["lines"][0]}
    assert error_of(data).startswith("lines: expected a JSON array, got {")
    data = invoice_json()
    data["seller"] = "Leverancier"
    assert error_of(data) == 'seller: expected a JSON object, got "Leverancier"'
    data = invoice_json()
    data["proposal"] = "false"
    assert error_of(data) == 'proposal: expected true or false, got "false"'
    data = invoice_json()
    data["number"] = 42
    assert error_of(data) == "number: expected a string, got 42"


def test_bad_enum_lists_the_allowed_values() -> None:
    data = invoice_json()
    data["lines"][0]["vat_category"] = "s"
    assert error_of(data) == (
        "lines[0].vat_category: expected one of 'S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', "
        "'M', got \"s\""
    )


@pytest.mark.parametrize("text", ["20240301", "2024-3-1", "2024-02-30", "2024-03-01T00:00:00"])
def test_bad_dates(text: str) -> None:
    data = invoice_json()
    data["issue_date"] = text
    assert error_of(data) == f"issue_date: expected a date YYYY-MM-DD, got {text!r}"


def test_bad_datetime() -> None:
    data = to_json(example_timecard())
    data["submitted_at"] = "2014-10-09 16:30"
    assert error_of(data).startswith("submitted_at: expected a date and time")


def test_bad_base64() -> None:
    data = invoice_json()
    data["attachments"][0]["content"] = "not base64!"
    assert error_of(data) == (
        "attachments[0].content: expected base64 text (RFC 4648, with padding)"
    )


def test_document_and_version_are_checked() -> None:
    data = invoice_json()
    del data["document"]
    assert error_of(data) == "document: required field is missing"
    data = invoice_json()
    data["document"] = "factuur"
    assert error_of(data).startswith("document: expected one of 'invoice', 'credit-note'")
    data = invoice_json()
    data["document"] = "invoice-response"  # an invoice body under another kind's name
    assert error_of(data) == "type: unknown field"
    data = invoice_json()
    data["schema_version"] = 2
    assert error_of(data) == "schema_version: this gateway reads version 1, got 2"
    data = invoice_json()
    del data["schema_version"]
    assert error_of(data) == "schema_version: required field is missing"
    assert error_of([]) == "(root): expected a JSON object, got []"


def test_document_and_type_must_agree() -> None:
    data = invoice_json()
    data["document"] = "credit-note"
    assert error_of(data).startswith("type: \"debit\" does not match document 'credit-note'")


def test_document_class_must_match() -> None:
    data = to_json(example_order())
    data["document"] = "timecard"
    assert error_of(data).startswith("number: unknown field")


def test_loads_refuses_bad_json() -> None:
    with pytest.raises(CanonicalJSONError, match=r"\(root\): not valid JSON: .* line 1 column"):
        loads("{")
    with pytest.raises(CanonicalJSONError, match="duplicate key 'number'"):
        loads('{"number": "1", "number": "2"}')
    with pytest.raises(CanonicalJSONError, match="NaN is not a number JSON allows"):
        loads('{"x": NaN}')


def test_dumps_is_plain_json() -> None:
    text = dumps(example_invoice())
    assert json.loads(text)["document"] == "invoice"
    assert "€" in dumps(attrs.evolve(example_invoice(), notes=("€ 5",)))  # not \\u20ac


def test_an_integral_number_written_with_a_fraction_is_a_whole_number() -> None:
    """The published schema says "type": "integer", which JSON Schema takes 2.0 for too."""
    import jsonschema

    from gateway.kinds import DocumentKind
    from gateway.model.jsonschema import json_schema
    from gateway.model.samples import example_staffing_order

    data = copy.deepcopy(to_json(example_staffing_order()))
    data["position_quantity"] = 2.0
    assert jsonschema.Draft202012Validator(json_schema(DocumentKind.STAFFING_ORDER)).is_valid(data)
    assert from_json(data).position_quantity == 2  # type: ignore[union-attr]
    data["position_quantity"] = 2.5
    with pytest.raises(CanonicalJSONError, match="position_quantity: expected a whole number"):
        from_json(data)
