"""Rerouting to another format through the API and the CLI.

An agency moved from Digipoort to Peppol: a message that waited for the old
channel must leave in the new one's format, encoded anew from its canonical
JSON and validated before it is queued. Bad requests name the field.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from pathlib import Path

import pytest
from api_support import OPERATOR, Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_cli_send import gateway_cli

from gateway.channels import FinalError
from gateway.config import switch_route
from gateway.paths import STANDARDS_DIR_ENV
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"
PEPPOL = "peppol-bis:invoice:3.0"


@pytest.fixture(autouse=True)
def standards(monkeypatch: pytest.MonkeyPatch, installed_standards: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


async def until_state(gateway: Running, message_id: str,
                      states: Collection[TransportState]) -> None:
    for _ in range(1000):
        record = await gateway.store.get(message_id)
        assert record is not None
        if record.transport_state in states:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} stayed {record.transport_state}")


async def failed_message(gateway: Running) -> str:
    gateway.plugin.instances["recorder"].script = [FinalError("Digipoort is gone for us")]
    status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
    assert status == 202, body
    await until_state(gateway, body["id"], {TransportState.FAILED})
    return str(body["id"])


async def test_a_reroute_to_another_channel_and_format_sends_the_new_encoding(
    store_url: str, tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        message_id = await failed_message(gateway)
        base = f"/api/v1/messages/{message_id}"
        status, _, rerouted = await gateway.call(
            "POST", f"{base}/reroute", token=OPERATOR,
            json_body={"reason": "the agency moved to Peppol", "channel": "folder",
                       "format": PEPPOL})
        assert status == 200, rerouted
        assert (rerouted["channel"], rerouted["format"]) == ("folder", PEPPOL)
        assert rerouted["validation"]["valid"] is True
        assert rerouted["validation"]["layers"]  # the Peppol layers ran
        await until_state(gateway, message_id, {TransportState.SENT})
        [sent] = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
        assert b"urn:fdc:peppol.eu:2017:poacc:billing:3.0" in sent.read_bytes()
        audit = await gateway.store.audit_log()
        assert audit[0].action == "message.reroute"
        assert audit[0].subject == message_id


async def test_bad_reroute_requests_name_the_field_and_change_nothing(
    store_url: str, tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        message_id = await failed_message(gateway)
        base = f"/api/v1/messages/{message_id}/reroute"
        cases = [
            ({"reason": "x", "format": "fax:invoice:1"}, 400, "$.format", "fax:invoice:1"),
            ({"reason": "x", "format": ""}, 400, "$.format", "non-empty"),
        ]
        for body, status_wanted, field, words in cases:
            status, _, problem = await gateway.call("POST", base, token=OPERATOR, json_body=body)
            assert status == status_wanted, problem
            assert problem["errors"][0]["field"] == field
            assert words in problem["detail"], problem
        # Naming neither follows the agency's route, which the message is on already.
        status, _, problem = await gateway.call("POST", base, token=OPERATOR,
                                                json_body={"reason": "x"})
        assert status == 409, problem
        assert "nothing to reroute" in problem["detail"]
        # A format for another kind of document is the operator's mistake about this one.
        status, _, problem = await gateway.call(
            "POST", base, token=OPERATOR,
            json_body={"reason": "x", "format": "peppol-bis:order-response:3"})
        assert status == 409, problem
        assert "does not send invoice documents" in problem["detail"]
        record = await gateway.store.get(message_id)
        assert record is not None
        assert (record.transport_state, record.format_key, record.channel) == (
            TransportState.FAILED, "canonical:invoice:1", "recorder")
        assert await gateway.store.audit_log() == []


async def test_the_cli_reroutes_to_a_format(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        message_id = await failed_message(gateway)
        result = await gateway_cli(gateway.config_path, "messages", "reroute", message_id,
                                   "--format", PEPPOL, "--reason", "agency moved to Peppol",
                                   "--json")
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)
        assert (shown["format"], shown["channel"]) == (PEPPOL, "recorder")
        await until_state(gateway, message_id, {TransportState.SENT})
        sent = gateway.plugin.instances["recorder"].calls[-1]
        assert b"urn:fdc:peppol.eu:2017:poacc:billing:3.0" in sent.payload


async def test_the_cli_reroute_without_channel_or_format_follows_the_switched_route(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        message_id = await failed_message(gateway)
        config = gateway.config_path
        result = await gateway_cli(config, "messages", "reroute", message_id, "--reason", "x")
        assert "409" in str(result.exception)
        assert "nothing to reroute" in str(result.exception)
        switch_route(config, AGENCY_OIN, "invoice", "folder", PEPPOL, reason="to Peppol")
        assert gateway.service.config_holder.reload()
        result = await gateway_cli(config, "messages", "reroute", message_id, "--reason",
                                   "the agency moved to Peppol", "--actor", "fatima")
        assert result.exit_code == 0, result.output
        assert f"message {message_id}: queued (channel folder" in result.output
        assert (f"rerouted by fatima (token gateway) to channel "
                f"folder, format {PEPPOL} as {config} now routes invoice to") in result.output
        await until_state(gateway, message_id, {TransportState.SENT})
        [sent] = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
        assert b"urn:fdc:peppol.eu:2017:poacc:billing:3.0" in sent.read_bytes()
        # Beside the switch, copied from the audit file.
        [audit] = [a for a in await gateway.store.audit_log() if a.action == "message.reroute"]
        assert audit.detail["followed_route"] == str(config)
