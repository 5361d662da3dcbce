"""The OpenAPI document: valid OpenAPI 3.1, and exactly the routes the app serves."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from api_support import running_gateway
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from test_api_messages import DESK, DeskPlugin, check_against_document

from gateway.api.openapi import openapi_path
from gateway.api.schemas import canonical_name, embedded
from gateway.model.json import to_json
from gateway.model.jsonschema import json_schema, schema_kinds
from gateway.model.samples import example_invoice


async def test_the_document_is_valid_and_matches_the_routes(tmp_path: Path) -> None:
    from api_support import TOKENS

    async with running_gateway(tmp_path, extra=TOKENS + DESK,
                               plugins=[("desk", DeskPlugin())]) as gateway:
        status, headers, document = await gateway.call("GET", "/openapi.json", token=None)
        runner = gateway.service._runner
        assert runner is not None
        served = {
            (route.method.upper(), openapi_path(route.resource.canonical))
            for route in runner.app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    validate(document)  # the OpenAPI 3.1 meta-schema, and the references resolve
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items() for method in item
    }
    assert served == documented
    assert ("POST", "/api/v1/channels/desk/queue/{item}/done") in documented
    assert document["openapi"] == "3.1.0"

    submit = document["paths"]["/api/v1/outbound/{agency_oin}"]["post"]
    assert set(submit["responses"]) >= {"200", "202", "400", "401", "403", "413", "422"}
    assert submit["responses"]["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"}
    options = submit["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert len(options) == len(schema_kinds())
    for kind in schema_kinds():
        # The published schema file, not a copy that could drift from the model.
        name = canonical_name(kind.value)
        assert document["components"]["schemas"][name] == \
            embedded(json_schema(kind), f"/components/schemas/{name}")
    scheme = document["components"]["securitySchemes"]["bearerToken"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert document["paths"]["/health"]["get"]["security"] == []

    # The component schemas are strict enough to catch a wrong answer, and the
    # embedded canonical schemas still resolve their own definitions.
    with pytest.raises(jsonschema.ValidationError):
        check_against_document(document, "SubmitAnswer", {"id": 5})
    check_against_document(document, "canonical-invoice", to_json(example_invoice()))
    broken = to_json(example_invoice())
    broken["issue_date"] = "29-11-2026"
    with pytest.raises(jsonschema.ValidationError):
        check_against_document(document, "canonical-invoice", broken)


def test_the_validator_refuses_a_broken_document() -> None:
    with pytest.raises(OpenAPIValidationError):
        validate({"openapi": "3.1.0", "info": {"title": "x"}, "paths": {}})
