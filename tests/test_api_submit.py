"""Submitting through the HTTP API: stored before the answer, idempotent, refusals explained."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from api_support import (
    ADMIN,
    ERP,
    READER,
    REQUEST_LIMIT,
    invoice_json,
    running_gateway,
)
from pipeline_support import AGENCY_OIN, document_json

from gateway.kinds import Direction
from gateway.store import TransportState
from plugins.ubl_ohnl.samples import sample_order_response

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


def edited_invoice(edit: Any) -> bytes:
    document = json.loads(invoice_json())
    edit(document)
    return json.dumps(document).encode()


async def test_submit_answers_202_then_200_for_a_repeat(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        status, headers, body = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                   token=ERP)
        assert status == 202
        assert body["kind"] == "invoice"
        assert body["agency_oin"] == AGENCY_OIN
        assert body["channel"] == "recorder"
        assert body["format"] == "canonical:invoice:1"
        assert body["business_key"].endswith(":invoice:F2024-0001")
        assert body["links"]["self"] == f"/api/v1/messages/{body['id']}"
        assert headers["Location"] == body["links"]["self"]
        assert "Wissel-Duplicate" not in headers
        stored = await gateway.store.get(body["id"])
        assert stored is not None
        assert stored.canonical_json == invoice_json().decode()

        again_status, again_headers, again = await gateway.call("POST", SUBMIT,
                                                                data=invoice_json(), token=ERP)
        assert again_status == 200
        assert again_headers["Wissel-Duplicate"] == "true"
        assert again["id"] == body["id"]
        page = await gateway.store.list_messages(direction=Direction.OUTBOUND)
        assert [m.id for m in page.items] == [body["id"]]

        status, _, message = await gateway.call("GET", body["links"]["self"], token=READER)
        assert status == 200
        kinds = [event["kind"] for event in message["timeline"]]
        assert kinds[:2] == ["intake", "check"]
        assert "persist" in kinds
        assert message["routing"]["channel"] == "recorder"


async def test_another_document_under_a_stored_number_is_409_naming_the_message(
    store_url: str, tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        status, _, first = await gateway.call("POST", SUBMIT, data=invoice_json(), token=ERP)
        assert status == 202

        # The same document with its keys in another order and other spacing: a repeat.
        document = json.loads(invoice_json())
        body = json.dumps(dict(reversed(list(document.items()))), indent=2).encode()
        status, headers, again = await gateway.call("POST", SUBMIT, data=body, token=ERP)
        assert status == 200
        assert headers["Wissel-Duplicate"] == "true"
        assert again["id"] == first["id"]

        # A corrected invoice under the same number is another document.
        status, headers, problem = await gateway.call(
            "POST", SUBMIT, data=edited_invoice(lambda d: d.update(due_date="2024-04-30")),
            token=ERP)
        assert status == 409, problem
        assert "Wissel-Duplicate" not in headers
        assert problem["type"] == "urn:wissel:problem:number-taken"
        assert problem["message_id"] == first["id"]
        assert problem["transport_state"] in ("queued", "sending", "sent")
        assert problem["links"]["message"] == first["links"]["self"]
        assert f"as message {first['id']}" in problem["detail"]
        assert "new number" in problem["detail"]
        assert problem["errors"] == [{
            "field": "$.number", "rule": "number-taken",
            "message": f"'F2024-0001' is the number of message {first['id']}, "
                       "a different document"}]
        page = await gateway.store.list_messages(direction=Direction.OUTBOUND)
        assert [m.id for m in page.items] == [first["id"]]

        _, _, openapi = await gateway.call("GET", "/openapi.json", token=None)
        answers = openapi["paths"]["/api/v1/outbound/{agency_oin}"]["post"]["responses"]
        assert "Another document is stored under this number" in answers["409"]["description"]


async def test_a_rejected_number_may_be_used_again_by_a_corrected_document(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        def wrong_total(document: dict[str, Any]) -> None:
            document["totals"]["payable"] = "1.00"

        status, _, problem = await gateway.call("POST", SUBMIT,
                                                data=edited_invoice(wrong_total), token=ERP)
        assert status == 422
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json(), token=ERP)
        assert status == 202
        assert body["id"] != problem["message_id"]


async def test_a_response_to_an_order_not_received_names_the_reference(
    tmp_path: Path,
) -> None:
    response = sample_order_response()
    async with running_gateway(
            tmp_path, order_response_format="ubl-ohnl:order-response:1.9") as gateway:
        status, _, problem = await gateway.call("POST", SUBMIT, data=document_json(response),
                                                token=ERP)
        assert status == 422, problem
        assert problem["rules"] == ["answered-unknown"]
        [error] = problem["errors"]
        assert error["field"] == "$.order_reference.id"
        assert error["rule"] == "answered-unknown"
        assert "send it again once the gateway has received order" in error["message"]
        assert "send it again once" in problem["detail"]


async def test_a_field_at_fault_is_named_by_its_json_path(store_url: str,
                                                          tmp_path: Path) -> None:
    def float_quantity(document: dict[str, Any]) -> None:
        document["lines"][1]["quantity"]["value"] = 4.5

    async with running_gateway(tmp_path, database=store_url) as gateway:
        status, headers, problem = await gateway.call("POST", SUBMIT,
                                                      data=edited_invoice(float_quantity))
        assert status == 422
        assert headers["Content-Type"].startswith("application/problem+json")
        assert problem["type"].endswith("document-rejected")
        assert problem["status"] == 422
        [error] = problem["errors"]
        assert error["field"] == "$.lines[1].quantity.value"
        assert "decimal string" in error["message"]
        stored = await gateway.store.get(problem["message_id"])
        assert stored is not None
        assert stored.transport_state is TransportState.REJECTED
        assert stored.canonical_json == edited_invoice(float_quantity).decode()


async def test_broken_business_rules_are_listed_by_rule_id(tmp_path: Path) -> None:
    def wrong_total(document: dict[str, Any]) -> None:
        document["totals"]["payable"] = "999.00"

    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", SUBMIT, data=edited_invoice(wrong_total))
        assert status == 422
        assert problem["stage"] == "check"
        assert "BR-CO-16" in problem["rules"]
        assert {e["rule"] for e in problem["errors"]} == set(problem["rules"])
        status, _, message = await gateway.call("GET", f"/api/v1/messages/{problem['message_id']}")
        assert message["transport_state"] == "rejected"
        assert message["timeline"][-1]["detail"]["rules"] == problem["rules"]


async def test_not_json_is_400_and_stores_nothing(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        for body in (b"<Invoice/>", b"\xff\xfe{", b""):
            status, _, problem = await gateway.call("POST", SUBMIT, data=body)
            assert status == 400, body
            assert problem["type"].endswith("not-json")
            assert problem["errors"][0]["field"] == "$"
        page = await gateway.store.list_messages()
        assert page.items == ()


async def test_authentication_and_scopes(tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_gateway(tmp_path) as gateway:
        status, headers, problem = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                      token=None)
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert problem["type"].endswith("unauthenticated")
        status, _, problem = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                token=ADMIN + "x")
        assert status == 401
        assert problem["type"].endswith("invalid-token")
        status, _, problem = await gateway.call("GET", "/api/v1/messages", token="")
        assert status == 401
        status, _, problem = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                token=READER)
        assert status == 403
        assert problem["required_scopes"] == ["submit"]
        assert "reader" in problem["detail"]
        status, _, problem = await gateway.call(
            "POST", "/api/v1/messages/01M8KSPF3R25W6S3NPDX56TZQK/retry", token=ERP,
            json_body={"reason": "try"})
        assert status == 403
        assert problem["required_scopes"] == ["operate"]
        assert (await gateway.store.list_messages()).items == ()
        # /health and the document describing the API need no token.
        assert (await gateway.call("GET", "/health", token=None))[0] == 200
        assert (await gateway.call("GET", "/openapi.json", token=None))[0] == 200
        # The router's own refusals are problem details too.
        status, headers, problem = await gateway.call("GET", "/api/v1/nothing")
        assert status == 404
        assert headers["Content-Type"].startswith("application/problem+json")
        status, headers, problem = await gateway.call("DELETE", "/api/v1/messages")
        assert status == 405
        assert problem["type"].endswith("method-not-allowed")
        assert "GET" in headers["Allow"]
    for secret in (ADMIN, READER, ERP):
        assert secret not in caplog.text


async def _raw_request(base: str, head: str, body_parts: list[bytes]) -> bytes:
    """Send a request by hand, so the test decides how much of the body goes out."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        for part in body_parts:
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


async def test_too_large_is_413_before_the_body_is_read(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        # A declared length over the limit: answered with no body byte sent at all.
        answer = await _raw_request(
            gateway.base,
            f"POST {SUBMIT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n",
            [])
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        problem = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert problem["type"].endswith("too-large")
        assert problem["limit"] == REQUEST_LIMIT

        # A chunked body is counted as it arrives.
        chunk = b" " * 16384
        answer = await _raw_request(
            gateway.base,
            f"POST {SUBMIT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)] + [b"0\r\n\r\n"])
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

        # Just under the limit passes the size check (and is then judged as a document).
        padded = invoice_json()
        padded = padded + b" " * (REQUEST_LIMIT - len(padded))
        status, _, body = await gateway.call("POST", SUBMIT, data=padded)
        assert status == 202, body
        assert (await gateway.store.list_messages()).items[0].id == body["id"]


async def test_a_validation_rejection_names_the_rules_and_where(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with running_gateway(tmp_path, invoice_format="peppol-bis:invoice:3.0") as gateway:
        # Peppol wants a buyer reference or an order reference (PEPPOL-EN16931-R003).
        data = invoice_json(buyer_reference=None, order_reference=None)
        status, _, problem = await gateway.call("POST", SUBMIT, data=data, token=ERP)
        assert status == 422
        assert problem["stage"] == "validate"
        assert "PEPPOL-EN16931-R003" in problem["rules"]
        [finding] = [e for e in problem["errors"] if e["rule"] == "PEPPOL-EN16931-R003"]
        assert finding["field"].startswith("/")
        assert finding["message"]
        stored = await gateway.store.get(problem["message_id"])
        assert stored.transport_state is TransportState.REJECTED
        assert stored.validation is not None
        assert not stored.validation["valid"]


async def test_validation_that_cannot_run_is_503_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A validated route on a machine whose standards were never installed: no
    # verdict on the document, so the ERP is told to try again later.
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(tmp_path / "not-installed"))
    async with running_gateway(tmp_path, invoice_format="peppol-bis:invoice:3.0") as gateway:
        status, headers, problem = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                      token=ERP)
        assert status == 503, problem
        assert "Retry-After" not in headers  # no time helps: an operator must install them
        assert problem["type"].endswith("unavailable")
        assert "could not be processed now" in problem["detail"]
        assert "standards install" in problem["detail"]  # says how to mend it
        page = await gateway.store.list_messages()
        assert page.items == ()
