"""Waking the workers of a group: one idle worker per wake, and no wake lost while all work."""

from __future__ import annotations

import asyncio

import attrs

from gateway.pipeline.dispatch import DispatchSettings
from gateway.pipeline.workers import WorkerGroup

QUIET = DispatchSettings(workers=2, idle_poll=30.0, stop_grace=1.0)


class Counting(WorkerGroup):
    """Rounds counted, each claiming the next of ``claims`` (then nothing); a round may
    be held until ``release`` is set."""

    role = "count"

    def __init__(self, settings: DispatchSettings) -> None:
        super().__init__(settings, "test")
        self.rounds: list[str] = []
        self.claims: list[int] = []
        self.release = asyncio.Event()
        self.release.set()

    async def _round(self, worker_id: str) -> int:
        self.rounds.append(worker_id)
        claimed = self.claims.pop(0) if self.claims else 0
        self._claimed(claimed)
        await self.release.wait()
        return claimed


async def settled(group: Counting, rounds: int) -> None:
    for _ in range(200):
        if len(group.rounds) >= rounds:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # and nothing more comes


async def test_a_wake_starts_one_idle_worker_not_all() -> None:
    # Woken together, every idle worker would claim, all but one finding nothing:
    # a write transaction each for no work.
    group = Counting(QUIET)
    group.start()
    try:
        await settled(group, 2)  # each worker's first round, then both idle
        assert len(group.rounds) == 2
        group.wake()
        await settled(group, 3)
        assert len(group.rounds) == 3, group.rounds
        # Two messages queued in one go: the worker started for the first claims after
        # both were stored, and finds both; starting the other would find nothing.
        group.wake()
        group.wake()
        await settled(group, 4)
        assert len(group.rounds) == 4, group.rounds
    finally:
        await group.stop()


async def test_a_full_batch_starts_the_next_worker() -> None:
    # A burst larger than a batch: the first worker's full claim may have left more, so
    # the other starts at once rather than at the next poll, and both send.
    group = Counting(attrs.evolve(QUIET, batch=2))
    group.start()
    try:
        await settled(group, 2)
        group.claims = [2, 2, 1]
        group.release.clear()
        group.wake()
        await settled(group, 4)
        # The first worker claimed two and woke the other, which claimed two and woke
        # nobody (none idle, so the first looks again once it is done).
        assert len(group.rounds) == 4, group.rounds
        assert set(group.rounds[2:]) == {"test:count-0", "test:count-1"}
        group.release.set()
        await settled(group, 7)
        # Each full batch is followed by a look at once (2 rounds: one claims the last
        # message, one nothing); the wake the second full claim could give nobody is kept
        # for the first worker to idle (1 round, nothing). Then all idle until woken.
        assert len(group.rounds) == 7, group.rounds
        await asyncio.sleep(0.2)
        assert len(group.rounds) == 7, group.rounds
    finally:
        await group.stop()


async def test_a_wake_while_every_worker_is_busy_is_not_lost() -> None:
    group = Counting(attrs.evolve(QUIET, workers=1))
    group.start()
    try:
        await settled(group, 1)
        group.release.clear()
        group.wake()
        await settled(group, 2)  # busy in a round that has looked already
        group.wake()  # work queued now: nobody idle to start
        group.release.set()
        # Without the wake kept, the worker would sleep the 30 s poll with that work waiting.
        await settled(group, 3)
        assert len(group.rounds) == 3, group.rounds
    finally:
        await group.stop()


async def test_stop_ends_idle_workers_at_once() -> None:
    group = Counting(QUIET)
    group.start()
    await settled(group, 2)
    stopping = asyncio.get_running_loop().time()
    await group.stop()
    assert asyncio.get_running_loop().time() - stopping < 0.5
