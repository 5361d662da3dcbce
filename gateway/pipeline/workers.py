"""A group of worker tasks that claim work from the store until told to stop.

The outbound dispatcher and the inbound delivery worker run the same loop:
``settings.workers`` tasks, each handling one round of claimed messages and,
when a round claimed less than a full batch (all there was), idling until
woken (a message was just queued or decoded) or until the poll interval
passed. A wake starts one idle worker, and a full claim the next. Stopping
lets the rounds in progress finish for ``stop_grace`` seconds, then cancels
them.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, ClassVar

from gateway.kinds import Direction
from gateway.store.errors import ClaimLost, StoreError
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import timedelta

    from gateway.pipeline.dispatch import DispatchSettings
    from gateway.store import Store

log = logging.getLogger(__name__)

NOTICE_INTERVAL = 0.03
"""Seconds an intake instance gathers stored work before it tells the others, in one NOTIFY."""


def own_instance_name() -> str:
    """A name for this process's workers that no other process has, now or later."""
    # Host and pid say where a claim is held; the random part keeps two containers
    # alike in both (same hostname, pid 1) from taking each other's claims for their own.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ClaimKeeper:
    """Renews the leases of the claims a worker holds while it works through them.

    A worker handles a claimed batch one message after the other. Behind a
    slow send, or a slow webhook, the leases of the messages still waiting
    would run out, and another worker would claim and send them as well. So
    every third of a lease this renews the claim of every message not done
    yet: the one at hand and those waiting their turn.

    Only a live worker renews: one that died stops renewing and its claims
    expire, which is what lets another worker take over. A timer rather than a
    task: nearly every batch is done long before the first renewal is due, and
    then the timer is all there was to cancel.
    """

    def __init__(
        self, store: Store, worker_id: str, lease: timedelta, message_ids: Iterable[str],
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._lease = lease
        self._held = set(message_ids)
        self._lost: set[str] = set()
        self._interval = lease.total_seconds() / 3
        self._loop = asyncio.get_running_loop()
        self._renewal: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(
            self._interval, self._due)

    def holds(self, message_id: str) -> bool:
        """False once a renewal found the claim gone: another worker has the message now."""
        return message_id not in self._lost

    def done(self, message_id: str) -> None:
        """The message is handled; its outcome releases the claim, no more renewals."""
        self._held.discard(message_id)

    def _due(self) -> None:
        self._timer = None
        self._renewal = self._loop.create_task(self._renew(), name=f"lease:{self._worker_id}")

    async def _renew(self) -> None:
        for message_id in sorted(self._held):
            if message_id not in self._held:
                continue  # done meanwhile
            try:
                await self._store.extend_claim(message_id, self._worker_id, self._lease)
            except ClaimLost as exc:
                self._held.discard(message_id)
                self._lost.add(message_id)
                if exc.actual is not None:  # not merely released by its own outcome
                    log.warning("cannot renew the claim: %s", exc,
                                extra={"message_id": message_id, "worker": self._worker_id})
            except StoreError as exc:  # the store is busy or away: again next time
                log.warning("cannot renew the claim: %s", exc,
                            extra={"message_id": message_id, "worker": self._worker_id})
        if self._held:
            self._timer = self._loop.call_later(self._interval, self._due)

    async def stop(self) -> None:
        renewal, self._renewal = self._renewal, None
        await cancel_and_wait([renewal])
        # After the renewal: one that finished has set the next timer.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class WorkerGroup(abc.ABC):
    """Worker tasks named ``<instance>:<role>-<n>``, each running :meth:`_round` in a loop."""

    role: ClassVar[str]

    def __init__(self, settings: DispatchSettings, instance: str | None) -> None:
        self.settings = settings
        self.instance = instance or own_instance_name()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        # Idle workers, each waiting on a future of its own: a wake starts one of them,
        # not all (woken together, all but one would claim nothing, each claim a write).
        self._idle_workers: collections.deque[asyncio.Future[bool]] = collections.deque()
        # A wake that found every worker busy: the next worker to finish looks again
        # at once, so work queued while it claimed is not left for the next poll.
        self._woken = False
        # Workers a wake started that have not run yet: each will claim after the work
        # that woke it was committed, so later wakes meanwhile need start nobody else.
        self._starting = 0

    def start(self) -> None:
        if self._tasks:
            return
        self._stopping.clear()
        for number in range(self.settings.workers):
            worker_id = f"{self.instance}:{self.role}-{number}"
            self._tasks.append(asyncio.create_task(self._work(worker_id), name=worker_id))

    def wake(self) -> None:
        """Look for work now rather than at the next poll (something was just queued).

        One idle worker is started, unless one started already has yet to
        claim (it will find this work too); if none is idle, the next one to
        finish a round looks again at once instead of waiting for the poll. A
        worker that claims a full batch wakes the next (see :meth:`_claimed`),
        so a burst still spreads over the workers.
        """
        if self._starting:
            return
        while self._idle_workers:
            waiter = self._idle_workers.popleft()
            if not waiter.done():
                waiter.set_result(True)
                self._starting += 1
                return
        self._woken = True

    def _claimed(self, count: int) -> None:
        """A worker claimed ``count`` messages: a full batch may have left more behind."""
        if count >= self.settings.batch:
            self.wake()

    async def stop(self) -> None:
        """Let rounds in progress finish (up to ``stop_grace``); then cancel and release."""
        self._stopping.set()
        while self._idle_workers:
            waiter = self._idle_workers.popleft()
            if not waiter.done():
                waiter.set_result(False)
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
            # A batch not full was all that was due when claimed: what was queued since
            # woke an idle worker, or this one as it idles (the wake was kept), so a
            # claim at once would most often find nothing, for a write transaction.
            if handled < self.settings.batch:
                await self._idle()

    async def _idle(self) -> None:
        if self._woken or self._stopping.is_set():
            self._woken = False
            return
        loop = asyncio.get_running_loop()
        # True when a wake started it, False for the poll interval or stop().
        waiter: asyncio.Future[bool] = loop.create_future()
        self._idle_workers.append(waiter)
        poll = loop.call_later(self.settings.idle_poll, _poll_due, waiter)
        try:
            await waiter
        finally:
            poll.cancel()
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._starting -= 1
            with contextlib.suppress(ValueError):  # a wake took it off already
                self._idle_workers.remove(waiter)


def _poll_due(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class QueuedNotice:
    """Tells the other instances on the database that work waits, at most once per ``interval``.

    For an instance whose own workers do not take what it stores (an intake
    instance). The first message after a quiet spell starts the wait; what is
    stored during it is told with the same statement, so a burst costs one
    statement per interval, not one per message, and the hot path none. A
    hint only (:meth:`Store.notify_queued`): one lost costs a poll interval.
    """

    def __init__(self, store: Store, interval: float = NOTICE_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self._pending: set[Direction] = set()
        self._task: asyncio.Task[None] | None = None

    def queued(self, direction: Direction) -> None:
        """Work of ``direction`` was committed; call on the event loop."""
        self._pending.add(direction)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._tell(),
                                                                name="queued-notice")

    async def _tell(self) -> None:
        try:
            # Until a wait gathered nothing: what came in while the last statement ran
            # must not wait for the next message to be told.
            while self._pending:
                await asyncio.sleep(self.interval)
                directions, self._pending = self._pending, set()
                try:
                    await self.store.notify_queued(directions)
                except StoreError as exc:
                    log.warning("cannot tell the other instances that work waits (they "
                                "find it at their next poll): %s", exc)
        finally:
            self._task = None

    async def close(self) -> None:
        """Stop; what is not told yet is found by the others' polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
