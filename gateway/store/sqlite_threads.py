"""The threads behind the SQLite store: one writer with group commit, a pool of readers.

The writer thread owns the only write connection. It takes every write
waiting in its queue, runs each in a savepoint of one ``BEGIN IMMEDIATE``
transaction and commits once, then answers the callers: under load many
small writes share one commit (and one sync) at no cost in latency when
idle, a caller hears "stored" only after the commit, and a failing write
rolls back its own savepoint only. Readers are read-only connections, one
per pool thread; WAL lets them read while the writer commits.

Writers of several processes on one file (an intake instance beside the full
one) take turns through a lock file (:class:`WriteTurn`) before SQLite's own
write lock, so that each waits no longer than the other's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import attrs

from gateway.store.errors import StoreError

T = TypeVar("T")
MAX_BATCH = 256


@attrs.define
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    # Runs outside the shared transaction and manages its own (migrations).
    alone: bool = False


class _Stop:
    pass


_Outcome = tuple[_Job, Any, BaseException | None]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write happened all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        _settle(future, result, error)


def _as_store_error(exc: BaseException, where: str) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"{where}: {exc}")
    return exc


class WriteTurn:
    """The turn of one process's writer at a database file that others write too.

    SQLite's own wait for its write lock (``busy_timeout``) sleeps and looks
    again, a millisecond at first and up to 100 ms between looks, so a writer
    of another process waits out those sleeps long after the lock was free:
    with an intake instance beside the full one, submissions queued behind a
    claim were answered in a quarter of a second. An exclusive ``flock`` on a
    file beside the database (``<database>-writers``) is handed over by the
    kernel the moment its holder lets go. The writer takes it before ``BEGIN
    IMMEDIATE`` and lets go after the commit; a writer that does not take it
    (the sqlite3 shell) is still kept out by SQLite's lock, as before.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-writers")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> WriteTurn:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # without the GIL while it waits
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class Writer:
    """The one thread that writes, committing whatever is queued as one transaction."""

    def __init__(self, connection: sqlite3.Connection, where: str,
                 turn: WriteTurn | None = None) -> None:
        self._conn = connection
        self._where = where
        self._turn = turn if turn is not None else contextlib.nullcontext()
        self._closing_turn = turn
        self._queue: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._closed = False
        # Orders "closed?" with "enqueue", so no job can land behind the stop mark unseen.
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="wissel-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, alone: bool = False) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._gate:
            if self._closed:
                raise StoreError(f"the store {self._where} is closed")
            self._queue.put(_Job(fn, loop, future, alone))
        return await future

    def stop(self) -> None:
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_Stop())
        self._thread.join()

    def _run(self) -> None:
        carry: _Job | _Stop | None = None
        while True:
            job = carry if carry is not None else self._queue.get()
            carry = None
            if isinstance(job, _Stop):
                break
            if job.alone:
                self._run_alone(job)
                continue
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(following, _Stop) or following.alone:
                    carry = following
                    break
                batch.append(following)
            self._run_batch(batch)
        closed = StoreError(f"the store {self._where} is closed")
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(left, _Job):
                self._deliver(left, None, closed)
        # Keeps the statistics fresh for the planner on long-lived databases.
        with contextlib.suppress(sqlite3.Error), self._turn:
            self._conn.execute("PRAGMA optimize")
        self._conn.close()
        if self._closing_turn is not None:
            self._closing_turn.close()

    def _run_alone(self, job: _Job) -> None:
        try:
            with self._turn:
                result = job.fn(self._conn)
        except BaseException as exc:  # handed to the caller
            self._deliver(job, None, _as_store_error(exc, self._where))
        else:
            self._deliver(job, result, None)

    def _run_batch(self, batch: list[_Job]) -> None:
        with self._turn:
            outcomes = self._transaction(batch)
        if outcomes is not None:
            self._deliver_all(outcomes)

    def _transaction(self, batch: list[_Job]) -> list[_Outcome] | None:
        """Run ``batch`` in one transaction; its outcomes once committed, None if it failed
        as a whole (every caller has been told then)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            refused = StoreError(f"{self._where}: cannot start a write transaction: {exc}")
            for job in batch:
                self._deliver(job, None, refused)
            return None
        outcomes: list[_Outcome] = []
        try:
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(conn)
                except Exception as exc:  # handed to the caller
                    if not conn.in_transaction:
                        raise  # SQLite rolled everything back (disk full, I/O error)
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, _as_store_error(exc, self._where)))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            conn.execute("COMMIT")
        except BaseException as exc:  # every caller must hear of it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failed = StoreError(f"{self._where}: the write transaction failed: {exc}")
            for job in batch:
                self._deliver(job, None, failed)
            return None
        return outcomes

    @staticmethod
    def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)

    @staticmethod
    def _deliver_all(outcomes: list[_Outcome]) -> None:
        """Answer a committed batch with one wake-up per event loop, not one per job."""
        by_loop: dict[asyncio.AbstractEventLoop,
                      list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for job, result, error in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, result, error))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the caller's event loop is gone
                loop.call_soon_threadsafe(_settle_all, answers)


class Readers:
    """Read-only connections, one per pool thread; each call reads one snapshot."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], count: int) -> None:
        self._connect = connect
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._executor = ThreadPoolExecutor(max_workers=count,
                                            thread_name_prefix="wissel-sqlite-read")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def stop(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
