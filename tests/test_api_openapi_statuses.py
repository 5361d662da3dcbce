"""Statuses the handlers really answer are in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import OPERATOR, REQUEST_LIMIT, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def test_operator_actions_document_the_413_they_answer(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("O-1"))
        assert status == 202
        big = b'{"reason": "' + b"x" * (REQUEST_LIMIT + 10) + b'"}'
        answered = {}
        for action in ("retry", "cancel", "reroute"):
            status, _, _problem = await gateway.call(
                "POST", f"/api/v1/messages/{body['id']}/{action}", token=OPERATOR, data=big)
            answered[action] = status
        assert answered == {"retry": 413, "cancel": 413, "reroute": 413}
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
        documented = {
            action: "413" in document["paths"][f"/api/v1/messages/{{id}}/{action}"]["post"][
                "responses"]
            for action in ("retry", "cancel", "reroute")
        }
        assert documented == {"retry": True, "cancel": True, "reroute": True}


async def test_every_scoped_operation_documents_the_503_it_may_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_REVIEW_UNSET", raising=False)
    extra = """
[api.tokens.erp]
token_env = "TEST_REVIEW_UNSET"
scopes = ["submit"]
"""
    async with running_gateway(tmp_path, extra=extra, gateway_token=False) as gateway:
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
        calls = {
            ("get", "/api/v1/messages"): "/api/v1/messages",
            ("get", "/api/v1/messages/{id}"): "/api/v1/messages/01M8KSPF3R25W6S3NPDX56TZQK",
            ("get", "/api/v1/inbox"): "/api/v1/inbox",
            ("post", "/api/v1/inbox/{id}/ack"): "/api/v1/inbox/01M8KSPF3R25W6S3NPDX56TZQK/ack",
            ("post", "/api/v1/messages/{id}/retry"):
                "/api/v1/messages/01M8KSPF3R25W6S3NPDX56TZQK/retry",
        }
        undocumented = []
        for (method, template), path in calls.items():
            status, _, problem = await gateway.call(method.upper(), path, token=None)
            assert status == 503, (path, status, problem)
            if "503" not in document["paths"][template][method]["responses"]:
                undocumented.append(f"{method.upper()} {template}")
        assert undocumented == []
