"""Two byte-identical lines in the audit file are two records in the store's audit table.

The same switch recorded twice within one clock tick, or an operator who copied a line,
gives the same bytes twice: the file says it happened twice, so the table must too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text

from gateway.config import switch_route
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import Store, open_store


def write_config(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=database), "utf-8")
    return path


def gateway(path: Path) -> GatewayService:
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    service.config_holder.check_interval = 0.05
    return service


def copy_last_line(audit_file: Path) -> None:
    """What an operator does who copies the last line to the end of the file."""
    *_, last = audit_file.read_bytes().splitlines(keepends=True)
    with audit_file.open("ab") as file:
        file.write(last)


async def switches(store: Store) -> list[tuple[str | None, int]]:
    return [(r.reason, r.detail["line"]) for r in reversed(await store.audit_log())
            if r.action == "agencies.switch"]


async def switches_in(store_url: str) -> list[tuple[str | None, int]]:
    async with open_store(store_url) as store:
        return await switches(store)


async def run_once(path: Path) -> None:
    service = gateway(path)
    await service.start()
    await service.stop()


async def test_identical_lines_written_while_no_gateway_ran_are_two_records(
    tmp_path: Path, store_url: str,
) -> None:
    path = write_config(tmp_path, store_url)
    audit_file = tmp_path / "data" / "audit.jsonl"
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="outage")
    copy_last_line(audit_file)
    switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="back")
    await run_once(path)
    # The second copy used to be taken for the first: one record for two lines.
    assert await switches_in(store_url) == [("outage", 1), ("outage", 2), ("back", 3)]
    await run_once(path)  # a restart copies nothing twice
    assert await switches_in(store_url) == [("outage", 1), ("outage", 2), ("back", 3)]


async def test_a_line_copied_while_the_gateway_runs_is_a_record_of_its_own(
    tmp_path: Path, store_url: str,
) -> None:
    path = write_config(tmp_path, store_url)
    audit_file = tmp_path / "data" / "audit.jsonl"
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="outage")
        for _ in range(200):
            if await switches(service.store):
                break
            await asyncio.sleep(0.025)
        assert await switches(service.store) == [("outage", 1)]
        copy_last_line(audit_file)
        for _ in range(40):
            if len(await switches(service.store)) > 1:
                break
            await asyncio.sleep(0.025)
        copied = await switches(service.store)
    finally:
        await service.stop()
    assert copied == [("outage", 1), ("outage", 2)], f"two lines in the file, in the store {copied}"
    await run_once(path)
    assert await switches_in(store_url) == [("outage", 1), ("outage", 2)]
