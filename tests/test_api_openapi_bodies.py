"""What the OpenAPI document allows in a request, the gateway accepts.

Found by fuzzing the running API against its document: bodies and parameters the
document called valid were refused with 400.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from api_support import OPERATOR, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_api_messages import check_against_document

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


@pytest.mark.parametrize(("action", "component", "body"), [
    ("cancel", "OperatorRequest", {"reason": ""}),
    ("retry", "OperatorRequest", {"reason": "  "}),
    ("cancel", "OperatorRequest", {"reason": "on hold", "actor": ""}),
    ("reroute", "RerouteRequest", {"reason": "outage", "format": ""}),
    ("reroute", "RerouteRequest", {"reason": "outage", "channel": " \t"}),
])
async def test_blank_operator_text_is_refused_by_the_document_too(
    tmp_path: Path, action: str, component: str, body: dict[str, str],
) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, submitted = await gateway.call("POST", SUBMIT, data=invoice_json("B-1"))
        assert status == 202
        status, _, problem = await gateway.call(
            "POST", f"/api/v1/messages/{submitted['id']}/{action}", token=OPERATOR,
            json_body=body)
        assert status == 400, problem
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
    with pytest.raises(jsonschema.ValidationError):
        check_against_document(document, component, body)
    check_against_document(document, component, {**body, **{k: "x" for k in body}})


async def test_the_cursor_parameter_is_documented_as_the_gateway_reads_it(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        for number in range(2):
            status, _, _ = await gateway.call("POST", SUBMIT, data=invoice_json(f"C-{number}"))
            assert status == 202
        _, _, page = await gateway.call("GET", "/api/v1/messages", params={"limit": "1"})
        cursor = page["next_cursor"]
        assert cursor
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
        for path in ("/api/v1/messages", "/api/v1/inbox"):
            status, _, _ = await gateway.call("GET", path, params={"cursor": cursor})
            assert status == 200
            status, _, problem = await gateway.call("GET", path, params={"cursor": "x"})
            assert status == 400, problem
            parameters = document["paths"][path]["get"]["parameters"]
            schema = next(p for p in parameters if p["name"] == "cursor")["schema"]
            jsonschema.validate(cursor, schema)
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate("x", schema)


@pytest.mark.parametrize(("path", "name"), [
    ("/api/v1/messages", "business_state"), ("/api/v1/messages", "agency"),
    ("/api/v1/messages", "business_key"), ("/api/v1/messages", "channel"),
    ("/api/v1/inbox", "agency"),
])
async def test_text_filters_are_documented_without_the_nul_they_refuse(
    tmp_path: Path, path: str, name: str,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("GET", path, params={name: "a\x00b"})
        assert status == 400, problem
        status, _, _ = await gateway.call("GET", path, params={name: "a b"})
        assert status == 200
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
    parameters = document["paths"][path]["get"]["parameters"]
    schema = next(p for p in parameters if p["name"] == name)["schema"]
    jsonschema.validate("a b", schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("a\x00b", schema)
