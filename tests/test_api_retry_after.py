"""A 503 says when to try again where the gateway can tell: workers that died, a start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from api_support import ERP, OPERATOR, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, RecorderPlugin, config_text
from test_api_reroute_format import PEPPOL, failed_message
from test_cli_send import gateway_cli

from gateway.api.app import make_app
from gateway.config import switch_route
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


def _workers() -> list[int]:
    """This process's grandchildren: the validation workers (children of the forkserver)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # The command name in parentheses may hold spaces: the fields follow its ')'.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return [pid for pid, parent in parents.items() if parent in children]


def _kill_workers_until(stop: threading.Event, started: threading.Event) -> None:
    """Kill every worker, and each new one as it starts (its warm-up takes seconds)."""
    while True:
        for pid in _workers():
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.kill(pid, signal.SIGKILL)
        started.set()  # the warm workers are gone
        if stop.wait(0.01):
            return


async def test_a_submission_whose_workers_died_is_told_when_to_try_again(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An ERP refused for a dead worker got a 503 without Retry-After: it guessed, and
    # either hammered the gateway while new workers warmed up or waited far too long.
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with running_gateway(tmp_path, invoice_format="peppol-bis:invoice:3.0") as gateway:
        pool = gateway.service.validation
        assert pool is not None
        for _ in range(1800):  # the workers start warm in the background
            if (await gateway.service.health())["validation"] == "warm":
                break
            await asyncio.sleep(0.1)
        assert (await gateway.service.health())["validation"] == "warm"
        stop, started = threading.Event(), threading.Event()
        killer = threading.Thread(target=_kill_workers_until, args=(stop, started))
        killer.start()
        try:
            assert await asyncio.to_thread(started.wait, 60)
            status, headers, problem = await gateway.call("POST", SUBMIT, data=invoice_json(),
                                                          token=ERP)
        finally:
            stop.set()
            killer.join()
        assert status == 503, problem
        assert "not validated" in problem["detail"]
        # The longest start until warm seen, plus a second for the process: at least 2 s.
        assert headers.get("Retry-After") == str(pool.replacement_seconds()), headers
        assert int(headers["Retry-After"]) >= 2
        assert (await gateway.store.list_messages()).items == ()
        # New workers take the document once nothing kills them.
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json(), token=ERP)
        assert status == 202, body


async def test_a_gateway_not_started_yet_says_when_to_try_again(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]))
    headers = {"Authorization": "Bearer test-token"}
    async with TestServer(make_app(service)) as server, aiohttp.ClientSession(
            headers=headers) as client:
        answer = await client.post(server.make_url(SUBMIT), data=invoice_json())
        assert answer.status == 503, await answer.text()
        assert answer.headers.get("Retry-After") == "5"
        assert "starting" in (await answer.json())["detail"]
        answer = await client.get(server.make_url("/api/v1/messages"))
        assert answer.status == 503
        assert answer.headers.get("Retry-After") == "5"


@contextlib.asynccontextmanager
async def workers_dying() -> AsyncIterator[None]:
    """Every validation worker killed as it starts, until the block ends."""
    stop, started = threading.Event(), threading.Event()
    killer = threading.Thread(target=_kill_workers_until, args=(stop, started))
    killer.start()
    try:
        assert await asyncio.to_thread(started.wait, 60)
        yield
    finally:
        stop.set()
        killer.join()


async def test_a_reroute_whose_workers_died_is_told_when_to_try_again(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reroute validates the document in its new format as intake does, but workers
    # that died twice made it answer 500 "internal error", and the CLI said no more: an
    # operator could not tell a passing fault from a bug.
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with running_gateway(tmp_path) as gateway:
        pool = gateway.service.validation
        assert pool is not None
        message_id = await failed_message(gateway)
        reroute = {"reason": "the agency moved to Peppol", "channel": "folder",
                   "format": PEPPOL}
        async with workers_dying():
            status, headers, problem = await gateway.call(
                "POST", f"/api/v1/messages/{message_id}/reroute", json_body=reroute,
                token=OPERATOR)
            assert status == 503, problem
            assert headers.get("Retry-After") == str(pool.replacement_seconds()), headers
            assert "not validated" in problem["detail"]
            assert "the message is unchanged" in problem["detail"]

            cli = await gateway_cli(gateway.config_path, "messages", "reroute", message_id,
                                    "--channel", "folder", "--format", PEPPOL,
                                    "--reason", "the agency moved to Peppol")
            assert cli.exit_code != 0
            said = str(cli.exception)
            assert "answered 503" in said, said
            assert "not validated" in said, said
            assert f"(try again in {pool.replacement_seconds()} s)" in said, said

            switch_route(gateway.config_path, AGENCY_OIN, "invoice", "folder", PEPPOL,
                         reason="to Peppol")
            assert gateway.service.config_holder.reload()
            status, headers, problem = await gateway.call(
                "POST", "/api/v1/messages/reroute", token=OPERATOR, json_body={
                    "reason": "moved to Peppol", "agency": AGENCY_OIN, "states": ["failed"]})
            assert status == 503, problem
            assert headers.get("Retry-After") == str(pool.replacement_seconds()), headers
            assert "the same request again goes on with the rest" in problem["detail"]
        record = await gateway.store.get(message_id)
        assert record is not None
        assert (record.transport_state, record.channel, record.format_key) == (
            TransportState.FAILED, "recorder", "canonical:invoice:1")
        # New workers take it once nothing kills them.
        status, _, rerouted = await gateway.call(
            "POST", f"/api/v1/messages/{message_id}/reroute", json_body=reroute,
            token=OPERATOR)
        assert status == 200, rerouted
