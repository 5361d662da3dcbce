"""Kind filters are checked: an unknown kind is refused by name, in the inbox and message
lists of the API, in its OpenAPI document and in the CLI, rather than answered with an
empty list."""

from __future__ import annotations

from pathlib import Path

from api_support import running_gateway
from pipeline_support import document_json
from test_cli_send import gateway_cli

from gateway.channels import InboundDocument
from gateway.kinds import DocumentKind
from gateway.model.samples import example_order

KINDS = [kind.value for kind in DocumentKind]


async def test_an_unknown_kind_in_the_inbox_filter_is_refused_by_name(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        assert gateway.service.inbound is not None
        order_id = await gateway.service.inbound.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="t-kind"))
        status, _, body = await gateway.call("GET", "/api/v1/inbox", params={"kind": "orders"})
        # A misspelt kind (or one the ERP pluralised) answered 200 with an empty inbox,
        # so the ERP concluded nothing waits; `state` was checked against its values,
        # `kind` was not.
        assert status == 400, body
        assert body["detail"] == f"kind must be one of {', '.join(KINDS)}, got 'orders'"
        assert [error["field"] for error in body["errors"]] == ["kind"]
        # A known kind still filters.
        status, _, body = await gateway.call("GET", "/api/v1/inbox", params={"kind": "order"})
        assert status == 200, body
        assert [item["id"] for item in body["items"]] == [order_id]
        status, _, body = await gateway.call("GET", "/api/v1/inbox",
                                             params={"kind": "invoice"})
        assert (status, body["items"]) == (200, [])


async def test_the_openapi_document_lists_the_inbox_kinds(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, document = await gateway.call("GET", "/openapi.json")
    assert status == 200
    [kind] = [param for param in document["paths"]["/api/v1/inbox"]["get"]["parameters"]
              if param["name"] == "kind"]
    assert kind["schema"] == {"type": "string", "enum": KINDS}


async def test_gateway_inbox_list_refuses_an_unknown_kind(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        assert gateway.service.inbound is not None
        order_id = await gateway.service.inbound.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="t-cli"))
        refused = await gateway_cli(gateway.config_path, "inbox", "list", "--kind", "orders")
        listed = await gateway_cli(gateway.config_path, "inbox", "list", "--kind", "order")
    # It printed "the inbox is empty" and exited 0.
    assert refused.exit_code == 2, refused.output
    assert "'orders' is not one of" in refused.output
    assert "'order'" in refused.output
    assert listed.exit_code == 0, listed.output
    assert order_id in listed.output


async def test_an_unknown_kind_in_the_message_list_is_refused_by_name(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        assert gateway.service.inbound is not None
        order_id = await gateway.service.inbound.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="t-list"))
        status, _, body = await gateway.call("GET", "/api/v1/messages",
                                             params={"kind": "orders"})
        assert status == 400, body
        assert [error["field"] for error in body["errors"]] == ["kind"]
        status, _, body = await gateway.call("GET", "/api/v1/messages", params={"kind": "order"})
        assert (status, [item["id"] for item in body["items"]]) == (200, [order_id])
        status, _, document = await gateway.call("GET", "/openapi.json")
        refused = await gateway_cli(gateway.config_path, "messages", "list", "--kind", "orders")
    [kind] = [param for param in document["paths"]["/api/v1/messages"]["get"]["parameters"]
              if param["name"] == "kind"]
    assert kind["schema"] == {"type": "string", "enum": KINDS}
    assert refused.exit_code == 2, refused.output
    assert "'orders' is not one of" in refused.output
