"""Spans and metrics of the pipeline, read with the SDK's in-memory exporter and reader."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pipeline_support import AGENCY_OIN, FAST, Pipeline, document_json, make_pipeline

from gateway.channels import InboundDocument
from gateway.config.model import ErpSettings
from gateway.delivery import DeliveryWorker
from gateway.instruments import observe_store, set_message_counts
from gateway.model.samples import example_invoice, example_order
from gateway.pipeline import DocumentRejected
from gateway.store import Store, TransportState, open_store
from gateway.telemetry import TelemetryError, configure_telemetry

_EXPORTER = InMemorySpanExporter()
# Delta, so each test sees only what it recorded itself.
_READER = InMemoryMetricReader(preferred_temporality={
    Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA})
_installed = False


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The process-wide SDK (OpenTelemetry allows one per process), emptied for each test."""
    global _installed
    if not _installed:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
        _installed = True
    _EXPORTER.clear()
    _READER.get_metrics_data()  # collect, and so drop, what earlier tests recorded
    return _EXPORTER


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as opened:
        await opened.migrate()
        yield opened


def points(data: MetricsData, name: str) -> list[Any]:
    found: list[Any] = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def named(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in finished if s.name == name]
    return span


async def sent_invoice(pipe: Pipeline) -> str:
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, (TransportState.SENT,))
    return record.id


async def test_a_sent_invoice_leaves_a_span_per_stage_and_a_linked_send(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await sent_invoice(pipe)
    finished = spans.get_finished_spans()
    intake = named(finished, "wissel.intake")
    for stage in ("route", "encode", "validate", "persist"):
        child = named(finished, f"wissel.{stage}")
        assert child.parent is not None
        assert child.parent.span_id == intake.context.span_id, stage
    assert intake.attributes is not None
    assert intake.attributes["wissel.message_id"] == message_id
    assert intake.attributes["wissel.kind"] == "invoice"
    assert intake.attributes["wissel.outcome"] == "ok"
    send = named(finished, "wissel.send")
    # The send ran later, in another task: its own trace, linked to the intake.
    assert send.context.trace_id != intake.context.trace_id
    [link] = send.links
    assert (link.context.trace_id, link.context.span_id) == (
        intake.context.trace_id, intake.context.span_id)
    assert send.attributes is not None
    assert send.attributes["wissel.outcome"] == "accepted"
    assert send.attributes["wissel.channel"] == "recorder"
    assert send.attributes["wissel.agency_oin"] == AGENCY_OIN
    number = example_invoice().number
    for span in finished:
        assert number not in str(dict(span.attributes or {})), span.name
    [intake_event] = [e for e in await store.events(message_id) if e.kind == "intake"]
    assert intake_event.detail["traceparent"].split("-")[2] == format(
        intake.context.span_id, "016x")


async def test_metrics_carry_stage_outcome_and_no_business_numbers(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    await sent_invoice(pipe)
    set_message_counts(await store.count_by_state())
    data = _READER.get_metrics_data()
    assert data is not None
    text = data.to_json()
    assert example_invoice().number not in text
    durations = points(data, "wissel.stage.duration")
    stages = {p.attributes["stage"]: p for p in durations}
    assert {"intake", "route", "encode", "validate", "persist", "send"} <= set(stages)
    assert stages["send"].attributes["outcome"] == "accepted"
    assert stages["send"].attributes["channel"] == "recorder"
    assert stages["validate"].attributes["outcome"] == "valid"
    assert stages["intake"].attributes["agency_oin"] == AGENCY_OIN
    assert all(p.count >= 1 and p.sum >= 0 for p in durations)
    allowed = {"stage", "outcome", "kind", "format", "channel", "agency_oin", "target"}
    assert all(set(p.attributes) <= allowed for p in durations)
    [attempt] = [p for p in points(data, "wissel.attempts")
                 if p.attributes["direction"] == "outbound"]
    assert attempt.attributes["outcome"] == "accepted"
    assert attempt.value == 1
    gauge = {(p.attributes["direction"], p.attributes["state"]): p.value
             for p in points(data, "wissel.messages")}
    assert gauge[("outbound", "sent")] == 1


class TimedCounts:
    """The store's own counting, taking at least ``takes`` seconds, as on a large store."""

    def __init__(self, store: Store, takes: float) -> None:
        self.store, self.takes = store, takes
        self.started: list[float] = []

    async def count_by_state(self) -> dict[str, dict[str, int]]:
        loop = asyncio.get_running_loop()
        self.started.append(loop.time())
        counts, _ = await asyncio.gather(self.store.count_by_state(), asyncio.sleep(self.takes))
        return counts


@pytest.mark.parametrize(("takes", "fewest_apart"), [(0.0, 0.05), (0.06, 0.24)])
async def test_counting_for_the_gauge_takes_a_bounded_share_of_the_time(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path, takes: float,
    fewest_apart: float,
) -> None:
    # Counting reads every message and sent ones pile up: a count that takes long
    # waits for its time over the share (0.25 here), not just the interval.
    await sent_invoice(await make_pipeline(store, tmp_path))
    timed = TimedCounts(store, takes)
    task = asyncio.create_task(observe_store(timed, interval=0.05, share=0.25))  # type: ignore[arg-type]
    for _ in range(500):
        if len(timed.started) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    gaps = [b - a for a, b in itertools.pairwise(timed.started)]
    assert len(gaps) >= 2
    assert min(gaps) >= fewest_apart - 0.01
    data = _READER.get_metrics_data()
    assert data is not None
    gauge = {(p.attributes["direction"], p.attributes["state"]): p.value
             for p in points(data, "wissel.messages")}
    assert gauge[("outbound", "sent")] == 1


async def test_a_rejected_document_ends_its_intake_as_rejected(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    with pytest.raises(DocumentRejected):
        await pipe.outbound.submit(b'{"document": "invoice"}', agency_oin=AGENCY_OIN)
    intake = named(spans.get_finished_spans(), "wissel.intake")
    assert intake.attributes is not None
    assert intake.attributes["wissel.outcome"] == "rejected"
    assert "wissel.message_id" in intake.attributes


def test_without_otel_variables_no_sdk_is_installed() -> None:
    telemetry = configure_telemetry({})
    assert not telemetry.enabled


def test_an_unknown_or_missing_exporter_is_named() -> None:
    with pytest.raises(TelemetryError, match="unknown exporter 'zipkin'"):
        configure_telemetry({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(TelemetryError, match="pip install opentelemetry-exporter-otlp"):
        configure_telemetry({"OTEL_METRICS_EXPORTER": "otlp"})


async def test_the_delivery_to_the_erp_links_to_the_decode(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-1"))
    config = attrs.evolve(pipe.config, erp=ErpSettings(delivery="folder", folder=tmp_path / "erp"))
    worker = DeliveryWorker(store, lambda: config, FAST, instance="test")
    assert await worker.run_once() == 1
    finished = spans.get_finished_spans()
    decode = named(finished, "wissel.decode")
    deliver = named(finished, "wissel.deliver")
    assert decode.attributes is not None
    assert (decode.attributes["wissel.outcome"], decode.attributes["wissel.kind"]) == (
        "decoded", "order")
    assert deliver.attributes is not None
    assert deliver.attributes["wissel.message_id"] == message_id
    assert deliver.attributes["wissel.outcome"] == "accepted"
    [link] = deliver.links
    assert link.context.span_id == decode.context.span_id


async def test_an_unknown_agency_opens_no_metric_series_of_its_own(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,
) -> None:
    """A caller with the submit scope sends valid OINs no agency has: each would otherwise
    be a new series of the stage histogram, kept for the life of the process."""
    pipe = await make_pipeline(store, tmp_path)
    unknown = "00000001823288444000"
    with pytest.raises(DocumentRejected):
        await pipe.outbound.submit(document_json(example_invoice()), agency_oin=unknown)
    data = _READER.get_metrics_data()
    assert data is not None
    durations = points(data, "wissel.stage.duration")
    assert "intake" in {p.attributes["stage"] for p in durations}
    assert unknown not in data.to_json()
    # The span still says which OIN was asked for.
    intake = named(spans.get_finished_spans(), "wissel.intake")
    assert intake.attributes is not None
    assert intake.attributes["wissel.agency_oin"] == unknown
