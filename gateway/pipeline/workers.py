"""A group of worker tasks that claim work from the store until told to stop.

The outbound dispatcher and the inbound delivery worker run the same loop:
``settings.workers`` tasks, each handling one round of claimed messages, or,
when a round found nothing, idling until woken (a message was just queued or
decoded) or until the poll interval passed. Stopping lets the rounds in
progress finish for ``stop_grace`` seconds, then cancels them.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, ClassVar

from gateway.store.errors import StoreError

if TYPE_CHECKING:
    from gateway.pipeline.dispatch import DispatchSettings

log = logging.getLogger(__name__)


class WorkerGroup(abc.ABC):
    """Worker tasks named ``<instance>:<role>-<n>``, each running :meth:`_round` in a loop."""

    role: ClassVar[str]

    def __init__(self, settings: DispatchSettings, instance: str | None) -> None:
        self.settings = settings
        # Host and pid say where a claim is held; the random part keeps two containers
        # alike in both (same hostname, pid 1) from taking each other's claims for their own.
        self.instance = instance or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._tasks:
            return
        self._stopping.clear()
        for number in range(self.settings.workers):
            worker_id = f"{self.instance}:{self.role}-{number}"
            self._tasks.append(asyncio.create_task(self._work(worker_id), name=worker_id))

    def wake(self) -> None:
        """Look for work now rather than at the next poll (something was just queued)."""
        self._wake.set()

    async def stop(self) -> None:
        """Let rounds in progress finish (up to ``stop_grace``); then cancel and release."""
        self._stopping.set()
        self._wake.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self.settings.stop_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    @abc.abstractmethod
    async def _round(self, worker_id: str) -> int:
        """Claim and handle one batch; returns how many messages it claimed.

        A failure with one message must not end the round for the others:
        its claim stays and expires, so another attempt comes.
        """

    async def _work(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            handled = 0
            try:
                handled = await self._round(worker_id)
            except StoreError:
                log.exception("%s cannot claim messages", worker_id)
            if not handled:
                await self._idle()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.idle_poll)
        self._wake.clear()
