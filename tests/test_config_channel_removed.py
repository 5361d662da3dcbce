"""A channel removed from the configuration while messages are routed to it.

It runs on until the gateway restarts; after that what is still routed to
it is claimed, retried and dead-lettered. /health says both while there is
time to reroute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text, document_json

from gateway.config import switch_route
from gateway.model.samples import example_invoice
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService

SPARE = '\n[channels.spare]\ntype = "recorder"\n'


def config_with_spare(tmp_path: Path) -> Path:
    """Invoices for the agency routed to a second recorder channel, ``spare``."""
    path = tmp_path / "gateway.toml"
    text = config_text(tmp_path, database=f"sqlite:///{tmp_path / 'gateway.db'}")
    path.write_text(text + SPARE, "utf-8")
    switch_route(path, AGENCY_OIN, "invoice", "spare", actor="jan@ops", reason="try spare")
    return path


def remove_spare(path: Path) -> None:
    switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="back")
    path.write_text(path.read_text("utf-8").replace(SPARE, "\n"), "utf-8")


async def until(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_health_says_a_running_channel_was_removed(tmp_path: Path) -> None:
    path = config_with_spare(tmp_path)
    plugin = RecorderPlugin()
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", plugin)]),
                             dispatch=FAST)
    await service.start()
    try:
        remove_spare(path)
        assert service.config_holder.reload()
        assert "spare" not in service.config.channels
        await asyncio.sleep(0.2)  # reload listeners run on the loop
        problems = [p for p in (await service.health())["problems"] if "spare" in p]
    finally:
        await service.stop()
    assert len(problems) == 1, problems
    assert "removed from the configuration" in problems[0]
    assert "reroute" in problems[0]


async def test_health_counts_what_waits_for_a_channel_configured_nowhere(
    tmp_path: Path,
) -> None:
    """Queued for spare by an intake instance; the full instance starts without spare."""
    path = config_with_spare(tmp_path)
    intake = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                            dispatch=FAST, role="intake")
    await intake.start()
    try:
        assert intake.outbound is not None
        record, _ = await intake.outbound.submit(document_json(example_invoice()),
                                                 agency_oin=AGENCY_OIN)
    finally:
        await intake.stop()
    assert record.channel == "spare"
    remove_spare(path)
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    await service.start()
    said: list[str] = []

    async def told() -> bool:
        report = await service.health()
        said[:] = [p for p in report["problems"] if "spare" in p]
        waiting: dict[str, int] = report["waiting"]
        return waiting.get("spare") == 1

    try:
        assert await until(told), f"/health never counted message {record.id}: {said}"
    finally:
        await service.stop()
    assert said == ["channel spare: 1 message waits for it and it is not configured: they are "
                    "retried until dead-lettered; reroute them (gateway messages reroute)"]
