"""Rerouting an agency's waiting messages at once, through the API and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import OPERATOR, READER, Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_api_messages import check_against_document
from test_api_reroute_format import until_state
from test_cli_send import gateway_cli

from gateway.channels import RetryableError
from gateway.config import switch_route
from gateway.paths import STANDARDS_DIR_ENV
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"
BULK = "/api/v1/messages/reroute"
PEPPOL = "peppol-bis:invoice:3.0"


@pytest.fixture(autouse=True)
def standards(monkeypatch: pytest.MonkeyPatch, installed_standards: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


async def waiting(gateway: Running, numbers: list[str], **changes: object) -> list[str]:
    """Invoices whose first attempt failed, waiting an hour for their next."""
    gateway.plugin.instances["recorder"].script = [
        RetryableError("Digipoort is down", retry_after=timedelta(hours=1)) for _ in numbers]
    ids = []
    for number in numbers:
        status, _, body = await gateway.call("POST", SUBMIT,
                                             data=invoice_json(number, **changes))
        assert status == 202, body
        await until_state(gateway, body["id"], {TransportState.RETRYING})
        ids.append(str(body["id"]))
    return ids


async def test_the_cli_moves_what_waits_and_lists_what_the_new_format_refuses(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        good = await waiting(gateway, ["G-1", "G-2"])
        # Without a buyer or order reference the UBL breaks PEPPOL-EN16931-R003.
        [bad] = await waiting(gateway, ["B-1"], buyer_reference=None, order_reference=None)
        config = gateway.config_path
        switch_route(config, AGENCY_OIN, "invoice", "folder", PEPPOL, reason="to Peppol")
        assert gateway.service.config_holder.reload()

        dry = await gateway_cli(config, "messages", "reroute", "--agency", AGENCY_OIN,
                                "--dry-run", "--reason", "moved to Peppol")
        assert dry.exit_code == 1, dry.output  # one would be refused
        lines = dry.output.splitlines()
        for message_id in good:
            assert (f"{message_id} invoice would-reroute: recorder canonical:invoice:1 -> "
                    f"folder {PEPPOL}") in lines
        [refusal] = [line for line in lines if line.startswith(bad)]
        assert f"refused: recorder canonical:invoice:1: re-encoded as {PEPPOL}" in refusal
        assert lines[-1] == "2 would reroute, 0 unchanged, 1 refused (dry run: nothing changed)"
        assert [a for a in await gateway.store.audit_log()
                if a.action == "message.reroute"] == []

        done = await gateway_cli(config, "messages", "reroute", "--agency", AGENCY_OIN,
                                 "--reason", "moved to Peppol", "--json")
        assert done.exit_code == 1, done.output
        answer = json.loads(done.output)
        assert answer["summary"] == {"rerouted": 2, "would-reroute": 0, "unchanged": 0,
                                     "refused": 1}
        assert {item["id"]: item["outcome"] for item in answer["items"]} == {
            good[0]: "rerouted", good[1]: "rerouted", bad: "refused"}
        for message_id in good:
            await until_state(gateway, message_id, {TransportState.SENT})
        sent = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
        assert len(sent) == 2
        still = await gateway.store.get(bad)
        assert still is not None
        assert (still.transport_state, still.channel) == (TransportState.RETRYING, "recorder")
        rerouted = [a.subject for a in await gateway.store.audit_log()
                    if a.action == "message.reroute"]
        assert sorted(rerouted) == sorted(good)

        again = await gateway_cli(config, "messages", "reroute", "--agency", AGENCY_OIN,
                                  "--reason", "moved to Peppol")
        assert again.exit_code == 1, again.output  # the bad one is refused again
        assert again.output.splitlines()[-1] == "0 rerouted, 0 unchanged, 1 refused"


async def test_the_api_pages_through_an_agencys_messages(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        ids = await waiting(gateway, ["P-1", "P-2", "P-3"])
        switch_route(gateway.config_path, AGENCY_OIN, "invoice", "folder", reason="moved")
        assert gateway.service.config_holder.reload()
        _, _, document = await gateway.call("GET", "/openapi.json", token=None)
        request = {"reason": "moved", "agency": AGENCY_OIN, "limit": 2}
        check_against_document(document, "AgencyRerouteRequest", request)
        status, _, first = await gateway.call("POST", BULK, token=OPERATOR, json_body=request)
        assert status == 200, first
        check_against_document(document, "AgencyReroutePage", first)
        assert [item["id"] for item in first["items"]] == ids[:2]
        assert first["summary"]["rerouted"] == 2
        assert first["next_cursor"] == ids[1]
        status, _, second = await gateway.call(
            "POST", BULK, token=OPERATOR,
            json_body={**request, "cursor": first["next_cursor"]})
        assert status == 200, second
        assert [(item["id"], item["outcome"]) for item in second["items"]] == [
            (ids[2], "rerouted")]
        assert second["next_cursor"] is None
        for message_id in ids:
            await until_state(gateway, message_id, {TransportState.SENT})


async def test_bad_bulk_requests_name_the_field_and_change_nothing(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        [message_id] = await waiting(gateway, ["X-1"])
        switch_route(gateway.config_path, AGENCY_OIN, "invoice", "folder", reason="moved")
        assert gateway.service.config_holder.reload()
        base = {"reason": "moved", "agency": AGENCY_OIN}
        cases = [
            ({"reason": "moved"}, "$.agency", "agency is required"),
            ({**base, "agency": "123"}, "$.agency", "not a valid OIN"),
            ({**base, "agency": "00000003300972650000"}, "$.agency",
             "no agency with OIN"),
            ({**base, "kind": "fax"}, "$.kind", "kind must be one of"),
            ({**base, "states": ["queued", "sent"]}, "$.states[1]", "got 'sent'"),
            ({**base, "states": []}, "$.states", "non-empty list"),
            ({**base, "dry_run": "yes"}, "$.dry_run", "true or false"),
            ({**base, "limit": 0}, "$.limit", "from 1 to"),
            ({**base, "cursor": "x"}, "$.cursor", "next_cursor"),
            ({**base, "channel": "folder"}, "$.channel", "unknown field"),
        ]
        for body, field, words in cases:
            status, _, problem = await gateway.call("POST", BULK, token=OPERATOR,
                                                    json_body=body)
            assert status == 400, (body, problem)
            assert problem["errors"][0]["field"] == field, problem
            assert words in problem["detail"], problem
        status, _, problem = await gateway.call("POST", BULK, token=READER, json_body=base)
        assert status == 403, problem
        record = await gateway.store.get(message_id)
        assert record is not None
        assert (record.transport_state, record.channel) == (TransportState.RETRYING,
                                                            "recorder")
        assert [a for a in await gateway.store.audit_log()
                if a.action == "message.reroute"] == []
        usage = await gateway_cli(gateway.config_path, "messages", "reroute", message_id,
                                  "--agency", AGENCY_OIN, "--reason", "x")
        assert usage.exit_code == 2
        assert "name no ID, --channel or --format" in usage.output
