"""Closing the pool ends its workers within a grace, also one that hangs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from gateway.validation import ValidationPool
from gateway.validation.pool import WarmSet
from validation_layers import PEPPOL_INVOICE, pool_documents

PEPPOL_KEY = "peppol-bis:invoice:3.0"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the forkserver stays a zombie until the forkserver reaps it.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


async def test_a_worker_that_hangs_does_not_hold_the_close_up(installed_standards: Path) -> None:
    """A stopped worker never takes its stop mark from the queue: close() waited for it
    for ever (a gateway told to stop hung, and so did a test run, for ten minutes)."""
    pool = ValidationPool(installed_standards, workers=2, close_grace=1.0)
    pool.start([WarmSet(PEPPOL_INVOICE, pool_documents()[0], PEPPOL_KEY)])
    stopped = None
    try:
        assert await asyncio.to_thread(pool.wait_warm, 180)
        stopped = pool.warmth()[0].pid
        os.kill(stopped, signal.SIGSTOP)
        began = time.monotonic()
        await asyncio.wait_for(asyncio.to_thread(pool.close), 60)
        assert time.monotonic() - began < 30
        for _ in range(100):
            if not _alive(stopped):
                break
            await asyncio.sleep(0.05)
        assert not _alive(stopped)
    finally:
        if stopped is not None:  # on a failure, let the old close() and the test end
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped, signal.SIGKILL)
        pool.close()
