"""Configuration changes reach the store's audit table while the gateway runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text

from gateway.config import switch_route
from gateway.config.audit import AuditLog
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import AuditRecord, Store, open_store


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path.write_text(config_text(tmp_path, database=url), "utf-8")
    return path


def gateway(path: Path) -> GatewayService:
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    service.config_holder.check_interval = 0.05
    return service


async def audit_until(store: Store, count: int) -> list[AuditRecord]:
    for _ in range(200):
        records = await store.audit_log()
        if len(records) >= count:
            return records
        await asyncio.sleep(0.025)
    raise AssertionError(f"the audit table has {len(records)} records, expected {count}")


async def test_a_switch_while_the_gateway_runs_is_in_the_store_with_what_changed(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path)
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        assert await service.store.audit_log() == []
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops",
                     reason="recorder outage")
        records = await audit_until(service.store, 2)
        await asyncio.sleep(0.2)  # nothing more comes: each change is recorded once
        assert len(await service.store.audit_log()) == 2
    finally:
        await service.stop()
    by_action = {r.action: r for r in records}
    reload = by_action["config-reload"]
    assert reload.actor == "gateway"
    assert reload.subject == str(path)
    assert reload.detail["version"] == 2
    assert reload.detail["changes"]["routes"] == [{
        "agency": AGENCY_OIN, "kind": "invoice",
        "from": {"kind": "invoice", "channel": "recorder", "format": "canonical:invoice:1",
                 "fallback_channel": None},
        "to": {"kind": "invoice", "channel": "folder", "format": "canonical:invoice:1",
               "fallback_channel": None},
    }]
    assert reload.detail["changes"]["agencies"] == {"changed": [AGENCY_OIN]}
    switch = by_action["agencies.switch"]
    assert (switch.actor, switch.reason) == ("jan@ops", "recorder outage")
    assert switch.detail["new"]["channel"] == "folder"
    assert switch.detail["source"] == "audit-file"
    # The file keeps its line too, for when no gateway runs.
    [line] = AuditLog(service.config.gateway.audit_log).read()
    assert line["reason"] == "recorder outage"


async def test_changes_made_while_no_gateway_ran_are_imported_once(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="piet@ops", reason="first")
    switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="piet@ops", reason="back")
    for _ in range(2):  # a restart must not copy the lines again
        service = gateway(path)
        await service.start()
        await service.stop()
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as store:
        records = await store.audit_log()
    assert [(r.reason, r.detail["line"]) for r in records] == [("back", 2), ("first", 1)]


async def test_a_broken_edit_and_a_change_of_secret_leave_only_names(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        text = path.read_text("utf-8")
        path.write_text(text + "\n[erp\n", "utf-8")  # broken: refused, nothing recorded
        await asyncio.sleep(0.3)
        assert await service.store.audit_log() == []
        path.write_text(text.replace('token = "test-token"', 'token = "n3w-s3cret"'), "utf-8")
        [record] = await audit_until(service.store, 1)
    finally:
        await service.stop()
    assert record.detail["changes"] == {"gateway": ["token"]}
    assert "n3w-s3cret" not in repr(record)
