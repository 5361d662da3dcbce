"""A channel route this instance does not serve says why, and /health says it first.

The API mounts the channels' routes (the portal's task queue, its imports)
when the gateway starts. A channel a reload enabled or added starts at once,
but its routes wait for a restart; an intake instance runs no channel at all;
a channel disabled or broken here runs, if anywhere, on another instance. An
operator calling such a route (`gateway portal tasks`) got a bare 404 with
/health saying "ok": the answer now names the reason.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from instances_support import instance_config
from test_intake_role import Instances, call, instances

from gateway.service import Role

__all__ = ["instances"]  # the fixture, used by the tests here

TASKS = "/api/v1/channels/portal/tasks"


def portal_table(tmp_path: Path, *, enabled: bool) -> str:
    table = f"export_dir = {str(tmp_path / 'export')!r}"
    return table if enabled else f"{table}\nenabled = false"


async def test_a_portal_enabled_by_a_reload_says_its_routes_wait_for_a_restart(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    path = instance_config(tmp_path / "full", store_url, "portal",
                           portal_table(tmp_path, enabled=False))
    full = await instances.start(path)
    assert "portal" not in full.channels
    status, body = await call(full, "GET", TASKS)
    assert status == 404, body
    assert "channel portal does not run on this instance" in body["detail"], body

    full.config_holder.check_interval = 0
    path.write_text(path.read_text("utf-8").replace("\nenabled = false", ""), "utf-8")
    assert full.config_holder.current().channels["portal"].enabled  # reloads now
    for _ in range(200):
        if "portal" in full.channels:
            break
        await asyncio.sleep(0.02)
    assert "portal" in full.channels

    status, body = await call(full, "GET", TASKS)
    assert status == 404, body
    assert "started after the gateway" in body["detail"], body
    assert "restart" in body["detail"], body
    report = await full.health()
    assert report["status"] == "degraded", report
    assert [p for p in report["problems"] if p.startswith("channel portal:")] == [
        "channel portal: started by a configuration reload; its routes under "
        "/api/v1/channels/portal/ answer 404 until the gateway restarts"], report


async def test_an_intake_instance_says_channel_routes_are_a_full_instances(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    path = instance_config(tmp_path / "intake", store_url, "portal",
                           portal_table(tmp_path, enabled=True))
    intake = await instances.start(path, Role.INTAKE)
    status, body = await call(intake, "GET", TASKS)
    assert status == 404, body
    assert "intake role" in body["detail"], body
    assert "full instance" in body["detail"], body


async def test_a_served_route_and_a_caller_without_a_token_get_no_hint(
    store_url: str, tmp_path: Path, instances: Instances,
) -> None:
    path = instance_config(tmp_path / "intake", store_url, "portal",
                           portal_table(tmp_path, enabled=True))
    full = await instances.start(path)
    status, body = await call(full, "GET", TASKS)
    assert status == 200, body
    status, body = await call(full, "GET", "/api/v1/channels/portal/no-such-route")
    assert (status, body["detail"]) == (
        404, "GET /api/v1/channels/portal/no-such-route: Not Found"), body

    intake = await instances.start(path, Role.INTAKE, listen="127.0.0.1:0")
    status, body = await call(intake, "GET", TASKS, token="wrong")
    assert (status, body["detail"]) == (404, f"GET {TASKS}: Not Found"), body
