"""The message-count gauge: nothing counted while no metrics are kept."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway import instruments
from gateway.store import open_store


async def test_without_a_metrics_sdk_the_store_is_not_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # `gateway run` without OTEL_METRICS_EXPORTER installs no meter provider, so the
    # wissel.messages gauge is never read: counting every message for it is wasted
    # database work, and a store that is down must not be reported as a metrics problem.
    if instruments._metering():
        pytest.skip("an earlier test in this process installed a meter provider")
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as store:
        await store.migrate()
    # Closed: any count now fails, and observe_store logs that it failed.
    caplog.set_level(logging.WARNING, logger="gateway.instruments")
    task = asyncio.create_task(instruments.observe_store(store, interval=0.01))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.getMessage() for r in caplog.records] == []
