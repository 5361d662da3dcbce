"""Two instances following one audit file copy each change into the audit table once.

Two gateway services run from one configuration file on one database (a
SQLite file, and PostgreSQL): one data folder, so one audit file. A route
switched once with the CLI's ``switch_route`` is one audit record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from instances_support import running
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text

from gateway.config import switch_route
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import AuditRecord, Store


@pytest.fixture
async def pair(store_url: str, tmp_path: Path,
               ) -> AsyncIterator[tuple[Path, GatewayService, GatewayService]]:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=store_url), "utf-8")

    def instances() -> Iterator[GatewayService]:
        for _ in range(2):
            service = GatewayService(
                path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                dispatch=FAST)
            service.config_holder.check_interval = 0.05
            yield service

    async with running(instances()) as (first, second):
        yield path, first, second


def store(service: GatewayService) -> Store:
    assert service.store is not None
    return service.store


async def switches(service: GatewayService) -> list[AuditRecord]:
    return [r for r in await store(service).audit_log() if r.action == "agencies.switch"]


async def test_a_switch_made_while_two_instances_run_is_audited_once(
    pair: tuple[Path, GatewayService, GatewayService],
) -> None:
    path, first, second = pair
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops",
                 reason="recorder outage")
    for _ in range(200):
        if await switches(first):
            break
        await asyncio.sleep(0.025)
    # Both instances have noticed the edit (each records its reload) and looked at the file.
    for _ in range(200):
        reloads = [r for r in await store(first).audit_log() if r.action == "config-reload"]
        if len(reloads) == 2:
            break
        await asyncio.sleep(0.025)
    # Each instance's reload says whose it is, not two records of one change.
    assert sorted(r.detail["instance"] for r in reloads) == sorted(
        service.instance_name for service in (first, second))
    assert reloads[0].detail["instance"] != reloads[1].detail["instance"]
    await asyncio.sleep(0.3)
    found = await switches(second)
    assert [(r.actor, r.reason, r.detail["line"]) for r in found] == [
        ("jan@ops", "recorder outage", 1)], found
