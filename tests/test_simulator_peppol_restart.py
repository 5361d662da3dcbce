"""The Peppol simulator keeps its transmissions in a state folder across restarts.

`make run` (scripts/run-local.sh) restarts the simulator with the gateway. A
simulator that forgot what it took in answered 404 to the receipt requests
that followed, and the gateway dead-lettered every message still waiting
for its receipt (``unknown-transmission``); a real access point keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from api_support import free_port
from pipeline_support import AGENCY_OIN, FAST
from test_peppol_channel import config as peppol_config

from gateway.model.json import to_json
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.peppol.channel import PeppolChannel
from plugins.peppol.sbdh import participant, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings
from plugins.ubl_invoice.samples import dutch_invoice

REPO = Path(__file__).resolve().parents[1]
RUN_LOCAL = REPO / "scripts" / "run-local.sh"
BIN = Path(sys.executable).parent
TOKEN_ENV = "WISSEL_TEST_PEPPOL_TOKEN"
TOKEN = "ap-token-restart"


def _invoice_sbdh(instance_id: str | None = None) -> tuple[str, bytes]:
    registry = build_registry(make_plugin_manager())
    fmt = registry.format("peppol-bis:invoice:3.0")
    sample = fmt.samples()[0]
    payload = sample.data or fmt.encode(sample.document, sample.context)
    envelope, data = wrap(payload, sender=participant("0106:30097265", "sender"),
                          receiver=participant("0190:00000001003227522000", "receiver"),
                          instance_id=instance_id)
    return envelope.instance_id, data


@contextlib.asynccontextmanager
async def running(settings: SimulatorSettings) -> AsyncIterator[PeppolSimulator]:
    """A started simulator, stopped at the end of the block."""
    simulator = PeppolSimulator(settings)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _settings(state: Path | None, standards: Path, **extra: Any) -> SimulatorSettings:
    return SimulatorSettings(listen="127.0.0.1:0", standards=standards, state_dir=state,
                             **extra)


async def _post(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/outbound", data=data, headers={"Content-Type": "application/xml"}) as answer:
        return answer.status, await answer.json(content_type=None)


async def _receipt(url: str, ident: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{url}/outbound/{ident}") as answer:
        return answer.status, await answer.json(content_type=None)


async def _final_receipt(url: str, ident: str, within: float = 60.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, body = await _receipt(url, ident)
        assert status == 200, body
        if body["status"] != "accepted":
            return body
        assert asyncio.get_running_loop().time() < deadline, f"no final receipt: {body}"
        await asyncio.sleep(0.1)


async def test_a_receipt_asked_after_a_restart_is_the_same_receipt(
    tmp_path: Path, installed_standards: Path,
) -> None:
    state = tmp_path / "state"
    ident, data = _invoice_sbdh()
    async with running(_settings(state, installed_standards)) as first:
        status, _ = await _post(first.url, data)
        assert status == 202
        before = await _final_receipt(first.url, ident)
    assert before["status"] == "delivered", before

    async with running(_settings(state, installed_standards)) as second:
        status, after = await _receipt(second.url, ident)
        assert status == 200, f"the restarted simulator does not know {ident}: {after}"
        assert after == before
        # The same document sent again is still recognised as a repeat.
        status, repeat = await _post(second.url, data)
        assert (status, repeat["duplicate"]) == (200, True)
        assert second.transmissions[ident].copies == 2


async def test_a_transmission_still_being_validated_at_the_stop_is_finished_after_it(
    tmp_path: Path, installed_standards: Path,
) -> None:
    state = tmp_path / "state"
    ident, data = _invoice_sbdh()
    async with running(_settings(state, installed_standards)) as first:
        await first.take(data)  # acknowledged; validation not even begun
    assert first.transmissions[ident].status == "accepted"

    async with running(_settings(state, installed_standards)) as second:
        receipt = await _final_receipt(second.url, ident)
        assert receipt["status"] == "delivered", receipt


async def test_an_injected_failure_survives_the_restart(
    tmp_path: Path, installed_standards: Path,
) -> None:
    """A failure injected on a document still being validated is its fate after a restart."""
    state = tmp_path / "state"
    ident, data = _invoice_sbdh()
    async with running(_settings(state, installed_standards)) as first:
        await first.take(data, "AS4 transmission failed (test)")
    async with running(_settings(state, installed_standards)) as second:
        receipt = await _final_receipt(second.url, ident)
        assert receipt["status"] == "failed", receipt
        assert receipt["error"]["text"] == "AS4 transmission failed (test)"


async def test_a_forgotten_transmission_stays_forgotten_after_a_restart(
    tmp_path: Path, installed_standards: Path,
) -> None:
    state = tmp_path / "state"
    ident, data = _invoice_sbdh("../../escape attempt")
    async with running(_settings(state, installed_standards, validate=False)) as first:
        await first.take(data, wait=True)
        assert [p.parent for p in state.rglob("*") if p.is_file()] == [state]
        async with aiohttp.ClientSession() as session, session.delete(
                f"{first.url}/control/transmissions/{ident.replace('/', '%2F')}") as answer:
            assert answer.status == 200, await answer.text()
    assert list(state.iterdir()) == []
    async with running(_settings(state, installed_standards, validate=False)) as second:
        assert second.transmissions == {}


async def test_a_resend_after_forget_survives_the_forgotten_ones_late_verdict(
    tmp_path: Path, installed_standards: Path,
) -> None:
    """The forgotten transmission, still being validated, saved its verdict over the new
    one's file and then deleted it: the new one, acknowledged, was gone after a restart."""
    state = tmp_path / "state"
    ident, first = _invoice_sbdh("resend-after-forget")
    registry = build_registry(make_plugin_manager())
    fmt = registry.format("peppol-bis:invoice:3.0")
    sample = fmt.samples()[0]
    payload = sample.data or fmt.encode(sample.document, sample.context)
    # The same invoice under a CustomizationID no format here knows: judged at once.
    other = re.sub(rb"(<cbc:CustomizationID>)[^<]*", rb"\1urn:example:unknown", payload,
                   count=1)
    _, second = wrap(other, sender=participant("0106:30097265", "sender"),
                     receiver=participant("0190:00000001003227522000", "receiver"),
                     instance_id=ident)
    async with running(_settings(state, installed_standards)) as simulator:
        assert (await _post(simulator.url, first))[0] == 202  # a cold pool: validated late
        assert simulator.forget(ident)
        assert (await _post(simulator.url, second))[0] == 202
        renewed = simulator.transmissions[ident]
        while simulator._tasks:  # the first one's validation, and the second's verdict
            await asyncio.wait(set(simulator._tasks))
        assert simulator.transmissions[ident] is renewed
    async with running(_settings(state, installed_standards)) as restarted:
        status, body = await _receipt(restarted.url, ident)
        assert status == 200, body
        assert body["status"] == renewed.status


async def test_bad_files_in_the_state_folder_are_named_in_the_log_and_skipped(
    tmp_path: Path, installed_standards: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "state"
    ident, data = _invoice_sbdh()
    async with running(_settings(state, installed_standards, validate=False)) as first:
        await first.take(data, wait=True)
    [good] = state.iterdir()
    kept = json.loads(good.read_text("utf-8"))
    (state / "not-json.json").write_bytes(b"{half a file")
    (state / "a-list.json").write_text("[1, 2]", "utf-8")
    (state / "no-sbdh.json").write_text(json.dumps({**kept, "id": "no-sbdh", "sbdh": "PGEvPg=="}),
                                        "utf-8")
    (state / "bad-status.json").write_text(
        json.dumps({**kept, "id": "bad-status", "status": "sideways"}), "utf-8")
    (state / "other-name.json").write_text(good.read_text("utf-8"), "utf-8")
    (state / ".tmp-being-written.json.tmp").write_bytes(b"{")

    second = PeppolSimulator(_settings(state, installed_standards, validate=False))
    with caplog.at_level(logging.WARNING):
        await second.start()
    try:
        status, receipt = await _receipt(second.url, ident)
        assert (status, receipt["status"]) == (200, "delivered")
        assert list(second.transmissions) == [ident]
    finally:
        await second.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("not-json.json", "a-list.json", "no-sbdh.json", "bad-status.json",
                 "other-name.json"):
        assert str(state / name) in logged, logged
    assert "sideways" in logged
    assert "SBDH" in logged
    assert ".tmp-being-written" not in logged


def _run_local_peppol_command() -> str:
    """The simulator's command line in scripts/run-local.sh, as bash would run it."""
    text = RUN_LOCAL.read_text("utf-8").replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if " simulate peppol " in line]
    return line.strip().removesuffix("&").strip()


def _wait_for(url: str, process: subprocess.Popen[bytes], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        assert process.poll() is None, "the simulator exited"
        assert time.monotonic() < deadline, "the simulator did not answer"
        try:
            with urllib.request.urlopen(f"{url}/control/transmissions", timeout=2):
                return
        except OSError:
            time.sleep(0.2)


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_make_runs_simulator_answers_receipts_of_before_its_restart(
    tmp_path: Path, installed_standards: Path,
) -> None:
    """The simulator exactly as scripts/run-local.sh starts it, stopped as it stops it."""
    port = free_port()
    command = _run_local_peppol_command()
    assert "127.0.0.1:8781" in command
    command = command.replace("127.0.0.1:8781", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    (data_dir / "peppol" / "inbox").mkdir(parents=True)
    env = {**os.environ, "BIN": str(BIN), "CONFIG": str(REPO / "examples" / "gateway.toml"),
           "DATA": str(data_dir), "GATEWAY_DATA_DIR": str(data_dir),
           "GATEWAY_STANDARDS_DIR": str(installed_standards),
           "WISSEL_API_TOKEN": "wissel-local-development"}
    ident, data = _invoice_sbdh()
    receipts = []
    for run in range(2):
        process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=REPO, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for(url, process)
            if run == 0:
                request = urllib.request.Request(f"{url}/outbound", data=data, method="POST",
                                                 headers={"Content-Type": "application/xml"})
                with urllib.request.urlopen(request, timeout=10) as answer:
                    assert answer.status == 202
            deadline = time.monotonic() + 60
            while True:
                status, receipt = _get(f"{url}/outbound/{ident}")
                assert status == 200, (f"run {run + 1}: HTTP {status} for {ident}: {receipt} "
                                       f"(command: {shlex.quote(command)})")
                if receipt["status"] != "accepted" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            receipts.append(receipt)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=30)
        assert process.returncode == 0, errors.decode(errors="replace")
    assert receipts[0]["status"] == "delivered", receipts[0]
    assert receipts[1] == receipts[0]


async def test_the_gateway_gets_the_receipt_from_a_restarted_simulator(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end: the message reaches delivered-to-agency instead of unknown-transmission."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    state = tmp_path / "simulator-state"
    # Until the restart every receipt request is answered "still accepted".
    first = PeppolSimulator(_settings(state, installed_standards, token=TOKEN,
                                      receipt_faults=("pending:100%",)))
    await first.start()
    assert first.address is not None
    port = first.address[1]
    config = peppol_config(tmp_path, installed_standards,
                           f'access_point = "{first.url}"\ntoken_env = "{TOKEN_ENV}"\n'
                           "poll_interval = 0.05\ntimeout = 2\n")
    service = GatewayService(config, dispatch=FAST)
    await service.start()
    second: PeppolSimulator | None = None
    try:
        assert service.outbound is not None
        assert service.store is not None
        channel = service.channels["peppol"]
        assert isinstance(channel, PeppolChannel)
        record, _ = await service.outbound.submit(
            json.dumps(to_json(attrs.evolve(dutch_invoice(), number="F2024-0042"))).encode(),
            agency_oin=AGENCY_OIN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not any(t.status == "delivered" and first.receipt_calls[t.id] > 0
                      for t in first.transmissions.values()):
            assert loop.time() < deadline, "the gateway never asked for its receipt"
            await asyncio.sleep(0.05)
        await first.stop()

        second = PeppolSimulator(attrs.evolve(first.settings, listen=f"127.0.0.1:{port}",
                                              receipt_faults=()))
        await second.start()
        deadline = loop.time() + 60
        while True:
            found = await service.store.get(record.id)
            assert found is not None
            if (found.transport_state is TransportState.SENT
                    and found.business_state == "delivered-to-agency"):
                break
            codes = [event.detail.get("code") for event in await service.store.events(record.id)
                     if event.kind == "status"]
            assert "unknown-transmission" not in codes, found
            assert loop.time() < deadline, f"gave up waiting; the message is {found}"
            await asyncio.sleep(0.05)
        assert found.transport_id is not None
        assert second.receipt_calls[found.transport_id] > 0
    finally:
        await service.stop()
        await first.stop()
        if second is not None:
            await second.stop()
