"""Half a UTF-16 surrogate pair in text is refused by the reader and the schema.

JSON may escape one alone ("\\ud800"); no UTF-8 text and no XML document can
carry it, so it is refused at intake with the field named instead of failing
an encoder (or being sent on as is). Whole pairs (escaped emoji) are text.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from api_support import ERP, running_gateway
from pipeline_support import AGENCY_OIN

from gateway.model import Invoice
from gateway.model.json import CanonicalJSONError, loads, parse_json, to_json
from gateway.model.samples import example_invoice

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "canonical" / "invoice.schema.json"


def invoice() -> dict[str, Any]:
    return copy.deepcopy(to_json(example_invoice()))


def with_seller_name(escaped: str) -> str:
    """The example invoice as JSON text, the seller's name starting with ``escaped``."""
    return json.dumps(invoice()).replace('"name": "', f'"name": "{escaped}', 1)


@pytest.mark.parametrize("escaped", ["\\ud800", "\\uDFFF", "\\ude00\\ud83d"])
def test_loads_refuses_a_lone_surrogate_naming_the_field(escaped: str) -> None:
    with pytest.raises(CanonicalJSONError, match=r"^seller\.name: .*U\+D[89A-F]"):
        loads(with_seller_name(escaped))


def test_loads_refuses_an_encoded_surrogate_in_bytes() -> None:
    text = json.dumps(invoice(), ensure_ascii=False).replace('"name": "', '"name": "\ud800', 1)
    with pytest.raises(CanonicalJSONError):
        parse_json(text.encode("utf-8", "surrogatepass"))


def test_a_surrogate_pair_is_one_character_and_welcome() -> None:
    document = loads(with_seller_name("\\ud83d\\ude00"))
    assert isinstance(document, Invoice)
    assert document.seller.name is not None
    assert document.seller.name.startswith("\U0001f600")


def test_the_published_schema_refuses_a_lone_surrogate() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))
    data = invoice()
    data["seller"]["name"] = "\ud800Naam"
    assert [list(e.absolute_path) for e in validator.iter_errors(data)] == [["seller", "name"]]
    data["seller"]["name"] = "\U0001f600Naam"
    assert validator.is_valid(data)


@pytest.mark.parametrize("invoice_format", ["canonical:invoice:1", "peppol-bis:invoice:3.0"])
async def test_submit_refuses_a_lone_surrogate_at_intake(
    tmp_path: Path, invoice_format: str,
) -> None:
    async with running_gateway(tmp_path, invoice_format=invoice_format) as gateway:
        status, _, body = await gateway.call(
            "POST", f"/api/v1/outbound/{AGENCY_OIN}", data=with_seller_name("\\ud800").encode(),
            token=ERP)
    assert status == 422, body
    assert body["stage"] == "intake"
    assert body["errors"][0]["field"] == "$.seller.name"
