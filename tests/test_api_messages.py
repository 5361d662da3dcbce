"""Reading and operating on messages through the API: filters, paging, operator actions."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import referencing
from aiohttp import web
from aiohttp.web_routedef import AbstractRouteDef
from api_support import ERP, OPERATOR, READER, Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, OTHER_OIN, document_json
from referencing.jsonschema import DRAFT202012

from gateway.channels import (
    Accepted,
    Channel,
    ChannelType,
    FinalError,
    InboundDocument,
    OutboundMessage,
    SendOutcome,
)
from gateway.hookspecs import hookimpl
from gateway.kinds import DocumentKind
from gateway.model.samples import example_credit_note, example_order
from gateway.pipeline.keys import inbound_key
from gateway.registry import Registry
from gateway.store import MessageRecord, NewEvent, TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"
UNKNOWN_ID = "01M8KSPF3R25W6S3NPDX56TZQK"


async def until_state(gateway: Running, message_id: str,
                      states: Collection[TransportState]) -> None:
    for _ in range(500):
        record = await gateway.store.get(message_id)
        if record.transport_state in states:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} stayed {record.transport_state}")


def check_against_document(document: Mapping[str, Any], component: str, value: Any) -> None:
    """``value`` must match the schema the OpenAPI document gives for it."""
    resource = referencing.Resource.from_contents(
        dict(document), default_specification=DRAFT202012)
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        "urn:wissel:openapi", resource)
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"urn:wissel:openapi#/components/schemas/{component}"}, registry=registry)
    validator.validate(value)


async def test_filters_and_paging(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        ids = []
        for number in range(5):
            status, _, body = await gateway.call("POST", SUBMIT,
                                                 data=invoice_json(f"F-{number}"), token=ERP)
            assert status == 202
            ids.append(body["id"])
        status, _, credit = await gateway.call("POST", SUBMIT,
                                               data=document_json(example_credit_note()))
        assert status == 202
        status, _, rejected = await gateway.call("POST", f"/api/v1/outbound/{OTHER_OIN}",
                                                 data=invoice_json("F-9"))
        assert status == 422
        assert "agency-oin-mismatch" in rejected["rules"]

        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = {"limit": "2", "kind": "invoice", "agency": AGENCY_OIN}
            if cursor:
                params["cursor"] = cursor
            status, _, page = await gateway.call("GET", "/api/v1/messages", token=READER,
                                                 params=params)
            assert status == 200
            pages += 1
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        assert pages == 3

        async def only(**params: str) -> list[str]:
            status, _, page = await gateway.call("GET", "/api/v1/messages", params=params)
            assert status == 200, page
            return [item["id"] for item in page["items"]]

        assert await only(kind="credit-note") == [credit["id"]]
        assert await only(state="rejected") == [rejected["message_id"]]
        assert await only(agency=OTHER_OIN) == [rejected["message_id"]]
        assert await only(business_key=credit["business_key"]) == [credit["id"]]
        assert await only(channel="folder") == [credit["id"]]
        assert await only(direction="inbound") == []
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        assert await only(**{"from": tomorrow}) == []
        assert len(await only(to=date.today().isoformat())) == 7
        assert len(await only(**{"from": (datetime.now(UTC) - timedelta(hours=1))
                                 .strftime("%Y-%m-%dT%H:%M:%SZ")})) == 7

        for params, field in (({"state": "lost"}, "state"), ({"limit": "0"}, "limit"),
                              ({"cursor": "x"}, "cursor"), ({"to": "tomorrow"}, "to"),
                              ({"direction": "up"}, "direction")):
            status, _, problem = await gateway.call("GET", "/api/v1/messages", params=params)
            assert status == 400, params
            assert problem["errors"][0]["field"] == field
        status, _, problem = await gateway.call("GET", f"/api/v1/messages/{UNKNOWN_ID}")
        assert status == 404
        assert problem["type"].endswith("not-found")


async def decoded_inbound(gateway: Running, transport_id: str, kind: str,
                          number: str) -> str:
    """An inbound message stored and decoded as the inbound pipeline keys it."""
    record, _ = await gateway.store.add_inbound_raw(MessageRecord.new_inbound(
        channel="peppol", raw_payload=b"<Order/>", transport_id=transport_id))
    await gateway.store.transition(
        record.id, event=NewEvent("decoded", {}), transport_state=TransportState.DECODED,
        document_kind=kind, agency_oin=AGENCY_OIN,
        business_key=inbound_key(AGENCY_OIN, DocumentKind(kind), number))
    return str(record.id)


async def test_the_list_filters_by_document_number(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        submitted = {}
        # A number may hold colons: "X:7" is no "7", nor "7" a "X:7".
        for number in ("7", "X:7", "70", "7%"):
            status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json(number),
                                                 token=ERP)
            assert status == 202, body
            submitted[number] = body["id"]
        order = await decoded_inbound(gateway, "in-1", "order", "7")
        closing = await decoded_inbound(gateway, "in-2", "staffing-order", "7:status:closed")
        correction = await decoded_inbound(gateway, "in-3", "timecard",
                                           "7:correction:0123456789abcdef")
        other = await decoded_inbound(gateway, "in-4", "order", "X:7")

        async def numbered(number: str, **params: str) -> set[str]:
            status, _, page = await gateway.call("GET", "/api/v1/messages", token=READER,
                                                 params={"number": number, **params})
            assert status == 200, page
            return {item["id"] for item in page["items"]}

        assert await numbered("7") == {submitted["7"], order, closing, correction}
        assert await numbered("7", direction="outbound") == {submitted["7"]}
        assert await numbered("X:7") == {submitted["X:7"], other}
        assert await numbered("7%") == {submitted["7%"]}
        assert await numbered("x:7") == set()  # exact, case and all
        assert await numbered("F2024-0001") == set()

        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
        names = [p["name"] for p in document["paths"]["/api/v1/messages"]["get"]["parameters"]]
        assert "number" in names


async def test_a_message_with_timeline_attempts_and_payload(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
        await until_state(gateway, body["id"], {TransportState.SENT})
        status, _, message = await gateway.call("GET", f"/api/v1/messages/{body['id']}",
                                                token=READER)
        assert status == 200
        assert message["transport_state"] == "sent"
        [attempt] = message["attempts"]
        assert attempt["outcome"] == "accepted"
        assert attempt["transport_id"]
        assert "payload" not in message
        status, _, full = await gateway.call("GET", f"/api/v1/messages/{body['id']}",
                                             params={"include": "payload"})
        assert full["canonical"]["number"] == "F2024-0001"
        record = await gateway.store.get(body["id"])
        assert base64.b64decode(full["payload"]) == record.raw_payload
        status, _, document = await gateway.call("GET", "/openapi.json", token=None)
        check_against_document(document, "Message", full)
        check_against_document(document, "SubmitAnswer", body)
        status, _, page = await gateway.call("GET", "/api/v1/messages")
        check_against_document(document, "MessagePage", page)
        status, _, problem = await gateway.call("GET", f"/api/v1/messages/{body['id']}",
                                                params={"include": "everything"})
        assert status == 400
        check_against_document(document, "Problem", problem)


async def test_retry_cancel_and_reroute_write_audit_entries(store_url: str,
                                                             tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("agency refuses for good")]
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
        message_id = body["id"]
        await until_state(gateway, message_id, {TransportState.FAILED})
        base = f"/api/v1/messages/{message_id}"

        status, _, problem = await gateway.call("POST", f"{base}/retry", token=OPERATOR,
                                                json_body={})
        assert status == 400
        assert problem["errors"][0]["field"] == "$.reason"
        status, _, problem = await gateway.call("POST", f"{base}/retry", token=OPERATOR,
                                                json_body={"reason": "x", "colour": "red"})
        assert status == 400
        assert problem["errors"][0]["field"] == "$.colour"

        gateway.plugin.instances["recorder"].script = [FinalError("still refusing")]
        status, _, retried = await gateway.call(
            "POST", f"{base}/retry", token=OPERATOR,
            json_body={"reason": "agency fixed its end", "actor": "fatima"})
        assert status == 200, retried
        assert any(e["kind"] == "operator-retry" for e in retried["timeline"])
        await until_state(gateway, message_id, {TransportState.FAILED})

        status, _, cancelled = await gateway.call("POST", f"{base}/cancel", token=OPERATOR,
                                                  json_body={"reason": "sent by post"})
        assert status == 200
        assert cancelled["transport_state"] == "cancelled"
        status, _, problem = await gateway.call("POST", f"{base}/cancel", token=OPERATOR,
                                                json_body={"reason": "again"})
        assert status == 409
        assert problem["type"].endswith("conflict")

        status, _, problem = await gateway.call("POST", f"{base}/reroute", token=OPERATOR,
                                                json_body={"reason": "x", "channel": "fax"})
        assert status == 400
        assert problem["errors"][0]["field"] == "$.channel"
        status, _, rerouted = await gateway.call(
            "POST", f"{base}/reroute", token=OPERATOR,
            json_body={"reason": "the recorder is down", "channel": "folder"})
        assert status == 200, rerouted
        assert rerouted["channel"] == "folder"
        await until_state(gateway, message_id, {TransportState.SENT})
        assert list((tmp_path / "out").iterdir())

        audit = await gateway.store.audit_log()
        actions = [(a.action, a.subject, a.actor, a.reason) for a in reversed(audit)]
        assert actions == [
            ("message.retry", message_id, "fatima (token operator)", "agency fixed its end"),
            ("message.cancel", message_id, "token operator", "sent by post"),
            ("message.reroute", message_id, "token operator", "the recorder is down"),
        ]
        status, _, problem = await gateway.call(
            "POST", "/api/v1/messages/01M8KSPF3R25W6S3NPDX56TZQK/retry", token=OPERATOR,
            json_body={"reason": "x"})
        assert status == 404


async def test_inbox_lists_decoded_documents_until_acknowledged(store_url: str,
                                                                 tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        inbound_id = await gateway.service.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        status, _, page = await gateway.call("GET", "/api/v1/inbox", token=READER)
        assert status == 200
        [item] = page["items"]
        assert item["id"] == inbound_id
        assert item["kind"] == "order"
        assert item["canonical"]["document"] == "order"
        assert page["next_cursor"] is None

        status, _, _ = await gateway.call("POST", f"/api/v1/inbox/{inbound_id}/ack",
                                          token=READER)
        assert status == 403
        status, _, acked = await gateway.call("POST", f"/api/v1/inbox/{inbound_id}/ack",
                                              token=ERP)
        assert status == 200
        assert acked == {"id": inbound_id, "transport_state": "acknowledged"}
        assert (await gateway.call("GET", "/api/v1/inbox"))[2]["items"] == []
        status, _, _ = await gateway.call("POST", f"/api/v1/inbox/{inbound_id}/ack",
                                          token=OPERATOR)
        assert status == 200
        events = await gateway.store.events(inbound_id)
        [acknowledged] = [e for e in events if e.kind == "acknowledged"]
        assert acknowledged.detail == {"via": "api", "token": "erp"}  # who took it

        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
        status, _, problem = await gateway.call("POST", f"/api/v1/inbox/{body['id']}/ack")
        assert status == 409
        assert "outbound" in problem["detail"]
        status, _, _ = await gateway.call("POST", "/api/v1/inbox/NOPE/ack")
        assert status == 404


async def test_inbox_gives_envelopes_as_a_webhook_delivers_them_on_request(
    tmp_path: Path,
) -> None:
    """An ERP taking documents by webhook, and by polling after a switch or an outage, had
    two shapes to read (canonical against document, no document_number or transport)."""
    from gateway.delivery.envelope import envelope

    async with running_gateway(tmp_path) as gateway:
        inbound_id = await gateway.service.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        status, _, page = await gateway.call("GET", "/api/v1/inbox", token=READER,
                                             params={"shape": "envelope"})
        assert status == 200, page
        [item] = page["items"]
        record = await gateway.store.get(inbound_id)
        as_delivered = json.loads(json.dumps(envelope(record)))
        assert item == {**as_delivered, "links": {"self": f"/api/v1/messages/{inbound_id}"}}
        assert item["document"]["document"] == "order"
        _, _, document = await gateway.call("GET", "/openapi.json")
        check_against_document(document, "InboxPage", page)
        status, _, plain = await gateway.call("GET", "/api/v1/inbox", token=READER)
        check_against_document(document, "InboxPage", plain)
        assert plain["items"][0]["canonical"] == item["document"]
        status, _, problem = await gateway.call("GET", "/api/v1/inbox", token=READER,
                                                params={"shape": "xml"})
        assert status == 400
        assert "shape" in problem["detail"]


async def test_inbox_pages_oldest_first_on_request(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        received = []
        for number in ("PO-1", "PO-2", "PO-3"):
            received.append(await gateway.service.receive(InboundDocument(
                data=document_json(attrs.evolve(example_order(), number=number)),
                channel="folder", transport_id=number)))
        # Newest first only, before: an ERP working through a backlog met an agency's
        # later documents before the order they follow up.
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params = {"order": "oldest", "limit": "2", **({"cursor": cursor} if cursor else {})}
            status, _, page = await gateway.call("GET", "/api/v1/inbox", token=READER,
                                                 params=params)
            assert status == 200, page
            seen += [item["id"] for item in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == received
        status, _, page = await gateway.call("GET", "/api/v1/inbox", token=READER)
        assert [item["id"] for item in page["items"]] == received[::-1]
        status, _, problem = await gateway.call("GET", "/api/v1/inbox", token=READER,
                                                params={"order": "fifo"})
        assert status == 400
        assert problem["errors"][0]["field"] == "order"


class DeskChannel(Channel):
    """A channel with an operator work queue over HTTP, as a portal channel might have."""

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.done: list[str] = []

    async def send(self, message: OutboundMessage) -> SendOutcome:
        return Accepted(f"desk-{message.message_id}")

    async def queue(self, request: web.Request) -> web.Response:
        """The work queue."""
        return web.json_response({"channel": self.name, "done": self.done})

    async def finish(self, request: web.Request) -> web.Response:
        """Mark an item done."""
        self.done.append(request.match_info["item"])
        return web.json_response({"done": request.match_info["item"]})

    def web_routes(self) -> Sequence[AbstractRouteDef]:
        return [web.get("/queue", self.queue), web.post("/queue/{item}/done", self.finish)]


class DeskPlugin:
    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        registry.add_channel(ChannelType("desk", DeskChannel, "a work queue for tests"))


DESK = """
[channels.desk]
type = "desk"
"""


async def test_channel_routes_are_mounted_under_their_prefix_with_auth(tmp_path: Path) -> None:
    from api_support import TOKENS

    async with running_gateway(tmp_path, extra=TOKENS + DESK,
                               plugins=[("desk", DeskPlugin())]) as gateway:
        base = "/api/v1/channels/desk/queue"
        assert (await gateway.call("GET", base, token=None))[0] == 401
        status, _, body = await gateway.call("GET", base, token=READER)
        assert status == 200
        assert body == {"channel": "desk", "done": []}
        assert (await gateway.call("POST", f"{base}/a1/done", token=READER))[0] == 403
        status, _, body = await gateway.call("POST", f"{base}/a1/done", token=OPERATOR)
        assert status == 200
        assert body == {"done": "a1"}
        assert (await gateway.call("GET", base, token=READER))[2]["done"] == ["a1"]
        status, _, document = await gateway.call("GET", "/openapi.json", token=None)
        operation = document["paths"]["/api/v1/channels/desk/queue/{item}/done"]["post"]
        assert operation["x-scopes"] == ["operate"]
        assert operation["summary"] == "Mark an item done."
        assert json.dumps(document["paths"][base]["get"]["x-scopes"]) == '["read"]'
