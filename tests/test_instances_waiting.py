"""/health counts the messages that wait for a channel configured here but not running here.

A full instance's dispatcher does not claim messages routed to a channel it
has configured but does not run (disabled, failed to start, no plugin): they
wait for an instance that runs it. /health says how many wait and why the
channel does not run here, so an operator can act; an intake instance runs no
channel by design and says nothing of the kind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from api_support import invoice_json
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, config_text
from test_instances_idle_channel import config as folder_config
from test_intake_role import Instances, call, instances, sent_files

from gateway.service import GatewayService, Role
from gateway.store import TransportState

__all__ = ["instances"]  # the fixture, used by the tests here

INVOICES = 3
ELSEWHERE = "an instance on the same database that runs it would send them"


async def submit(service: GatewayService, count: int, prefix: str) -> list[str]:
    assert service.outbound is not None
    ids = []
    for n in range(count):
        record, created = await service.outbound.submit(invoice_json(f"{prefix}{n:02d}"),
                                                        agency_oin=AGENCY_OIN)
        assert created
        assert record.transport_state is TransportState.QUEUED
        ids.append(record.id)
    return ids


async def all_sent(service: GatewayService, ids: list[str]) -> None:
    assert service.store is not None
    for _ in range(500):
        records = [await service.store.get(i) for i in ids]
        if all(r is not None and r.transport_state is TransportState.SENT for r in records):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not all sent: {[r and r.transport_state for r in records]}")


def waiting_lines(report: dict[str, object]) -> list[str]:
    problems = report["problems"]
    assert isinstance(problems, list)
    return [p for p in problems if "does not run here" in p]


async def test_a_disabled_channel_with_messages_waiting_is_reported_until_it_runs(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    outbox = tmp_path / "outbox"
    table = f"path = {str(outbox)!r}"
    # The channel was enabled when these were taken: the intake instance routed them to it.
    intake = await instances.start(
        instance_config(tmp_path / "intake", store_url, "folder", table), Role.INTAKE)
    ids = await submit(intake, INVOICES, "F2024-50")
    path = instance_config(tmp_path / "full", store_url, "folder", f"{table}\nenabled = false")
    full = await instances.start(path)
    assert "folder" not in full.channels

    status, report = await call(full, "GET", "/health")
    assert status == 200, report
    assert report["waiting"] == {"folder": INVOICES}, report
    assert waiting_lines(report) == [
        f"channel folder: {INVOICES} messages wait for it and it does not run here "
        f"(disabled); {ELSEWHERE}"], report
    assert report["status"] == "degraded", report
    assert sent_files(outbox) == []

    full.config_holder.check_interval = 0
    path.write_text(path.read_text("utf-8").replace("\nenabled = false", ""), "utf-8")
    assert full.config_holder.current().channels["folder"].enabled  # reloads now
    await all_sent(full, ids)

    status, report = await call(full, "GET", "/health")
    assert (report["status"], report["waiting"], report["problems"]) == ("ok", {}, []), report
    assert len(sent_files(outbox)) == INVOICES


async def test_a_channel_that_failed_to_start_names_how_many_wait_for_it(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    outbox = tmp_path / "outbox"
    (tmp_path / "not-a-folder").write_text("a file where this machine expects a folder")
    broken = await instances.start(folder_config(
        tmp_path / "broken", store_url, outbox, tmp_path / "not-a-folder" / "inbox"))
    assert "folder" in broken.channel_problems

    ids = await submit(broken, 1, "F2024-60")
    report = await broken.health()
    assert report["waiting"] == {"folder": 1}, report
    assert waiting_lines(report) == [
        "channel folder: 1 message waits for it and it does not run here (failed to start); "
        f"{ELSEWHERE}"], report
    ids += await submit(broken, 1, "F2024-61")
    report = await broken.health()
    assert report["waiting"] == {"folder": 2}, report
    assert waiting_lines(report) == [
        "channel folder: 2 messages wait for it and it does not run here (failed to start); "
        f"{ELSEWHERE}"], report
    assert f"channel folder: {broken.channel_problems['folder']}" in report["problems"]

    # Another machine runs the channel: it sends them, and the count is gone here.
    healthy = await instances.start(folder_config(
        tmp_path / "healthy", store_url, outbox, tmp_path / "inbox"))
    await all_sent(healthy, ids)
    report = await broken.health()
    assert (report["waiting"], waiting_lines(report)) == ({}, []), report
    assert report["status"] == "degraded", "the channel still failed to start here"


async def test_an_intake_instance_reports_no_waiting_where_a_full_one_without_the_plugin_does(
    tmp_path: Path, instances: Instances,
) -> None:
    # The recorder channel's plugin is installed nowhere here: the intake instance
    # takes the invoices routed to it, the full instance cannot run it.
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    intake = await instances.start(path, Role.INTAKE)
    await submit(intake, INVOICES, "F2024-70")

    report = await intake.health()
    assert (report["status"], report["waiting"], report["problems"]) == ("ok", {}, []), report
    assert report["messages"]["outbound"] == {"queued": INVOICES}, report

    full = await instances.start(path)
    report = await full.health()
    assert report["waiting"] == {"recorder": INVOICES}, report
    assert waiting_lines(report) == [
        f"channel recorder: {INVOICES} messages wait for it and it does not run here "
        f"(no installed plugin provides its type 'recorder'); {ELSEWHERE}"], report
