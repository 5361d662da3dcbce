"""A folder inbox that disappears (removed, a share unmounted): said once, shown, recovered.

The watcher logged the whole traceback of the failed scan at every poll
interval, for as long as the folder stayed away, and /health knew nothing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from pipeline_support import document_json
from test_folder import inbox_config

from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from plugins.folder.channel import FolderChannel


async def test_a_missing_inbox_is_logged_once_shown_in_health_and_recovered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    config = inbox_config(tmp_path)
    config.write_text(config.read_text("utf-8").replace("poll_interval = 3600",
                                                        "poll_interval = 0.02"), "utf-8")
    service = GatewayService(config, make_plugin_manager())
    await service.start()
    try:
        channel = service.channels["drop"]
        assert isinstance(channel, FolderChannel)
        inbox = tmp_path / "data" / "inbox"
        caplog.set_level(logging.INFO, logger="plugins.folder.channel")
        shutil.rmtree(inbox)
        await asyncio.sleep(0.5)  # some 25 scans

        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert errors[0].exc_info is None, "a missing folder needs no traceback"
        assert str(inbox) in errors[0].getMessage()
        problems = await channel.problems()
        assert len(problems) == 1
        assert str(inbox) in problems[0]
        health = await service.health()
        assert any(str(inbox) in p for p in health["problems"]), health

        # Back (the share mounted again): said so, and files are taken again.
        (inbox / "done").mkdir(parents=True)
        (inbox / "order.json").write_bytes(document_json(example_order()))
        for _ in range(200):
            if (inbox / "done" / "order.json").exists():
                break
            await asyncio.sleep(0.02)
        assert (inbox / "done" / "order.json").exists()
        assert await channel.problems() == []
        assert any("readable again" in r.getMessage() for r in caplog.records)
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    finally:
        await service.stop()
