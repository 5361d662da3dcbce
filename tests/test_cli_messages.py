"""``gateway messages`` and ``gateway inbox`` against a running gateway."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import attrs
from api_support import invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, document_json
from test_api_messages import until_state
from test_cli_send import gateway_cli

from gateway.channels import FinalError, InboundDocument, RetryableError
from gateway.model.samples import example_order
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def test_list_and_show(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        ids = []
        for number in ("L-1", "L-2", "L-3"):
            ids.append((await gateway.call("POST", SUBMIT, data=invoice_json(number)))[2]["id"])
        for message_id in ids:
            await until_state(gateway, message_id, {TransportState.SENT})
        config = gateway.config_path

        result = await gateway_cli(config, "messages", "list")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].split() == ["id", "dir", "kind", "agency", "channel", "state",
                                    "business", "tries", "created"]
        assert [line.split()[0] for line in lines[2:]] == list(reversed(ids))
        assert all("out invoice " + AGENCY_OIN in " ".join(line.split()) for line in lines[2:])

        result = await gateway_cli(config, "messages", "list", "--limit", "2", "--json")
        page = json.loads(result.output)
        assert [m["id"] for m in page["items"]] == [ids[2], ids[1]]
        result = await gateway_cli(config, "messages", "list", "--limit", "2",
                                   "--cursor", page["next_cursor"])
        assert ids[0] in result.output
        assert ids[1] not in result.output
        result = await gateway_cli(config, "messages", "list", "--limit", "2")
        # The configuration given with --config is named: the line works as it stands.
        assert (f"(more: gateway --config {config} messages list --limit 2 "
                f"--cursor {page['next_cursor']})" in result.output)

        result = await gateway_cli(config, "messages", "list", "--state", "failed")
        assert result.output.strip() == "no messages match"
        result = await gateway_cli(config, "messages", "list", "--business-key",
                                   f"30097265:{AGENCY_OIN}:invoice:L-2", "--json")
        assert [m["id"] for m in json.loads(result.output)["items"]] == [ids[1]]
        result = await gateway_cli(config, "messages", "list", "--direction", "inbound",
                                   "--kind", "invoice")
        assert "no messages match" in result.output

        result = await gateway_cli(config, "messages", "show", ids[0])
        assert result.exit_code == 0, result.output
        text = result.output
        assert text.startswith(f"message {ids[0]} (outbound invoice)")
        assert "transport:    sent" in text
        assert "routing:" in text
        assert "timeline:" in text
        assert "intake" in text
        assert "-> sent" in text
        assert "attempts:\n  #1 " in text
        assert " accepted: recorded" in text
        result = await gateway_cli(config, "messages", "show", ids[0], "--json", "--payload")
        shown = json.loads(result.output)
        assert shown["canonical"]["number"] == "L-1"
        assert shown["payload"]

        result = await gateway_cli(config, "messages", "show", "01M8KSPF3R25W6S3NPDX56TZQK")
        assert result.exit_code != 0
        assert "404 Not found: no message with id" in str(result.exception)


async def test_show_lists_validation_findings(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        document = json.loads(invoice_json("V-1"))
        document["totals"]["payable"] = "1.00"
        status, _, problem = await gateway.call("POST", SUBMIT,
                                                data=json.dumps(document).encode())
        assert status == 422
        result = await gateway_cli(gateway.config_path, "messages", "show",
                                   problem["message_id"])
        assert "transport:    rejected" in result.output
        assert "last error:   check: the invoice amounts do not add up" in result.output
        assert "rejected" in result.output
        assert "BR-CO-16" in result.output


async def test_retry_cancel_reroute(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("refused"),
                                                       FinalError("refused again")]
        message_id = (await gateway.call("POST", SUBMIT, data=invoice_json()))[2]["id"]
        await until_state(gateway, message_id, {TransportState.FAILED})
        config = gateway.config_path

        result = await gateway_cli(config, "messages", "retry", message_id)
        assert result.exit_code == 2
        assert "--reason" in result.output
        result = await gateway_cli(config, "messages", "retry", message_id, "--reason",
                                   "agency is back", "--actor", "fatima")
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"message {message_id}: queued (channel recorder")
        await until_state(gateway, message_id, {TransportState.FAILED})

        result = await gateway_cli(config, "messages", "cancel", message_id, "--reason",
                                   "handled by phone", "--json")
        assert json.loads(result.output)["transport_state"] == "cancelled"
        result = await gateway_cli(config, "messages", "cancel", message_id, "--reason", "x")
        assert result.exit_code != 0
        assert "409" in str(result.exception)

        result = await gateway_cli(config, "messages", "reroute", message_id, "--channel",
                                   "folder", "--reason", "recorder broken")
        assert result.exit_code == 0, result.output
        assert "(channel folder" in result.output
        await until_state(gateway, message_id, {TransportState.SENT})

        audit = [(a.action, a.actor, a.reason) for a in await gateway.store.audit_log()]
        assert ("message.retry", "fatima (token gateway)", "agency is back") in audit
        assert [a[0] for a in audit] == ["message.reroute", "message.cancel", "message.retry"]


async def test_retry_sends_a_message_waiting_for_its_next_attempt_now(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        recorder = gateway.plugin.instances["recorder"]
        recorder.script = [RetryableError("agency endpoint down", retry_after=timedelta(hours=1),
                                          transport_id="T-1")]
        message_id = (await gateway.call("POST", SUBMIT, data=invoice_json()))[2]["id"]
        await until_state(gateway, message_id, {TransportState.RETRYING})
        result = await gateway_cli(gateway.config_path, "messages", "retry", message_id,
                                   "--reason", "the endpoint is back", "--actor", "fatima")
        assert result.exit_code == 0, result.exception
        assert result.output.startswith(f"message {message_id}: queued (channel recorder, "
                                        "attempts 1 of 8)")
        # Sent now, not in an hour, and under the id of the first attempt.
        await until_state(gateway, message_id, {TransportState.SENT})
        assert [call.transport_id for call in recorder.calls] == [None, "T-1"]
        audit = [(a.action, a.actor, a.detail.get("previous_state"))
                 for a in await gateway.store.audit_log()]
        assert audit == [("message.retry", "fatima (token gateway)", "retrying")]


async def test_inbox_list_and_ack(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        config = gateway.config_path
        result = await gateway_cli(config, "inbox", "list")
        assert result.output.strip() == "the inbox is empty"
        inbound_id = await gateway.service.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-7"))
        result = await gateway_cli(config, "inbox", "list")
        assert inbound_id in result.output
        assert "order" in result.output
        result = await gateway_cli(config, "inbox", "list", "--json")
        [item] = json.loads(result.output)["items"]
        assert item["canonical"]["document"] == "order"

        result = await gateway_cli(config, "inbox", "ack", inbound_id,
                                   "01M8KSPF3R25W6S3NPDX56TZQK")
        assert result.exit_code == 1
        assert f"acknowledged {inbound_id}" in result.output
        assert "not acknowledged 01M8KSPF3R25W6S3NPDX56TZQK: no message with id" in \
            result.output
        record = await gateway.store.get(inbound_id)
        assert record.transport_state is TransportState.ACKNOWLEDGED
        result = await gateway_cli(config, "inbox", "list")
        assert result.output.strip() == "the inbox is empty"


async def test_inbox_list_oldest_first_pages_through_in_arrival_order(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        config = gateway.config_path
        ids = []
        for number in ("A-1", "A-2", "A-3"):
            ids.append(await gateway.service.receive(InboundDocument(
                data=document_json(attrs.evolve(example_order(), number=number)),
                channel="folder", transport_id=number)))

        result = await gateway_cli(config, "inbox", "list", "--oldest-first", "--limit", "2")
        assert result.exit_code == 0, result.output
        listed = [line.split()[0] for line in result.output.splitlines()[2:4]]
        assert listed == ids[:2]
        # The hint for the next page keeps the order, or it would skip to older ones.
        hint = result.output.splitlines()[-1]
        assert "--oldest-first" in hint
        cursor = hint.rsplit("--cursor ", 1)[1].rstrip(")")
        result = await gateway_cli(config, "inbox", "list", "--oldest-first", "--limit", "2",
                                   "--cursor", cursor, "--json")
        assert [i["id"] for i in json.loads(result.output)["items"]] == ids[2:]

        result = await gateway_cli(config, "inbox", "list", "--json")
        assert [i["id"] for i in json.loads(result.output)["items"]] == list(reversed(ids))
