"""Stopping background tasks: the one way channels, simulators and workers end theirs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel every task given (None entries are skipped), then wait until each has ended.

    All are cancelled before the first is awaited, so they wind down together;
    a task's own cancellation is expected and swallowed, any other error it
    ends with is raised.
    """
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
