"""A validation task that runs past the pool's time limit: its worker is ended as hung.

Real worker processes, stopped with SIGSTOP as a worker stuck in native code
would be: without the limit the document, and the request waiting for it,
waited for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from gateway.validation import ValidationPool
from gateway.validation.pool import ValidationWorkerDied, WarmSet
from validation_layers import PEPPOL_INVOICE, pool_documents

PEPPOL_KEY = "peppol-bis:invoice:3.0"


def _warm_pool(standards: Path, limit: float) -> ValidationPool:
    pool = ValidationPool(standards, workers=1, time_limit=limit)
    pool.start([WarmSet(PEPPOL_INVOICE, pool_documents()[0], PEPPOL_KEY)])
    return pool


def _release(pid: int | None) -> None:
    if pid is not None:  # on a failure, let close() and the test end
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def test_a_hung_worker_is_ended_and_the_document_validated_by_a_new_one(
    installed_standards: Path,
) -> None:
    # Long enough for a new worker to start and warm (about a second) and validate.
    pool = _warm_pool(installed_standards, limit=8.0)
    stopped = None
    try:
        assert await asyncio.to_thread(pool.wait_warm, 180)
        stopped = pool.warmth()[0].pid
        os.kill(stopped, signal.SIGSTOP)
        report = await asyncio.wait_for(
            pool.validate(pool_documents()[0], PEPPOL_INVOICE, PEPPOL_KEY), 90)
        assert report.valid
        assert pool.overruns == 1
        assert pool.second_tries == 1
    finally:
        _release(stopped)
        pool.close()


async def test_a_document_past_the_limit_twice_fails_naming_the_limit(
    installed_standards: Path,
) -> None:
    # Shorter than a new worker takes to warm: the second try runs past it too (the
    # limit counts from when the task waits in the workers' queue), as a document that
    # hangs every worker it meets would.
    pool = _warm_pool(installed_standards, limit=0.25)
    stopped = None
    try:
        assert await asyncio.to_thread(pool.wait_warm, 180)
        stopped = pool.warmth()[0].pid
        os.kill(stopped, signal.SIGSTOP)
        with pytest.raises(ValidationWorkerDied) as failed:
            await asyncio.wait_for(
                pool.validate(pool_documents()[0], PEPPOL_INVOICE, PEPPOL_KEY), 90)
        assert "ran longer than the time limit of 0.25 s" in str(failed.value)
        assert "may be sent again" in str(failed.value)
        assert pool.overruns == 2
    finally:
        _release(stopped)
        pool.close()


def test_a_time_limit_must_be_positive(installed_standards: Path) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ValidationPool(installed_standards, workers=1, time_limit=0)
    ValidationPool(installed_standards, workers=1, time_limit=None).close()
