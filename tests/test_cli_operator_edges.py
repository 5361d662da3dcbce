"""The operator commands at their edges: who is asking, and which agency is meant."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest
from api_support import invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_api_messages import until_state
from test_cli_send import gateway_cli, write_invoices

from gateway.channels import FinalError
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


def uid_without_a_name() -> int:
    """A user id the password database does not know (a container run with --user)."""
    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


async def test_an_operator_without_a_user_name_can_still_act(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`docker run --user 1000` or an OpenShift pod: the uid has no passwd entry and no
    USER/LOGNAME is set. The default of --actor used to crash with a KeyError traceback
    before the request was made; the action must go through, recorded under the token."""
    async with running_gateway(tmp_path) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("refused"),
                                                       FinalError("refused again")]
        message_id = (await gateway.call("POST", SUBMIT, data=invoice_json()))[2]["id"]
        await until_state(gateway, message_id, {TransportState.FAILED})
        for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(os, "getuid", uid_without_a_name)
        result = await gateway_cli(gateway.config_path, "messages", "cancel", message_id,
                                   "--reason", "handled by phone")
        assert result.exception is None, repr(result.exception)
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"message {message_id}: cancelled")
        audit = [(a.action, a.actor, a.reason) for a in await gateway.store.audit_log()]
        assert ("message.cancel", "token gateway", "handled by phone") in audit


@pytest.mark.parametrize("command", [("messages", "list"), ("inbox", "list")])
async def test_a_mistyped_agency_is_named_not_an_empty_listing(
    tmp_path: Path, command: tuple[str, ...],
) -> None:
    """`--agency 0000000100322752200` (a digit short) listed 'no messages match', as if
    the agency had none: the operator went looking for lost messages."""
    async with running_gateway(tmp_path) as gateway:
        assert (await gateway.call("POST", SUBMIT, data=invoice_json("A-1")))[0] == 202
        result = await gateway_cli(gateway.config_path, *command, "--agency", AGENCY_OIN[:-1])
        assert result.exit_code == 2, result.output
        assert f"{AGENCY_OIN[:-1]!r} is not an OIN" in result.output
        assert "--agency" in result.output


async def test_an_agency_written_in_groups_finds_its_messages(tmp_path: Path) -> None:
    """An OIN copied as printed on a letter ("0000 0001 ...") is the same agency, as for
    `gateway send`; the listing filtered on the spaced text and found nothing."""
    async with running_gateway(tmp_path) as gateway:
        message_id = (await gateway.call("POST", SUBMIT, data=invoice_json("A-2")))[2]["id"]
        spaced = " ".join(AGENCY_OIN[i:i + 4] for i in range(0, len(AGENCY_OIN), 4))
        result = await gateway_cli(gateway.config_path, "messages", "list", "--agency", spaced,
                                   "--json")
        assert result.exit_code == 0, result.output
        assert [m["id"] for m in json.loads(result.output)["items"]] == [message_id]


async def test_a_rejection_names_the_broken_rule_once(tmp_path: Path) -> None:
    """The 422 detail ends with the one rule broken; `gateway send` printed that rule
    again below it, read as a second finding."""
    document = json.loads(invoice_json("V-1"))
    document["totals"]["payable"] = "1.00"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    async with running_gateway(tmp_path) as gateway:
        result = await gateway_cli(gateway.config_path, "send", str(broken),
                                   "--agency", AGENCY_OIN)
    assert result.exit_code == 1, result.output
    assert "the invoice amounts do not add up" in result.output
    assert result.output.count("BR-CO-16: amount due (BT-115) is 1.00") == 1, result.output


async def test_ctrl_c_in_a_long_send_still_says_what_went_through(tmp_path: Path) -> None:
    """Ctrl-C in the middle of 400 files printed only 'Aborted.': the operator could not
    tell which files the gateway had stored. The run reports as when an error stops it."""
    import asyncio
    import signal
    import sys

    async with running_gateway(tmp_path) as gateway:
        files = write_invoices(tmp_path / "docs", [f"C-{n}" for n in range(400)])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli.main", "--config", str(gateway.config_path),
            "send", *map(str, files), "--agency", AGENCY_OIN,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(600):
            if len((await gateway.store.list_messages(limit=10)).items) >= 3:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        stored = len((await gateway.store.list_messages(limit=500)).items)
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    [summary] = [line for line in stdout.splitlines() if " not sent" in line]
    accepted = int(summary.split()[0])
    # Ctrl-C may cut the file in flight after the gateway stored it but before its answer
    # came back: that one is reported as possibly stored, every other stored one by name.
    assert accepted >= 2, stdout
    assert stored in (accepted, accepted + 1), (stored, stdout)
    assert stdout.count("accepted /") == accepted, stdout
    assert "interrupted" in stderr
    assert "may have been stored" in stderr
