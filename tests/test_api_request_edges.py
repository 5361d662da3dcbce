"""Edges of the API a caller hits: odd Authorization bytes, unknown or repeated query
parameters, blank include parts, and the inbox page size as documented."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from api_support import OPERATOR, READER, Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_api_messages import until_state

from gateway.channels import FinalError
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def raw_request(gateway: Running, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` as it is (bytes an HTTP client library would not send); the answer."""
    host, port = gateway.base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in header_block.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


async def test_an_authorization_header_that_is_no_utf8_is_401_not_500(tmp_path: Path) -> None:
    # A client (or a scanner) sending Latin-1 bytes in the token got a 500 and a traceback
    # in the log: the header's undecodable bytes could not be encoded back for comparing.
    async with running_gateway(tmp_path) as gateway:
        status, headers, body = await raw_request(
            gateway, b"GET /api/v1/messages HTTP/1.1\r\nHost: gateway\r\n"
                     b"Authorization: Bearer caf\xe9-token\r\nConnection: close\r\n\r\n")
        assert status == 401, body
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["type"] == "urn:wissel:problem:invalid-token"
        assert "invalid_token" in headers["www-authenticate"]


async def test_an_unknown_query_parameter_is_400_naming_it(tmp_path: Path) -> None:
    # A typo (stat=failed, agency_oin=...) used to be ignored: the caller got every
    # message and took it for the filtered list.
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("Q-1"))
        assert status == 202
        message = f"/api/v1/messages/{body['id']}"
        for path, name in (("/api/v1/messages", "stat"), ("/api/v1/messages", "agency_oin"),
                           ("/api/v1/inbox", "status"), (message, "include_payload")):
            status, _, problem = await gateway.call("GET", path, token=READER,
                                                    params={name: "x"})
            assert status == 400, (path, name, status, problem)
            assert problem["errors"] == [{"field": name, "message": problem["detail"]}]
            assert name in problem["detail"]


async def test_every_core_route_refuses_an_unknown_query_parameter(tmp_path: Path) -> None:
    # POST /outbound/{oin}?agnecy=... stored the document and POST /inbox/{id}/ack?...
    # acknowledged it, the misspelt parameter dropped in silence, while the lists
    # answered 400. Every /api/v1 route of the core is walked from the document, so a
    # route added later is held to it too.
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("Q-0"))
        assert status == 202
        _, _, document = await gateway.call("GET", "/openapi.json")
        values = {"agency_oin": AGENCY_OIN, "id": body["id"]}
        checked = []
        for route, item in document["paths"].items():
            if not route.startswith("/api/v1/") or route.startswith("/api/v1/channels/"):
                continue
            for method, operation in item.items():
                path = route.format(**values)
                data = invoice_json("Q-1") if route.startswith("/api/v1/outbound/") else None
                json_body = {"reason": "typo", "channel": "recorder"} if data is None else None
                status, _, problem = await gateway.call(
                    method.upper(), path, data=data,
                    json_body=json_body if method == "post" else None,
                    params={"agnecy": AGENCY_OIN})
                assert status == 400, (method, route, status, problem)
                assert problem["errors"] == [{"field": "agnecy", "message": problem["detail"]}]
                assert "'agnecy'" in problem["detail"]
                assert "400" in operation["responses"], (method, route)
                checked.append((method, route))
        assert ("post", "/api/v1/outbound/{agency_oin}") in checked
        assert ("post", "/api/v1/inbox/{id}/ack") in checked
        # The refused submission stored nothing.
        page = await gateway.store.list_messages()
        assert [m.id for m in page.items] == [body["id"]]


async def test_a_filter_given_twice_is_400_not_half_applied(tmp_path: Path) -> None:
    # state=failed&state=retrying used to filter on the first only, silently.
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call(
            "GET", "/api/v1/messages?state=failed&state=retrying", token=READER)
        assert status == 400, problem
        assert problem["errors"][0]["field"] == "state"
        assert "more than once" in problem["detail"]


async def test_blank_parts_of_include_are_ignored(tmp_path: Path) -> None:
    # include=payload, (a trailing comma and a space) was refused as "got " (nothing).
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("Q-2"))
        assert status == 202
        status, _, message = await gateway.call(
            "GET", f"/api/v1/messages/{body['id']}", token=READER,
            params={"include": "payload, "})
        assert status == 200, message
        assert message["payload"] is not None


async def test_the_inbox_page_size_is_documented_as_it_is_applied(tmp_path: Path) -> None:
    # The inbox answered 50 items by default but the document gave no default.
    async with running_gateway(tmp_path) as gateway:
        _, _, document = await gateway.call("GET", "/openapi.json")
        params = document["paths"]["/api/v1/inbox"]["get"]["parameters"]
        limit = next(p for p in params if p["name"] == "limit")
        listing = document["paths"]["/api/v1/messages"]["get"]["parameters"]
        assert limit["schema"] == next(p for p in listing if p["name"] == "limit")["schema"]


async def test_an_operator_body_nested_too_deeply_is_400_not_500(tmp_path: Path) -> None:
    # 30 000 brackets fit in the request limit and made json.loads raise RecursionError,
    # which the API answered with 500 and a traceback in the log.
    async with running_gateway(tmp_path) as gateway:
        for body in (b"[" * 30000 + b"]" * 30000, b'{"a":' * 10000 + b"1" + b"}" * 10000):
            status, _, problem = await gateway.call(
                "POST", "/api/v1/messages/01M8KSPF3R25W6S3NPDX56TZQK/retry", data=body)
            assert status == 400, problem
            assert problem["type"] == "urn:wissel:problem:not-json"
            assert problem["errors"][0]["field"] == "$"


@pytest.mark.parametrize(("field", "body"), [
    ("$.reason", b'{"reason": "sent by\\u0000post"}'),
    ("$.actor", b'{"reason": "sent by post", "actor": "fatima\\ud800"}'),
])
async def test_text_no_store_can_keep_is_400_before_the_action(
    store_url: str, tmp_path: Path, field: str, body: bytes,
) -> None:
    # On PostgreSQL a NUL in the reason cancelled the message, then failed writing the
    # audit entry: the operator got 500 for an action that was done, and unaudited.
    async with running_gateway(tmp_path, database=store_url) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("agency refuses")]
        status, _, submitted = await gateway.call("POST", SUBMIT, data=invoice_json("T-1"))
        message_id = submitted["id"]
        await until_state(gateway, message_id, {TransportState.FAILED})
        status, _, problem = await gateway.call(
            "POST", f"/api/v1/messages/{message_id}/cancel", token=OPERATOR, data=body)
        assert status == 400, problem
        assert problem["errors"][0]["field"] == field
        record = await gateway.store.get(message_id)
        assert record.transport_state is TransportState.FAILED
        assert await gateway.store.audit_log() == []


async def test_a_nul_in_a_filter_or_an_id_is_400_or_404_not_500(store_url: str,
                                                                 tmp_path: Path) -> None:
    # PostgreSQL refuses NUL in text: a filter or a path id holding one (%00) made
    # every read, operator action and acknowledgement answer 500.
    async with running_gateway(tmp_path, database=store_url) as gateway:
        for path, name in (("/api/v1/messages", "agency"), ("/api/v1/messages", "channel"),
                           ("/api/v1/messages", "business_key"),
                           ("/api/v1/messages", "business_state"), ("/api/v1/inbox", "agency")):
            status, _, problem = await gateway.call("GET", path, token=READER,
                                                    params={name: "a\x00b"})
            assert status == 400, (path, name, problem)
            assert problem["errors"][0]["field"] == name
        for method, path in (("GET", "/api/v1/messages/AB%00"),
                             ("POST", "/api/v1/messages/AB%00/cancel"),
                             ("POST", "/api/v1/inbox/AB%00/ack")):
            status, _, problem = await gateway.call(
                method, path, json_body={"reason": "x"} if method == "POST" else None)
            assert status == 404, (path, problem)
