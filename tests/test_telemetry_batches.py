"""Spans leave in batches of 64 unless the operator sets OTEL_BSP_MAX_EXPORT_BATCH_SIZE.

The SDK's exporter encodes each batch holding the GIL while the event loop
waits; its default of 512 spans held every request back by 40-50 ms every
0.85 s at 100 validated invoices/s (see gateway.telemetry.EXPORT_BATCH).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from gateway.telemetry import EXPORT_BATCH, span_processor

SPANS = 300


class Batches(SpanExporter):
    """Remembers how many spans each export call carried."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.sizes.append(len(spans))
        return SpanExportResult.SUCCESS


def exported(environ: dict[str, str], count: int = SPANS) -> list[int]:
    exporter = Batches()
    provider = TracerProvider()
    provider.add_span_processor(span_processor(exporter, environ))
    tracer = provider.get_tracer("test")
    for number in range(count):
        with tracer.start_as_current_span(f"span-{number}"):
            pass
    provider.force_flush()
    provider.shutdown()
    assert sum(exporter.sizes) == count
    return exporter.sizes


def test_spans_leave_in_batches_of_64_by_default() -> None:
    sizes = exported({})
    assert max(sizes) == EXPORT_BATCH == 64, sizes


def test_the_operators_batch_size_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200")
    sizes = exported(dict(os.environ))
    assert max(sizes) == 200, sizes


def test_a_smaller_queue_takes_batches_of_64(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the SDK's own 512, any queue under 512 spans without a batch size of its
    # own was refused ("max_export_batch_size must be less than or equal to ...").
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
    sizes = exported(dict(os.environ), count=90)  # what the queue holds
    assert max(sizes) == EXPORT_BATCH, sizes
