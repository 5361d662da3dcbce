"""Closing a pool right after one of its idle workers died ends the others at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from gateway.validation import ValidationPool
from gateway.validation.pool import WarmSet
from validation_layers import PEPPOL_INVOICE, pool_documents

PEPPOL_KEY = "peppol-bis:invoice:3.0"


async def test_a_close_just_after_an_idle_worker_died_does_not_wait_out_the_grace(
    installed_standards: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """An idle worker waits for work holding the task queue's read lock, and dies with it
    (the out-of-memory killer): the others can then never take their stop marks, and a
    close() that comes before the executor noticed the death waited the whole grace."""
    pool = ValidationPool(installed_standards, workers=2)
    pool.start([WarmSet(PEPPOL_INVOICE, pool_documents()[0], PEPPOL_KEY)])
    try:
        assert await asyncio.to_thread(pool.wait_warm, 180)
        os.kill(pool.warmth()[0].pid, signal.SIGKILL)
        began = time.monotonic()
        await asyncio.wait_for(asyncio.to_thread(pool.close), 120)
        assert time.monotonic() - began < 10
        assert not [r for r in caplog.records if "did not end within" in r.message]
    finally:
        pool.close()
