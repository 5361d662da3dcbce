"""cancel_and_wait: how channels, simulators and workers end their background tasks."""

from __future__ import annotations

import asyncio

import pytest

from gateway.tasks import cancel_and_wait


async def test_every_task_is_cancelled_and_has_ended() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    tasks = [asyncio.create_task(forever()) for _ in range(3)]
    await started.wait()
    await cancel_and_wait([tasks[0], None, *tasks[1:]])
    assert all(task.cancelled() for task in tasks)


async def test_an_error_a_task_ended_with_is_raised() -> None:
    async def broken() -> None:
        raise RuntimeError("the poller broke")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)  # it runs and fails before it is cancelled
    with pytest.raises(RuntimeError, match="the poller broke"):
        await cancel_and_wait([task])


async def test_nothing_to_stop_is_fine() -> None:
    await cancel_and_wait([None])
    await cancel_and_wait([])
