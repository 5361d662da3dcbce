"""Validation in worker processes: off the event loop, one core per worker.

Schematron with Saxon is CPU-bound and holds its own runtime lock, so
threads gain nothing (two threads on two Schematron layers measured no
faster than one) while processes scale. Each worker compiles the artifacts
it meets once and keeps them. Workers start with ``forkserver`` (or
``spawn`` where that is missing): Saxon's native runtime does not survive
``fork`` once started.

Many documents keep every worker busy on its own. One large document (a
10,000-line invoice takes seconds per Schematron layer) is split instead, into
one task per Schematron pattern (see :mod:`gateway.validation.patterns`; a
stylesheet that cannot be split is one task). Idle workers take the next
task, so the work evens out however unequal the patterns are; each worker
parses the document and checks the XSD once, for the first task of it that it
gets, and the parts' reports are merged into the report one process would give.
The document travels once, in shared memory, rather than with every task.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import multiprocessing
import os
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from multiprocessing import shared_memory
from pathlib import Path
from types import TracebackType

import attrs

from gateway.formats import LayerKind, ValidationLayer
from gateway.validation.engine import (
    SAXON_ERROR_RULE,
    SKIPPED_RULE,
    ParsedDocument,
    Validator,
    select_layers,
)
from gateway.validation.report import PARSE_LAYER, Finding, ValidationReport

SPLIT_BYTES = 1 << 20
"""Documents larger than this have their Schematron patterns spread over the workers.

About 750 invoice lines, some 0.6 s in one process. Splitting shortens the wait
for any size, but every extra worker parses the document and runs the XSD
again: CPU that other documents in flight need. Below this size the wait is
short anyway, so throughput wins."""


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


_worker: Validator | None = None
_held: tuple[str, ParsedDocument] | None = None
"""The split document this worker is working on, kept for its next part."""


def _start_worker(standards_dir: Path, warm: tuple[ValidationLayer, ...]) -> None:
    global _worker
    _worker = Validator(standards_dir)
    _worker.prepare(warm)


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


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


class ValidationPool:
    """A pool of worker processes, each with its own :class:`Validator`.

    ``warm`` names layers every worker compiles as it starts, so the first
    documents do not pay for compiling. The processes start on first use and
    stop with :meth:`close` (or the ``with`` block).
    """

    def __init__(
        self, standards_dir: Path, workers: int | None = None, *,
        warm: Sequence[ValidationLayer] = (), split_bytes: int = SPLIT_BYTES,
    ) -> None:
        self.standards_dir = Path(standards_dir)
        self.split_bytes = split_bytes
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError(f"a validation pool needs at least one worker, not {self.workers}")
        self._warm = tuple(warm)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        # Reads the stylesheets' patterns; never compiles, so this process needs no Saxon.
        self._planner = Validator(self.standards_dir)

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_context(),
                initializer=_start_worker, initargs=(self.standards_dir, self._warm),
            )
        return self._executor

    def submit(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> concurrent.futures.Future[ValidationReport]:
        # Checked here, so a typo fails at once rather than in every worker.
        select_layers(layers, only)
        wanted = frozenset(str(entry) for entry in only) if only is not None else None
        return self._pool().submit(_validate_in_worker, bytes(data), tuple(layers), format_key,
                                   wanted)

    async def validate(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> ValidationReport:
        """Validate in worker processes; the event loop keeps running meanwhile."""
        selected = select_layers(layers, only)
        parts = self.parts(data, selected)
        if not parts:
            return await asyncio.wrap_future(self.submit(data, selected, format_key))
        reports = await asyncio.gather(
            *(asyncio.wrap_future(future) for future in self._submit_parts(data, parts,
                                                                          format_key)))
        return merge_parts(reports, parts, selected, format_key)

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
            kept = tuple(other for other in layers
                         if other.kind is LayerKind.XSD or other is layer)
            patterns: Sequence[str | None] = self._planner.patterns(layer) or [None]
            parts += [Part(kept, layer, pattern) for pattern in patterns]
        return parts if len(parts) > 1 else []

    def _submit_parts(
        self, data: bytes, parts: Sequence[Part], format_key: str | None,
    ) -> list[concurrent.futures.Future[ValidationReport]]:
        token = uuid.uuid4().hex
        try:
            block = shared_memory.SharedMemory(create=True, size=max(1, len(data)))
        except OSError:  # no shared memory here: every task carries the bytes
            document = _Shared(token, len(data), None, bytes(data))
            return [self._pool().submit(_check_part, document, part, format_key)
                    for part in parts]
        _buffer(block)[: len(data)] = data
        document = _Shared(token, len(data), block.name)
        futures = []
        try:
            for part in parts:
                futures.append(self._pool().submit(_check_part, document, part, format_key))
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
            pending.append(self._pool().submit(_validate_batch, chunk))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


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
