"""An intake instance (``gateway run --role intake``) takes submissions and sends nothing.

One full instance and any number of intake instances share one database (a
SQLite file, and PostgreSQL). The intake instance checks, routes, encodes,
validates and stores what the ERP submits and answers 202; it builds no
channel, so what it stored stays queued until the full instance's dispatcher
finds it and sends it, once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from api_support import free_port, invoice_json
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text
from test_cli_run_and_status import finish, start, write_config
from test_portal import TOKEN as PORTAL_TOKEN
from test_portal import config as portal_config

from gateway.errors import GatewayError
from gateway.pipeline import DispatchSettings
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService, Role
from gateway.store import TransportState

TOKEN = "test-token"  # what instance_config and config_text set as [gateway] token
INVOICES = 3


class Instances:
    """Gateway services started for one test, all stopped at its end."""

    def __init__(self) -> None:
        self.started: list[GatewayService] = []

    async def start(self, path: Path, role: Role = Role.FULL, *, listen: str | None = None,
                    plugin: RecorderPlugin | None = None,
                    dispatch: DispatchSettings = FAST) -> GatewayService:
        pm = make_plugin_manager(plugins=[("recorder", plugin)]) if plugin else None
        service = GatewayService(path, pm, dispatch=dispatch, role=role)
        self.started.append(service)
        await service.start(listen)
        return service


@pytest.fixture
async def instances() -> AsyncIterator[Instances]:
    running = Instances()
    try:
        yield running
    finally:
        for service in reversed(running.started):
            await service.stop()


def base(service: GatewayService) -> str:
    assert service.address is not None
    host, port = service.address
    return f"http://{host}:{port}"


async def call(service: GatewayService, method: str, path: str, *, token: str = TOKEN,
               data: bytes | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
        method, f"{base(service)}{path}", data=data,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


def sent_files(outbox: Path) -> list[Path]:
    if not outbox.exists():
        return []
    return sorted(p for p in outbox.rglob("*") if p.is_file() and not p.name.startswith("."))


async def test_an_intake_instance_stores_and_only_the_full_instance_sends_once(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    outbox = tmp_path / "outbox"
    table = f"path = {str(outbox)!r}"
    intake = await instances.start(
        instance_config(tmp_path / "intake", store_url, "folder", table), Role.INTAKE)
    assert (intake.channels, intake.dispatcher, intake.delivery, intake.status_desk) == (
        {}, None, None, None)
    ids = []
    for n in range(INVOICES):
        status, body = await call(intake, "POST", f"/api/v1/outbound/{AGENCY_OIN}",
                                  data=invoice_json(f"F2024-30{n:02d}"))
        assert status == 202, body
        assert (body["channel"], body["transport_state"]) == ("folder", "queued")
        ids.append(body["id"])

    # Many poll intervals of a full instance: nothing here picks the messages up.
    await asyncio.sleep(25 * FAST.idle_poll)
    assert intake.store is not None
    for message_id in ids:
        record = await intake.store.get(message_id)
        assert record is not None
        assert record.transport_state is TransportState.QUEUED
        assert await intake.store.attempts(message_id) == []
    assert sent_files(outbox) == []

    full = await instances.start(
        instance_config(tmp_path / "full", store_url, "folder", table))
    assert full.store is not None
    for _ in range(500):
        records = [await full.store.get(i) for i in ids]
        if all(r is not None and r.transport_state is TransportState.SENT for r in records):
            break
        await asyncio.sleep(0.02)
    states = {r.id: r.transport_state for r in records if r is not None}
    assert set(states.values()) == {TransportState.SENT}, states
    await asyncio.sleep(10 * FAST.idle_poll)  # time for a second send, were there one
    assert len(sent_files(outbox)) == INVOICES, sent_files(outbox)
    for message_id in ids:
        attempts = await full.store.attempts(message_id)
        assert [a.outcome.value for a in attempts] == ["accepted"], attempts


async def test_health_says_the_role_and_an_intake_instance_lists_no_channels(
    tmp_path: Path, instances: Instances,
) -> None:
    database = f"sqlite:///{tmp_path / 'gateway.db'}"
    table = f"path = {str(tmp_path / 'outbox')!r}"
    intake = await instances.start(
        instance_config(tmp_path / "intake", database, "folder", table), Role.INTAKE)
    full = await instances.start(instance_config(tmp_path / "full", database, "folder", table))

    status, report = await call(intake, "GET", "/health")
    assert status == 200
    assert (report["status"], report["role"], report["channels"], report["problems"]) == (
        "ok", "intake", {}, []), report

    status, report = await call(full, "GET", "/health")
    assert status == 200
    assert (report["role"], report["channels"]) == ("full", {"folder": "running"}), report


async def test_an_intake_instance_says_when_what_it_accepted_waits_unsent(
    tmp_path: Path, instances: Instances, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With only intake instances running (the full one stopped, or never started) every
    accepted message waited, and /health said ok."""
    import gateway.service

    monkeypatch.setattr(gateway.service, "OVERDUE_AFTER", timedelta(0))  # due at once
    database = f"sqlite:///{tmp_path / 'gateway.db'}"
    table = f"path = {str(tmp_path / 'outbox')!r}"
    intake = await instances.start(
        instance_config(tmp_path / "intake", database, "folder", table), Role.INTAKE)
    status, body = await call(intake, "POST", f"/api/v1/outbound/{AGENCY_OIN}",
                              data=invoice_json("F2024-3100"))
    assert status == 202, body
    await asyncio.sleep(0.01)
    status, report = await call(intake, "GET", "/health")
    assert report["status"] == "degraded", report
    [problem] = report["problems"]
    assert problem.startswith("1 outbound message(s) due for over 5 min wait unclaimed"), problem
    assert "is a full instance running on this database?" in problem

    full = await instances.start(instance_config(tmp_path / "full", database, "folder", table))
    assert full.store is not None
    for _ in range(500):
        record = await full.store.get(body["id"])
        if record is not None and record.transport_state is TransportState.SENT:
            break
        await asyncio.sleep(0.02)
    status, report = await call(intake, "GET", "/health")
    assert (report["status"], report["problems"]) == ("ok", []), report


def test_an_intake_instance_does_not_need_the_channel_plugins(tmp_path: Path) -> None:
    # The recorder channel's plugin is not installed here: a full instance cannot run
    # the channel and says so; an intake instance never would, so that is no problem there.
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    full = GatewayService(path)
    intake = GatewayService(path, role="intake")
    assert any("'recorder'" in problem for problem in full.config_problems()), (
        full.config_problems())
    assert intake.config_problems() == []


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    with pytest.raises(GatewayError, match=r"'bogus'.*'full', 'intake'"):
        GatewayService(path, role="bogus")


async def test_channel_routes_are_not_mounted_on_an_intake_instance(
    tmp_path: Path, instances: Instances,
) -> None:
    path = portal_config(tmp_path, free_port())
    full = await instances.start(path)
    intake = await instances.start(path, Role.INTAKE, listen="127.0.0.1:0")
    tasks = "/api/v1/channels/portal/tasks"

    status, body = await call(full, "GET", tasks, token=PORTAL_TOKEN)
    assert status == 200, body

    status, body = await call(intake, "GET", tasks, token=PORTAL_TOKEN)
    unknown_status, unknown = await call(intake, "GET", "/api/v1/no-such-route",
                                         token=PORTAL_TOKEN)
    assert status == unknown_status == 404, body
    assert (body["type"], body["title"]) == (unknown["type"], unknown["title"]), body
    _, document = await call(intake, "GET", "/openapi.json", token=PORTAL_TOKEN)
    assert not [p for p in document["paths"] if p.startswith("/api/v1/channels/")]


async def test_an_intake_instance_applies_a_config_edit_without_restart(
    tmp_path: Path, instances: Instances,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    plugin = RecorderPlugin()
    intake = await instances.start(path, Role.INTAKE, plugin=plugin)
    intake.config_holder.check_interval = 0
    assert intake.outbound is not None

    before, _ = await intake.outbound.submit(invoice_json("F2024-4001"), agency_oin=AGENCY_OIN)
    assert before.channel == "recorder"

    # The agency re-routed to the folder channel, and a channel added that a full
    # instance would start on the reload.
    text = path.read_text("utf-8")
    rerouted = text.replace('default_channel = "recorder"', 'default_channel = "folder"', 1)
    assert rerouted != text
    path.write_text(rerouted + f'\n[channels.extra]\ntype = "folder"\n'
                               f'path = {str(tmp_path / "extra")!r}\n', "utf-8")
    assert intake.config_holder.current().agencies  # reloads now (check_interval 0)
    assert intake.config_holder.version == 2
    await asyncio.sleep(0.2)  # reload listeners run on the loop

    after, _ = await intake.outbound.submit(invoice_json("F2024-4002"), agency_oin=AGENCY_OIN)
    assert after.channel == "folder"
    assert (after.transport_state, before.transport_state) == (
        TransportState.QUEUED, TransportState.QUEUED)
    assert intake.channels == {}
    assert plugin.instances == {}, "an intake instance built a channel"
    report = await intake.health()
    assert (report["channels"], report["problems"]) == ({}, []), report


def test_gateway_run_role_intake_serves_health_as_intake(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    process = start(config, "--role", "intake")
    report: dict[str, Any] | None = None
    try:
        for _ in range(400):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health",
                                            timeout=1) as answer:
                    report = json.load(answer)
                break
            except OSError:
                assert process.poll() is None, "the intake instance did not start"
                time.sleep(0.05)
        shown = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "status"],
            capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("ok: version"), shown.stdout
        assert "intake only" in shown.stdout.splitlines()[0], shown.stdout
    finally:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, f"exit {process.returncode}: {err[-500:]}"
    assert report is not None, f"/health never answered: {err[-500:]}"
    assert (report["role"], report["channels"], report["status"]) == (
        "intake", {}, "ok"), report
    assert "intake only" in err


def test_gateway_run_refuses_an_unknown_role_naming_the_choices(tmp_path: Path) -> None:
    code, _, err = finish(start(write_config(tmp_path, free_port()), "--role", "bogus"))
    assert code == 2, err
    assert "Traceback" not in err, err
    assert "Invalid value for '--role'" in err, err
    assert "'full'" in err, err
    assert "'intake'" in err, err
