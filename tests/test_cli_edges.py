"""The CLI on top of the API at its edges: IPv6 listeners, partial runs, odd ids, paging."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from api_support import free_port, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, document_json
from test_cli_send import gateway_cli, write_invoices

from gateway.client import GatewayClient, GatewayUnreachable
from gateway.errors import GatewayError
from gateway.model.samples import example_credit_note

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def test_the_cli_reaches_a_gateway_listening_on_all_ipv6_interfaces(
    tmp_path: Path,
) -> None:
    # listen = "[::]:PORT": asyncio binds an IPv6-only socket (IPV6_V6ONLY), so the
    # client must go to ::1, not 127.0.0.1, where nobody listens.
    port = free_port()
    async with running_gateway(tmp_path, listen=f"[::]:{port}") as gateway:
        result = await gateway_cli(gateway.config_path, "messages", "list", "--json")
        assert result.exception is None, str(result.exception)
        assert result.exit_code == 0
        assert json.loads(result.output) == {"items": [], "next_cursor": None}


async def test_send_many_files_reports_what_was_stored_before_an_error_stops_it(
    tmp_path: Path,
) -> None:
    # The third of five files meets a 503 (the database hiccups, validation cannot
    # run). The run stops, as designed, and still reports the two files already
    # stored and queued for sending, and the ones it did not send.
    async with running_gateway(tmp_path) as gateway:
        files = write_invoices(tmp_path / "docs", [f"P-{n}" for n in range(5)])
        pipeline = gateway.service.outbound
        assert pipeline is not None
        real_submit = pipeline.submit

        async def flaky_submit(raw: bytes, **kwargs: Any) -> Any:
            if b'"P-2"' in raw:
                raise GatewayError("database is locked")
            return await real_submit(raw, **kwargs)

        pipeline.submit = flaky_submit  # type: ignore[method-assign,assignment]
        result = await gateway_cli(gateway.config_path, "send", *map(str, files),
                                   "--agency", AGENCY_OIN)
        stored = (await gateway.store.list_messages()).items
        assert len(stored) == 2  # P-0 and P-1 are queued for sending
        assert result.exit_code == 2
        # The operator must be able to tell that P-0 and P-1 went through, and which not.
        assert "2 accepted, 0 duplicate, 0 rejected, 3 not sent" in result.output, result.output
        for message in stored:
            assert message.id in result.output


async def test_the_more_hint_keeps_the_filters_of_the_listing(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        # An older credit note, then two invoices.
        assert (await gateway.call("POST", SUBMIT,
                                   data=document_json(example_credit_note())))[0] == 202
        for number in ("H-1", "H-2"):
            assert (await gateway.call("POST", SUBMIT, data=invoice_json(number)))[0] == 202
        result = await gateway_cli(gateway.config_path, "messages", "list", "--kind",
                                   "invoice", "--limit", "1")
        assert result.exit_code == 0, result.output
        [hint] = [line for line in result.output.splitlines() if line.startswith("(more:")]
        command = hint.removeprefix("(more: ").removesuffix(")").split()[1:]
        # Following the hint must continue the same listing: invoices only.
        followed = await gateway_cli(gateway.config_path, *command, "--json")
        kinds = {m["kind"] for m in json.loads(followed.output)["items"]}
        assert kinds == {"invoice"}, hint


def test_a_message_id_with_a_space_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline_support import config_text

    from gateway.cli.main import main

    config = tmp_path / "gateway.toml"
    config.write_text(config_text(tmp_path).replace('"127.0.0.1:0"',
                                                    f'"127.0.0.1:{free_port()}"'))
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "messages", "show", "01M8 KSPF3R25W6S3NPDX56TZQK"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gateway: ")
    assert "Traceback" not in err


def test_a_gateway_that_takes_the_request_but_never_answers_is_not_called_absent() -> None:
    """A timeout after connecting is no 'is gateway run running?': the request may have
    been carried out, and the user must look before sending it again."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = GatewayClient(f"http://127.0.0.1:{port}", "t", timeout=0.3)
        with pytest.raises(GatewayUnreachable) as posted:
            client.post_json("/api/v1/outbound/00000001003214345000", {"document": "invoice"})
        with pytest.raises(GatewayUnreachable) as got:
            client.get_json("/api/v1/messages")
    assert "did not answer POST /api/v1/outbound/00000001003214345000" in str(posted.value)
    assert "may have been stored all the same" in str(posted.value)
    assert "did not answer GET /api/v1/messages" in str(got.value)
    assert "stored" not in str(got.value)
    with pytest.raises(GatewayUnreachable, match=r"no gateway answers at .*gateway run"):
        GatewayClient(f"http://127.0.0.1:{port}", "t", timeout=0.3).get_json("/health")
