"""Validation in worker processes: off the event loop, one core per worker.

Schematron with Saxon is CPU-bound and holds its own runtime lock, so
threads gain nothing (two threads on two Schematron layers measured no
faster than one) while processes scale. Each worker compiles the artifacts
it meets once and keeps them. Workers start with ``forkserver`` (or
``spawn`` where that is missing, or where the temp directory's path is too
long for the forkserver's socket): Saxon's native runtime does not survive
``fork`` once started.

Many documents keep every worker busy on its own. A document that finds
every worker idle has its Schematron layers run side by side, one per worker,
so that at a moderate rate each is answered in about the time of one layer.
One large document (a 10,000-line invoice takes seconds per Schematron layer)
is split always, into one task per Schematron pattern (see
:mod:`gateway.validation.patterns`; a stylesheet that cannot be split is one
task). Idle workers take the next
task, so the work evens out however unequal the patterns are; each worker
parses the document and checks the XSD once, for the first task of it that it
gets, and the parts' reports are merged into the report one process would give.
The document travels once, in shared memory, rather than with every task.

Handing a document to a worker and its report back costs this process CPU
(pickling, the executor's thread, wake-up pipes), and that is CPU the workers
and the event loop need. So :meth:`ValidationPool.validate` calls that arrive
together travel together: a few documents per task, and layers as short keys
that each worker turns back into layers once.

:meth:`ValidationPool.start` starts every worker at once, and each compiles
its stylesheets and validates a warm document before it takes work: the first
documents after a start are as quick as the rest.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import math
import multiprocessing
import os
import pickle
import queue
import signal
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver, resource_tracker, shared_memory
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import attrs

from gateway.errors import GatewayError
from gateway.formats import LayerKind, ValidationLayer
from gateway.scheduling import INHERIT, schedule_worker
from gateway.standards.manifest import Manifest
from gateway.validation.engine import (
    SAXON_ERROR_RULE,
    SKIPPED_RULE,
    ParsedDocument,
    Validator,
    select_layers,
)
from gateway.validation.report import PARSE_LAYER, Finding, ValidationReport

T = TypeVar("T")

log = logging.getLogger(__name__)

CLOSE_GRACE = 30.0
"""Seconds :meth:`ValidationPool.close` lets the workers finish and end before it kills them."""

TIME_LIMIT = 300.0
"""Seconds one task may run in a worker before its worker is ended as hung.

A task is one to four typical documents (tens of milliseconds) or one
pattern of a split large one (seconds at 10,000 lines). A worker stuck in
native code, or stopped, would otherwise hold its documents, and the
requests waiting for them, for ever: with every worker stuck, intake stops.
An ended worker's documents go to new workers once more, as after any death."""

SPLIT_BYTES = 1 << 20
"""Documents larger than this have their Schematron patterns spread over the workers.

About 750 invoice lines, some 0.6 s in one process. Splitting shortens the wait
for any size, but every extra worker parses the document and runs the XSD
again: CPU that other documents in flight need. Below this size the wait is
short anyway, so throughput wins."""

BATCH_MAX = 4
"""At most this many documents travel to a worker in one task.

Four typical invoices are some 30 ms of work: a document waits at most that
long for the others in its task, while this process's CPU per document for
the hand-off drops to less than half (measured 0.5 to 0.2 ms with 32 in
flight). Documents travel alone while workers are free for each."""


class ValidationWorkerDied(GatewayError, BrokenProcessPool):
    """Worker processes ended (killed, out of memory) twice while they held this document.

    One death is not the document's doing as a rule (the kernel's out-of-memory
    killer, an operator, a worker that died while idle), so the pool gives the
    document once more to new workers; only a second death reaches the caller,
    which may still try again later: the document was not validated, and that is
    no verdict on it. The pool starts new workers for the next documents.
    """


@attrs.frozen
class WarmSet:
    """Layers for every worker to compile as it starts, and a document to validate once.

    ``document`` None (a format whose samples do not encode) only compiles.
    """

    layers: tuple[ValidationLayer, ...]
    document: bytes | None = None
    format_key: str | None = None


@attrs.frozen
class Warmth:
    """What one worker process did before it took work: layers compiled, documents validated."""

    pid: int
    compiled: tuple[str, ...]
    validated: tuple[str, ...]
    problems: tuple[str, ...] = ()
    runs: int = 0
    """Validations run in all, the repeats past Saxon's first pause included."""
    seconds: float = 0.0
    """How long the worker took from its start until it was warm."""


@attrs.frozen
class ValidationJob:
    """One document to validate in bulk, with the layers that apply to it."""

    data: bytes
    layers: tuple[ValidationLayer, ...]
    format_key: str | None = None
    only: frozenset[str] | None = None


@attrs.frozen
class Part:
    """One task of a split document: the XSD layers and one Schematron layer's pattern.

    ``pattern`` None runs the Schematron layer whole (its stylesheet cannot
    be split). Every part keeps the XSD layers, so that each worker skips the
    Schematron on a document the schema rejects, as one validator would.
    """

    layers: tuple[ValidationLayer, ...]
    schematron: ValidationLayer
    pattern: str | None


@attrs.frozen
class _Shared:
    """Where a split document's part tasks find its bytes.

    ``block`` names the shared memory that holds them; only where none can
    be had do the bytes themselves travel with every task (``data``).
    """

    token: str
    size: int
    block: str | None
    data: bytes | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.block is not None
        shared = shared_memory.SharedMemory(name=self.block)
        try:
            return bytes(_buffer(shared)[: self.size])
        finally:
            shared.close()


def _buffer(block: shared_memory.SharedMemory) -> memoryview:
    if block.buf is None:  # pragma: no cover - only after close()
        raise RuntimeError(f"the shared memory {block.name} is closed")
    return block.buf


_LayerKey = tuple[str, str, str]
"""A layer as it travels to a worker: kind, name and artifact, cheaper to pickle than the layer."""

_Job = tuple[bytes, tuple[_LayerKey, ...], str | None]

_worker: Validator | None = None
_held: tuple[str, ParsedDocument] | None = None
"""The split document this worker is working on, kept for its next part."""
_layers_by_key: dict[tuple[_LayerKey, ...], tuple[ValidationLayer, ...]] = {}
_warmth: Warmth | None = None


WORKER_START_SECONDS = 1.0
"""A generous bound on starting a worker process before its warm-up (spawn imports the gateway)."""

WARM_VALIDATIONS = 16
"""Validations each worker runs at start (its warm documents in turn), past Saxon's first pause."""


def _start_worker(
    standards_dir: Path, warm: tuple[ValidationLayer, ...], sets: tuple[WarmSet, ...] = (),
    ready: Any = None, stop: Any = None, scheduling: str = INHERIT,
    manifest: Manifest | None = None,
) -> None:
    global _worker, _warmth
    started = time.monotonic()
    _end_with_parent()
    schedule_worker(scheduling)
    _worker = Validator(standards_dir, manifest=manifest)
    _worker.prepare(warm)
    if sets or ready is not None:
        _warmth = attrs.evolve(_warm_up(_worker, sets, stop),
                               seconds=time.monotonic() - started)
        if ready is not None:
            ready.put(_warmth)


def _end_with_parent() -> None:
    """End this worker when the process that started the pool ends, however it ends.

    A worker waits for its next task on a queue it holds both ends of, so a
    parent that dies without closing the pool (SIGKILL, the out-of-memory
    killer) never wakes it: the workers, each with its compiled stylesheets,
    and the forkserver (kept alive by the workers' copies of its pipe) would
    outlive it for good, and every restart would add a set. The parent's
    sentinel reaches end of file the moment the parent is gone.

    Ctrl-C and a hang-up reach every process of the terminal's process group.
    The parent closes the pool in order, so the workers leave the stop to it
    rather than each die of KeyboardInterrupt with a traceback in the
    gateway's log, or of SIGHUP under a task.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - a pool worker always has a parent
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="wissel-parent-watch", daemon=True).start()


def _warm_up(validator: Validator, sets: Iterable[WarmSet], stop: Any = None) -> Warmth:
    """Compile and run each set once; a set that fails is noted, never fatal to the worker.

    ``stop`` (an event) set ends the warm-up at the next stylesheet: a pool
    closing need not wait seconds for compiles nobody will use.
    """
    compiled: list[str] = []
    validated: list[str] = []
    problems: list[str] = []
    runnable: list[WarmSet] = []
    for warm in sets:
        try:
            for layer in warm.layers:
                if stop is not None and stop.is_set():
                    problems.append("warm-up stopped: the pool is closing")
                    return Warmth(os.getpid(), tuple(compiled), tuple(validated),
                                  tuple(problems))
                validator.prepare((layer,))
                if layer.name not in compiled:
                    compiled.append(layer.name)
            if warm.document is not None:
                validator.validate(warm.document, warm.layers, format_key=warm.format_key)
                validated.append(warm.format_key or "?")
                runnable.append(warm)
        except Exception as exc:  # the real documents will meet the same error, and report it
            problems.append(f"{warm.format_key or 'layers'}: {type(exc).__name__}: {exc}")
    # Saxon's runtime pauses once for ~80 ms around its tenth document (its first
    # collections move the compiled stylesheets out of the young generation): pay
    # that here, not on a sender's document.
    runs = len(runnable)
    while runnable and runs < WARM_VALIDATIONS and not (stop is not None and stop.is_set()):
        warm = runnable[runs % len(runnable)]
        with contextlib.suppress(Exception):  # it validated once already
            validator.validate(warm.document or b"", warm.layers, format_key=warm.format_key)
        runs += 1
    return Warmth(os.getpid(), tuple(compiled), tuple(validated), tuple(problems), runs)


def _warm_more(sets: tuple[WarmSet, ...]) -> Warmth:
    """Warm layer sets named after this worker started (a reloaded configuration)."""
    return _warm_up(_validator(), sets)


def _layer_keys(layers: Sequence[ValidationLayer]) -> tuple[_LayerKey, ...]:
    return tuple((layer.kind.value, layer.name, layer.artifact) for layer in layers)


def _layers_of(keys: tuple[_LayerKey, ...]) -> tuple[ValidationLayer, ...]:
    found = _layers_by_key.get(keys)
    if found is None:
        found = tuple(ValidationLayer(LayerKind(kind), name, artifact)
                      for kind, name, artifact in keys)
        _layers_by_key[keys] = found
    return found


def _validate_jobs(jobs: tuple[_Job, ...]) -> list[ValidationReport | Exception]:
    """One report per job; a job whose validation raised gets its exception instead.

    One document's failure (a missing artifact) must not take the others in
    its batch with it, so it travels back in its place.
    """
    global _held
    _held = None  # other work: the parts of the last split document are done
    validator = _validator()
    results: list[ValidationReport | Exception] = []
    for data, keys, format_key in jobs:
        try:
            results.append(validator.validate(data, _layers_of(keys), format_key=format_key))
        except Exception as exc:
            results.append(_portable(exc))
    return results


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a RuntimeError with its type and text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _validator() -> Validator:
    if _worker is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("validation worker was not initialised")
    return _worker


def _validate_in_worker(
    data: bytes, layers: tuple[ValidationLayer, ...], format_key: str | None,
    only: frozenset[str] | None,
) -> ValidationReport:
    global _held
    _held = None  # other work: the parts of the last split document are done
    return _validator().validate(data, layers, format_key=format_key, only=only)


def _validate_batch(jobs: list[ValidationJob]) -> list[ValidationReport]:
    return [_validate_in_worker(job.data, job.layers, job.format_key, job.only) for job in jobs]


def _check_part(document: _Shared, part: Part, format_key: str | None) -> ValidationReport:
    global _held
    if _held is None or _held[0] != document.token:
        _held = None  # let the last document go before parsing this one
        _held = (document.token, ParsedDocument.parse(document.read()))
    patterns = {part.schematron.name: (part.pattern,)} if part.pattern is not None else None
    return _validator().check(_held[1], part.layers, format_key=format_key, patterns=patterns)


def _batches(jobs: Iterable[ValidationJob], size: int) -> Iterator[list[ValidationJob]]:
    chunk: list[ValidationJob] = []
    for job in jobs:
        chunk.append(job)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# multiprocessing's forkserver listens on <temp dir>/pymp-XXXXXXXX/listener-XXXXXXXX, and a
# socket path may have at most this many bytes (Linux; macOS allows 103).
_SOCKET_PATH_MAX = 103
_LISTENER_SUFFIX = len("/pymp-xxxxxxxx/listener-xxxxxxxx")


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods and _forkserver_fits():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


@functools.cache
def _forkserver_fits() -> bool:
    """Whether the forkserver's socket fits under the temp directory; said once if not.

    Under a long TMPDIR its start fails ("AF_UNIX path too long") and with it
    every check: spawn starts the workers a little slower, and always.
    """
    temp = tempfile.gettempdir()
    if len(os.fsencode(temp)) + _LISTENER_SUFFIX <= _SOCKET_PATH_MAX:
        return True
    log.warning("the temp directory %s is too long a path for multiprocessing's forkserver "
                "socket; validation workers are started with spawn (a shorter TMPDIR starts "
                "them quicker)", temp)
    return False


def _start_helpers(context: multiprocessing.context.BaseContext) -> None:
    """Start multiprocessing's resource tracker and forkserver deaf to a hang-up.

    Closing the terminal sends SIGHUP to its whole process group, and the
    gateway stops in order on it, closing the pool; the helpers must leave
    the stop to it. A tracker dead of SIGHUP is started anew, knowing none of
    the pool's semaphores, and prints a KeyError traceback for each the pool
    then frees. Blocked in this thread while they start, SIGHUP stays blocked
    in them (the mask survives fork and exec, and neither unblocks it) and
    in the workers the forkserver forks, while this process's other threads
    still take it; one pending here arrives when the mask is restored. They
    end anyway when this process ends: their pipe from it closes.
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        resource_tracker.ensure_running()
        if context.get_start_method() == "forkserver":
            forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


@attrs.define(eq=False)
class _Handed:
    """What the pool handed to one executor: the futures not yet settled, and who settles them.

    CPython 3.11's executor fails the futures of a dead worker from its manager
    thread, and can miss some: that thread dies on one cancelled meanwhile
    (InvalidStateError, leaving the rest), and a submit racing with the death
    can add one after it looked. Nothing settles those: their callers would wait
    for ever, beside idle workers. The pool settles them itself once that
    thread has ended (see ``ValidationPool._settle_leftovers``).
    """

    manager: threading.Thread | None
    futures: set[concurrent.futures.Future[Any]] = attrs.Factory(set)
    processes: dict[int, Any] = attrs.Factory(dict)
    settling: bool = False
    hung: bool = False
    """Whether its workers were ended for a task past the time limit (see ``_watch``)."""


@attrs.define(eq=False)
class _Waiting:
    """A document :meth:`ValidationPool.validate` has not yet handed to a worker."""

    job: _Job
    future: asyncio.Future[ValidationReport]
    retried: bool = False
    """Whether a worker died with this document once already."""


class ValidationPool:
    """A pool of worker processes, each with its own :class:`Validator`.

    ``warm`` names layers every worker compiles as it starts, so the first
    documents do not pay for compiling. The processes start on first use, or
    all at once with :meth:`start`, and stop with :meth:`close` (or the
    ``with`` block). A pool whose worker died starts new workers for the
    next documents.
    """

    def __init__(
        self, standards_dir: Path, workers: int | None = None, *,
        warm: Sequence[ValidationLayer] = (), split_bytes: int = SPLIT_BYTES,
        close_grace: float = CLOSE_GRACE, time_limit: float | None = TIME_LIMIT,
        scheduling: str = INHERIT, manifest: Manifest | None = None,
    ) -> None:
        self.standards_dir = Path(standards_dir)
        # The pinned files with those plugins added (Registry.manifest); None: Wissel's.
        self.manifest = manifest
        # The gateway's [gateway] scheduling: under "batch" the workers leave the
        # SCHED_BATCH they inherit (see gateway.scheduling).
        self.scheduling = scheduling
        self.split_bytes = split_bytes
        self.close_grace = close_grace
        if time_limit is not None and not time_limit > 0:
            raise ValueError(f"a validation time limit must be positive, not {time_limit}")
        self.time_limit = time_limit
        # Watches the tasks in flight for one past time_limit; started with the first task.
        self._watchdog: threading.Thread | None = None
        self._watch_stop = threading.Event()
        # Tasks whose workers were ended for running past the limit, so their documents'
        # errors can say so (weak: a task nobody asks about again is forgotten).
        self._overrun: weakref.WeakSet[concurrent.futures.Future[Any]] = weakref.WeakSet()
        self.overruns = 0
        """Times workers were ended because a task ran past ``time_limit``."""
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError(f"a validation pool needs at least one worker, not {self.workers}")
        self._warm = tuple(warm)
        self._warm_sets: tuple[WarmSet, ...] = ()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        # Futures handed to executors and not yet settled, by executor (see _Handed).
        self._handed: dict[concurrent.futures.ProcessPoolExecutor, _Handed] = {}
        self._handed_lock = threading.Lock()
        # Where the workers of the current executor say they are warm (see start()).
        self._ready: Any = None
        self._stop_warming: Any = None  # an event, set when the pool closes
        self._announce = False  # whether workers report their warmth: after start()
        self._warmth: list[Warmth] = []
        # The longest start of a worker until warm seen here: kept when the workers are
        # replaced, as it is what their replacement will take (see replacement_seconds).
        self._longest_start = 0.0
        # Reads the stylesheets' patterns; never compiles, so this process needs no Saxon.
        self._planner = Validator(self.standards_dir, manifest=manifest)
        # validate()'s documents waiting for a worker, and its tasks in flight:
        # state of one event loop, touched only from that loop's thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._busy = 0
        # Documents split over every worker because all were idle (see validate()):
        # each holds every worker, so the queue counts it as that many tasks.
        self._splitting = 0
        # A document a worker died with goes out again alone, with nothing else in
        # flight: if it kills this worker too, it alone was in the executor, so no other
        # document is charged with that second death.
        self._suspect_in_flight = False
        self._flush_due = False
        self._closing = False  # close() is dropping the waiting documents
        self.handoffs = 0
        """Tasks validate() handed to workers so far: fewer than documents when batched."""
        self.second_tries = 0
        """Documents validate() gave to new workers because theirs died."""
        self.splits = 0
        """Documents validate() spread over every worker because all were idle."""

    # -- the processes ---------------------------------------------------------

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                _start_helpers(_context())
                self._ready = _context().Queue() if self._announce else None
                self._stop_warming = _context().Event() if self._announce else None
                self._warmth = []
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=_context(),
                    initializer=_start_worker,
                    initargs=(self.standards_dir, self._warm, self._warm_sets, self._ready,
                              self._stop_warming, self.scheduling, self.manifest),
                )
                if self._announce:
                    # A ProcessPoolExecutor starts a process per task while none is
                    # idle, so one task per worker starts them all now.
                    for _ in range(self.workers):
                        self._executor.submit(os.getpid)
            return self._executor

    def _submit(
        self, fn: Callable[..., Any], *args: Any,
    ) -> concurrent.futures.Future[Any]:
        """``fn(*args)`` in a worker; a pool broken by a dead worker is replaced first."""
        executor = self._pool()
        try:
            future = executor.submit(fn, *args)
        except BrokenProcessPool:
            self._discard(executor)
            executor = self._pool()
            future = executor.submit(fn, *args)
        self._hold(executor, future)
        return future

    def _hold(self, executor: concurrent.futures.ProcessPoolExecutor,
              future: concurrent.futures.Future[Any]) -> None:
        """Keep ``future`` until it is settled, so that a broken executor cannot lose it."""
        with self._handed_lock:
            handed = self._handed.get(executor)
            if handed is None:
                # Taken now: shutting the executor down forgets its manager thread.
                manager = getattr(executor, "_executor_manager_thread", None)
                handed = self._handed[executor] = _Handed(manager)
            handed.futures.add(future)
            handed.processes.update(executor._processes or {})
        future.add_done_callback(functools.partial(self._settled, executor))
        if self.time_limit is not None and self._watchdog is None:
            self._start_watching(self.time_limit)
        if executor._broken:
            # A worker died during that submit: the manager thread may have failed the
            # executor's futures before this one was among them.
            self._settle_later(executor)

    def _settled(self, executor: concurrent.futures.ProcessPoolExecutor,
                 future: concurrent.futures.Future[Any]) -> None:
        with self._handed_lock:
            handed = self._handed.get(executor)
            if handed is not None:
                handed.futures.discard(future)
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._settle_later(executor)

    def _settle_later(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._handed_lock:
            handed = self._handed.get(executor)
            if handed is None or handed.settling:
                return
            handed.settling = True
        threading.Thread(target=self._settle_leftovers, args=(executor, handed), daemon=True,
                         name="wissel-validation-settle").start()

    def _settle_leftovers(
        self, executor: concurrent.futures.ProcessPoolExecutor, handed: _Handed,
    ) -> None:
        """Fail what a broken executor left unsettled, once its manager thread has ended.

        Not before: a future settled twice raises in that thread, which then
        stops settling the others. A thread that died on the way also left its
        workers running, idle for good: they are ended here. A future held
        after this has begun gets a settling of its own (see ``_hold``).
        """
        if handed.manager is not None:
            handed.manager.join()
        with self._handed_lock:
            if self._handed.get(executor) is handed:
                del self._handed[executor]
            left = list(handed.futures)
        for process in handed.processes.values():
            if process.is_alive():
                process.terminate()
        for future in left:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(BrokenProcessPool(
                    "a validation worker process ended while the task was running or waiting"))

    def _start_watching(self, limit: float) -> None:
        with self._lock:
            if self._watchdog is not None:
                return
            self._watchdog = threading.Thread(
                target=self._watch, args=(limit, self._watch_stop), daemon=True,
                name="wissel-validation-watchdog")
            self._watchdog.start()

    def _watch(self, limit: float, stop: threading.Event) -> None:
        """End the workers of an executor one of whose tasks has run longer than ``limit``.

        A task counts from when this thread first sees it running, which the
        executor says of a task once it is in the workers' queue: at most one
        more than there are workers, so a task waits there only for one that is
        running. Ending a worker breaks its executor; its tasks' documents go to
        new workers (validate() gives each that one more try), and a document
        that hangs its worker again fails with its second death, naming the limit.
        """
        since: dict[concurrent.futures.Future[Any], float] = {}
        while not stop.wait(min(1.0, limit / 4)):
            now = time.monotonic()
            hung: list[tuple[concurrent.futures.ProcessPoolExecutor, _Handed, int]] = []
            with self._handed_lock:
                running: set[concurrent.futures.Future[Any]] = set()
                for executor, handed in self._handed.items():
                    over = [future for future in handed.futures if future.running()
                            and now - since.setdefault(future, now) > limit]
                    running.update(future for future in handed.futures if future.running())
                    if over and not handed.hung and not handed.settling:
                        handed.hung = True
                        self._overrun.update(over)
                        hung.append((executor, handed, len(over)))
                for future in [future for future in since if future not in running]:
                    del since[future]
            for executor, handed, tasks in hung:
                self.overruns += 1
                log.error("%d validation task(s) ran longer than the time limit of %g s; their "
                          "workers are ended as hung, and the documents they held go to new "
                          "workers", tasks, limit)
                processes = dict(handed.processes)
                with contextlib.suppress(RuntimeError):  # changed by the manager meanwhile
                    processes.update(executor._processes or {})
                for process in processes.values():
                    if process.is_alive():
                        process.kill()

    def _cause(self, future: concurrent.futures.Future[Any], error: BaseException
               ) -> BaseException:
        """``error`` of a broken executor, worded as a time limit when the watchdog broke it."""
        if future in self._overrun:
            return BrokenProcessPool(
                f"it ran longer than the time limit of {self.time_limit:g} s, and its worker "
                "was ended as hung")
        return error

    def _discard(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not executor:
                return  # another caller replaced it already
            self._executor = None
            ready, self._ready = self._ready, None
        executor.shutdown(wait=False, cancel_futures=True)
        _close_queue(ready)
        self._settle_later(executor)

    def start(self, warm: Iterable[WarmSet] = ()) -> None:
        """Start every worker now; each compiles and runs ``warm`` before it takes work.

        Returns once the processes are started (tens of milliseconds, so
        better off the event loop): they warm up on their own, and
        :meth:`warming` tells when they are done. Sets without layers are
        ignored. On a pool whose workers run already, new sets are warmed by
        one task per worker, which most likely, not surely, reaches each.
        """
        sets = tuple(warm_set for warm_set in warm if warm_set.layers)
        with self._lock:
            new = tuple(warm_set for warm_set in sets if warm_set not in self._warm_sets)
            self._warm_sets += new
            self._announce = True
            running = self._executor
        if running is None:
            self._pool()
        elif new:
            for _ in range(self.workers):
                self._submit(_warm_more, new)

    @property
    def running(self) -> bool:
        """Whether worker processes are started (or being started)."""
        return self._executor is not None

    def warmth(self) -> list[Warmth]:
        """What each worker started so far did to warm up (only after :meth:`start`)."""
        with self._lock:
            ready = self._ready
            while ready is not None:
                try:
                    warmth = ready.get_nowait()
                except queue.Empty:
                    break
                self._warmth.append(warmth)
                self._longest_start = max(self._longest_start, warmth.seconds)
            return list(self._warmth)

    def replacement_seconds(self) -> int:
        """About how long new workers take to start and warm up, in whole seconds.

        The longest start until warm this pool has seen (none before a warm
        start: a worker then compiles on first use), and a process's own start:
        what a caller whose document lost its workers waits before it tries again.
        """
        self.warmth()
        return math.ceil(WORKER_START_SECONDS + self._longest_start)

    def warming(self) -> bool:
        """Whether workers started with :meth:`start` are still compiling or warming."""
        return self._ready is not None and len(self.warmth()) < self.workers

    def wait_warm(self, timeout: float) -> bool:
        """Block until every worker is warm, or ``timeout`` seconds pass; whether it is."""
        deadline = time.monotonic() + timeout
        while self.warming():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return self._ready is not None

    # -- validating ------------------------------------------------------------

    def submit(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> concurrent.futures.Future[ValidationReport]:
        # Checked here, so a typo fails at once rather than in every worker.
        select_layers(layers, only)
        wanted = frozenset(str(entry) for entry in only) if only is not None else None
        return self._submit(_validate_in_worker, bytes(data), tuple(layers), format_key, wanted)

    async def validate(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> ValidationReport:
        """Validate in worker processes; the event loop keeps running meanwhile.

        A document whose worker ended goes to new workers once more; raises
        :class:`ValidationWorkerDied` when that one ends too.
        """
        selected = select_layers(layers, only)
        parts = self.parts(data, selected)
        if parts:
            reports = await self._in_parts(data, parts, format_key)
            return merge_parts(reports, parts, selected, format_key)
        loop = asyncio.get_running_loop()
        job: _Job = (bytes(data), _layer_keys(selected), format_key)
        if not self._adopt(loop):
            return await self._alone(job)
        if self._idle() and (layered := self.layer_parts(selected)):
            return await self._split_while_idle(data, layered, selected, format_key)
        future: asyncio.Future[ValidationReport] = loop.create_future()
        self._waiting.append(_Waiting(job, future))
        if not self._flush_due:
            # After the callbacks already due: documents of this tick go together.
            self._flush_due = True
            loop.call_soon(self._flush)
        return await future

    def _idle(self) -> bool:
        """Whether no worker has or waits for a document of validate()'s."""
        return not (self._busy or self._splitting or self._waiting or self._suspect_in_flight)

    async def _split_while_idle(
        self, data: bytes, parts: list[Part], layers: Sequence[ValidationLayer],
        format_key: str | None,
    ) -> ValidationReport:
        """One document on idle workers, its Schematron layers side by side.

        A document that finds every worker idle waits for nothing but its own
        check, and that is the whole of its wait: run on all workers at once it
        is answered in about the time of its largest layer (a Peppol invoice's two
        Schematron layers take about the same) instead of all of them, for one
        more parse of it (a twentieth of the check). Documents arriving
        meanwhile queue as when every worker is busy, so under load nothing is
        split and throughput is as before.
        """
        self._splitting += 1
        self.splits += 1
        try:
            reports = await self._in_parts(data, parts, format_key)
        finally:
            self._splitting -= 1
            self._flush()
        return merge_parts(reports, parts, layers, format_key)

    async def _in_parts(
        self, data: bytes, parts: Sequence[Part], format_key: str | None,
    ) -> list[ValidationReport]:
        # Shielded: a caller that gives up must not cancel the executor's futures (see
        # _Handed); the parts run to their end and their reports are dropped.
        reports: list[ValidationReport] = await self._once_more_if_died(
            lambda: asyncio.shield(asyncio.gather(*(
                asyncio.wrap_future(future)
                for future in self._submit_parts(data, parts, format_key)))))
        return reports

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether ``loop`` may use the batching queue (one loop at a time does)."""
        if self._loop is loop:
            return True
        if self._loop is not None and not self._loop.is_closed() and (
                self._busy or self._waiting or self._splitting):
            return False
        # A closed loop's callbacks will never run: what it left counts no more.
        self._loop, self._busy, self._flush_due, self._closing = loop, 0, False, False
        self._splitting = 0
        self._suspect_in_flight = False
        self._waiting.clear()
        return True

    async def _alone(self, job: _Job) -> ValidationReport:
        [result] = await self._once_more_if_died(
            lambda: asyncio.shield(asyncio.wrap_future(self._submit(_validate_jobs, (job,)))))
        if isinstance(result, Exception):
            raise result
        report: ValidationReport = result
        return report

    def _flush(self) -> None:
        """Hand waiting documents to the workers, a few per task, shared out evenly.

        At most one task per worker plus one is in flight. The one more waits
        in the executor's queue for whichever worker is free first, so no
        worker idles while this process turns a finished task into the next
        one (with a busy event loop that can take milliseconds), and no busy
        worker holds documents that another could take. The rest wait here,
        where they can still join a batch; and while there are free places
        enough, every document travels alone.
        """
        self._flush_due = False
        if self._closing:
            return
        places = self.workers + 1 - self.workers * self._splitting
        while self._waiting and self._busy < places and not self._suspect_in_flight:
            if self._waiting[0].future.done():  # a cancelled caller's document is dropped
                self._waiting.popleft()
                continue
            if self._waiting[0].retried:
                if self._busy:
                    return  # it waits until nothing else is in flight
                self._suspect_in_flight = True
                self._send([self._waiting.popleft()])
                return
            free = places - self._busy
            size = min(BATCH_MAX, -(-len(self._waiting) // free))
            batch: list[_Waiting] = []
            while self._waiting and len(batch) < size and not self._waiting[0].retried:
                waiting = self._waiting.popleft()
                if not waiting.future.done():
                    batch.append(waiting)
            if batch:
                self._send(batch)

    def _send(self, batch: list[_Waiting]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            future = self._submit(_validate_jobs, tuple(waiting.job for waiting in batch))
        except Exception as exc:  # e.g. submitted during interpreter shutdown
            error = exc
            _fail(batch, lambda: error)
            return
        self._busy += 1
        self.handoffs += 1

        def done(finished: concurrent.futures.Future[Any]) -> None:
            # A closed loop: nobody waits for these documents any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._finished, batch, finished)

        future.add_done_callback(done)

    def _finished(self, batch: list[_Waiting], finished: concurrent.futures.Future[Any]) -> None:
        self._busy -= 1
        if self._suspect_in_flight and len(batch) == 1 and batch[0].retried:
            self._suspect_in_flight = False
        if finished.cancelled():  # close() while it waited for a worker
            for waiting in batch:
                waiting.future.cancel()
        elif (error := finished.exception()) is not None:
            if isinstance(error, BrokenProcessPool):
                self._once_more(batch, self._cause(finished, error))
            else:
                _fail(batch, lambda: error)
        else:
            for waiting, result in zip(batch, finished.result(), strict=True):
                if waiting.future.done():
                    continue
                if isinstance(result, Exception):
                    waiting.future.set_exception(result)
                else:
                    waiting.future.set_result(result)
        self._flush()

    async def _once_more_if_died(self, hand_off: Callable[[], Awaitable[T]]) -> T:
        """``hand_off()``, once more (to new workers) if a worker died meanwhile."""
        try:
            return await hand_off()
        except BrokenProcessPool as exc:
            self.second_tries += 1
            _log_death(exc, 1)
        try:
            return await hand_off()
        except BrokenProcessPool as exc:
            raise _died(exc) from exc

    def _once_more(self, batch: list[_Waiting], error: BaseException) -> None:
        """Give a dead worker's documents to new workers, first in line; a second death fails them.

        The next hand-off finds the executor broken and replaces it.
        """
        again = []
        for waiting in batch:
            if waiting.future.done():
                continue
            if self._closing:
                waiting.future.cancel()
            elif waiting.retried:
                waiting.future.set_exception(_died(error))
            else:
                waiting.retried = True
                again.append(waiting)
        self.second_tries += len(again)
        if again:
            _log_death(error, len(again))
        self._waiting.extendleft(reversed(again))

    def _drop_waiting(self) -> None:
        for waiting in self._waiting:
            waiting.future.cancel()
        self._waiting.clear()
        self._closing = False

    def run(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> ValidationReport:
        """Validate one document in the workers and wait for the report."""
        selected = select_layers(layers, only)
        parts = self.parts(data, selected)
        if not parts:
            return self.submit(data, selected, format_key).result()
        futures = self._submit_parts(data, parts, format_key)
        return merge_parts([future.result() for future in futures], parts, selected, format_key)

    def parts(self, data: bytes, layers: Sequence[ValidationLayer]) -> list[Part]:
        """The tasks one document is split into; none when it is validated in one go.

        Only a document larger than ``split_bytes``, with more than one worker
        and more than one part, is split.
        """
        if len(data) <= self.split_bytes or self.workers < 2:
            return []
        parts = []
        for layer in layers:
            if layer.kind is not LayerKind.SCHEMATRON:
                continue
            patterns: Sequence[str | None] = self._planner.patterns(layer) or [None]
            parts += [Part(_with_xsd(layers, layer), layer, pattern) for pattern in patterns]
        return parts if len(parts) > 1 else []

    def layer_parts(self, layers: Sequence[ValidationLayer]) -> list[Part]:
        """One task per Schematron layer, each whole; none with one layer or one worker."""
        if self.workers < 2:
            return []
        parts = [Part(_with_xsd(layers, layer), layer, None) for layer in layers
                 if layer.kind is LayerKind.SCHEMATRON]
        return parts if len(parts) > 1 else []

    def _submit_parts(
        self, data: bytes, parts: Sequence[Part], format_key: str | None,
    ) -> list[concurrent.futures.Future[ValidationReport]]:
        token = uuid.uuid4().hex
        # The helpers first, deaf to a hang-up (_start_helpers): the block below registers
        # with the resource tracker, which would start it otherwise.
        self._pool()
        try:
            block = shared_memory.SharedMemory(create=True, size=max(1, len(data)))
        except OSError:  # no shared memory here: every task carries the bytes
            document = _Shared(token, len(data), None, bytes(data))
            return [self._submit(_check_part, document, part, format_key) for part in parts]
        _buffer(block)[: len(data)] = data
        document = _Shared(token, len(data), block.name)
        futures = []
        try:
            for part in parts:
                futures.append(self._submit(_check_part, document, part, format_key))
        finally:
            _release_when_done(block, futures)
        return futures

    def map(self, jobs: Iterable[ValidationJob], *, batch: int = 8) -> Iterator[ValidationReport]:
        """Reports for ``jobs`` in their order, keeping every worker busy.

        Jobs travel in batches: one round trip per document costs the parent
        process a share of a core that the workers need. Only a few batches
        per worker are in flight, so a long stream of documents is not read
        into memory all at once.
        """
        window = self.workers * 2
        pending: collections.deque[concurrent.futures.Future[list[ValidationReport]]] = (
            collections.deque())
        for chunk in _batches(jobs, batch):
            for job in chunk:  # a typo fails here, not in every worker
                select_layers(job.layers, job.only)
            pending.append(self._submit(_validate_batch, chunk))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()

    def close(self) -> None:
        """Stop the workers; documents not yet handed to one are cancelled."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # Before the shutdown, so that no task finishing meanwhile hands them
            # to new workers: the loop runs this before those tasks' callbacks.
            self._closing = True
            if _running_loop() is loop:
                self._drop_waiting()
            else:
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    loop.call_soon_threadsafe(self._drop_waiting)
        with self._lock:
            executor, self._executor = self._executor, None
            ready, self._ready = self._ready, None
            stop, self._stop_warming = self._stop_warming, None
            # A pool used again after close() watches its new tasks with a new watchdog.
            watch_stop, self._watch_stop = self._watch_stop, threading.Event()
            self._watchdog = None
        watch_stop.set()
        if stop is not None:
            stop.set()
        if executor is not None:
            self._shut_down(executor)
            with self._handed_lock:
                self._handed.pop(executor, None)
        _close_queue(ready)

    def _shut_down(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        """Stop ``executor``: its workers finish what they run, within ``close_grace``.

        ``shutdown(wait=True)`` waits until every worker has taken its stop mark
        from the queue and ended. A worker that hangs (stopped, stuck in native
        code) never does, and neither did one left without its mark in a test
        run that hung for ten minutes here: a gateway told to stop would wait
        for ever. Past the grace the workers are killed, which is what a stop
        means for the document they held; at once when a worker has died
        meanwhile (see ``_died_unasked``): the others then never end.
        """
        manager = getattr(executor, "_executor_manager_thread", None)
        processes = list((executor._processes or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        if manager is None:
            return
        deadline = time.monotonic() + self.close_grace
        while manager.is_alive() and not _died_unasked(processes):
            manager.join(min(0.1, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                break
        if not manager.is_alive():
            return
        if not _died_unasked(processes):
            log.warning("validation workers did not end within %g s of the stop; ending them",
                        self.close_grace)
        for process in processes:
            if process.is_alive():
                process.kill()
        manager.join(self.close_grace)

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _died_unasked(processes: Iterable[Any]) -> bool:
    """Whether one of ``processes`` ended other than by taking its stop mark.

    An idle worker waits for work holding the task queue's read lock. Killed
    so (the out-of-memory killer), it takes the lock with it, and the others
    can never take their stop marks. The executor ends them itself when it
    sees the death first; a stop that reaches it first (or together, as it
    looks for the stop before deaths) waits for them for ever. A worker that
    took its mark ends with 0.
    """
    return any(process.exitcode not in (None, 0) for process in processes)


def _died(cause: BaseException) -> ValidationWorkerDied:
    return ValidationWorkerDied(
        f"a validation worker process ended twice while it held this document ({cause}); the "
        "document was not validated and may be sent again")


def _log_death(cause: BaseException, documents: int) -> None:
    # Workers do not die on their own: the out-of-memory killer is the usual
    # cause, and an operator should hear of it even when no document suffers.
    log.warning("a validation worker process ended (%s); %d document(s) it held go to new "
                "workers", cause, documents)


def _fail(batch: Iterable[_Waiting], error: Callable[[], BaseException]) -> None:
    for waiting in batch:
        if not waiting.future.done():
            waiting.future.set_exception(error())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _close_queue(ready: Any) -> None:
    if ready is not None:
        ready.close()
        ready.join_thread()


def _release_when_done(
    block: shared_memory.SharedMemory,
    futures: Sequence[concurrent.futures.Future[ValidationReport]],
) -> None:
    """Free ``block`` once no task can read it any more: all done, failed or cancelled."""
    remaining = len(futures)
    lock = threading.Lock()

    def release() -> None:
        block.close()
        block.unlink()

    def done(_: concurrent.futures.Future[ValidationReport]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            last = remaining == 0
        if last:
            release()

    if not futures:
        release()
    for future in futures:
        future.add_done_callback(done)


def split_layers(
    layers: Sequence[ValidationLayer], parts: int,
) -> list[tuple[ValidationLayer, ...]]:
    """Up to ``parts`` groups, each with every XSD layer and its share of the Schematron layers.

    Every group keeps the XSD layers so that each worker skips its
    Schematron layers on a document the schema rejects, as one validator would.
    """
    rules = [layer for layer in layers if layer.kind is LayerKind.SCHEMATRON]
    count = min(parts, len(rules))
    if count < 2:
        return [tuple(layers)]
    share = {layer: index % count for index, layer in enumerate(rules)}
    return [
        tuple(layer for layer in layers if layer.kind is LayerKind.XSD or share[layer] == group)
        for group in range(count)
    ]


def _with_xsd(
    layers: Sequence[ValidationLayer], schematron: ValidationLayer,
) -> tuple[ValidationLayer, ...]:
    """The XSD layers and ``schematron``, in their order: what one part of a document runs."""
    return tuple(layer for layer in layers
                 if layer.kind is LayerKind.XSD or layer is schematron)


def merge_parts(
    reports: Sequence[ValidationReport], parts: Sequence[Part],
    layers: Sequence[ValidationLayer], format_key: str | None,
) -> ValidationReport:
    """One report from the reports of a split document's parts, as if run in one go."""
    first = reports[0]
    if any(finding.layer == PARSE_LAYER for finding in first.findings):
        return first  # the document did not parse, in any worker
    findings: list[Finding] = []
    for layer in layers:
        if layer.kind is not LayerKind.SCHEMATRON:
            findings += [f for f in first.findings if f.layer == layer.name]
            continue
        per_part = [[f for f in report.findings if f.layer == layer.name]
                    for report, part in zip(reports, parts, strict=True)
                    if part.schematron == layer]
        findings += _layer_findings(per_part)
    ran = {name for report in reports for name in report.layers}
    return ValidationReport.of(findings, [layer.name for layer in layers if layer.name in ran],
                               format_key)


def _layer_findings(per_part: list[list[Finding]]) -> list[Finding]:
    for found in per_part:
        # Every part skips the layer alike, and a Saxon error stops the whole
        # layer in one process: either is said once, as one process says it.
        if any(f.rule in (SKIPPED_RULE, SAXON_ERROR_RULE) for f in found):
            return found
    return [finding for found in per_part for finding in found]
