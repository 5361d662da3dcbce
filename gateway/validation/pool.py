"""Validation in worker processes: off the event loop, one core per worker.

Schematron with Saxon is CPU-bound and holds its own runtime lock, so
threads gain nothing (two threads on two Schematron layers measured no
faster than one) while processes scale. Each worker compiles the artifacts
it meets once and keeps them. Workers start with ``forkserver`` (or
``spawn`` where that is missing): Saxon's native runtime does not survive
``fork`` once started.

Many documents keep every worker busy on its own. One large document (a
10,000-line invoice takes seconds per Schematron layer) is split by layer
instead: each worker runs the XSD and some of the Schematron layers, and the
reports are merged, so its latency shrinks with the number of cores.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import multiprocessing
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import attrs

from gateway.formats import LayerKind, ValidationLayer
from gateway.validation.engine import Validator, select_layers
from gateway.validation.report import PARSE_LAYER, Finding, ValidationReport

SPLIT_BYTES = 1 << 20
"""Documents larger than this have their Schematron layers spread over the workers.

About 750 invoice lines, 0.7 s in one process. Splitting shortens the wait
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


_worker: Validator | None = None


def _start_worker(standards_dir: Path, warm: tuple[ValidationLayer, ...]) -> None:
    global _worker
    _worker = Validator(standards_dir)
    _worker.prepare(warm)


def _validate_in_worker(
    data: bytes, layers: tuple[ValidationLayer, ...], format_key: str | None,
    only: frozenset[str] | None,
) -> ValidationReport:
    if _worker is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("validation worker was not initialised")
    return _worker.validate(data, layers, format_key=format_key, only=only)


def _validate_batch(jobs: list[ValidationJob]) -> list[ValidationReport]:
    return [_validate_in_worker(job.data, job.layers, job.format_key, job.only) for job in jobs]


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
        groups = self._groups(data, layers, only)
        if len(groups) == 1:
            return await asyncio.wrap_future(self.submit(data, groups[0], format_key))
        reports = await asyncio.gather(
            *(asyncio.wrap_future(self.submit(data, group, format_key)) for group in groups))
        return merge_reports(reports, groups, format_key)

    def run(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> ValidationReport:
        """Validate one document in the workers and wait for the report."""
        groups = self._groups(data, layers, only)
        futures = [self.submit(data, group, format_key) for group in groups]
        if len(futures) == 1:
            return futures[0].result()
        return merge_reports([future.result() for future in futures], groups, format_key)

    def _groups(
        self, data: bytes, layers: Sequence[ValidationLayer],
        only: Collection[LayerKind | str] | None,
    ) -> list[tuple[ValidationLayer, ...]]:
        selected = select_layers(layers, only)
        if len(data) <= self.split_bytes:
            return [selected]
        return split_layers(selected, self.workers)

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


def merge_reports(
    reports: Sequence[ValidationReport], groups: Sequence[Sequence[ValidationLayer]],
    format_key: str | None,
) -> ValidationReport:
    """One report from the reports of :func:`split_layers` groups, as if run in one go."""
    first = reports[0]
    if any(finding.layer == PARSE_LAYER for finding in first.findings):
        return first  # the document did not parse, in any worker
    order: list[str] = []
    for group in groups:
        order += [layer.name for layer in group if layer.name not in order]
    schema_layers = {layer.name for layer in groups[0] if layer.kind is LayerKind.XSD}
    by_layer: dict[str, list[Finding]] = {name: [] for name in order}
    for index, report in enumerate(reports):
        for finding in report.findings:
            if index == 0 or finding.layer not in schema_layers:
                by_layer.setdefault(finding.layer, []).append(finding)
    ran = {name for report in reports for name in report.layers}
    return ValidationReport.of(
        [finding for findings in by_layer.values() for finding in findings],
        [name for name in order if name in ran], format_key)
