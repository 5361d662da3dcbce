"""Spans, metrics and OTEL_* variables behave as documented."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pipeline_support import SUPPLIER_KVK, make_pipeline
from test_telemetry import _READER, points, sent_invoice, spans, store  # noqa: F401

from gateway.channels import StatusReport
from gateway.pipeline.status import StatusDesk
from gateway.store import Store
from gateway.telemetry import configure_telemetry


async def test_a_status_report_has_its_own_stage_span_and_duration(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,  # noqa: F811
) -> None:
    # gateway/instruments.py: "One span per pipeline stage, named wissel.<stage>:
    # intake (...), send, status, decode and deliver." The status stage too.
    pipe = await make_pipeline(store, tmp_path)
    message_id = await sent_invoice(pipe)
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_id is not None
    desk = StatusDesk(store, lambda: SUPPLIER_KVK)
    spans.clear()
    _READER.get_metrics_data()
    found = await desk.record("recorder", StatusReport(
        code="delivered", text="at the agency", transport_id=record.transport_id,
        business_state="delivered-to-agency"))
    assert found == message_id
    names = [s.name for s in spans.get_finished_spans()]
    assert "wissel.status" in names, names
    data = _READER.get_metrics_data()
    assert data is not None
    stages = {p.attributes["stage"] for p in points(data, "wissel.stage.duration")}
    assert "status" in stages


async def test_stage_durations_in_seconds_have_sub_second_buckets(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,  # noqa: F811
) -> None:
    # wissel.stage.duration is recorded in seconds; the SDK's default buckets (0, 5, 10,
    # 25, ... 10000) are made for milliseconds, and every stage under five seconds (all of
    # them) would land in one bucket, with no percentile to read.
    await sent_invoice(await make_pipeline(store, tmp_path))
    data = _READER.get_metrics_data()
    assert data is not None
    [point, *_] = points(data, "wissel.stage.duration")
    bounds = list(point.explicit_bounds)
    assert any(0 < b < 1 for b in bounds), f"no bucket below one second: {bounds}"


@pytest.fixture
def no_global_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure_telemetry() without replacing the process-wide providers of other tests."""
    monkeypatch.setattr(trace, "set_tracer_provider", lambda provider: None)
    monkeypatch.setattr(metrics, "set_meter_provider", lambda provider: None)


def _fake_exporters(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand-ins for the two OTLP span exporters (the package is not installed here)."""
    built: list[str] = []
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    for protocol in ("http", "grpc"):
        class Exporter(SpanExporter):
            kind = protocol

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                built.append(self.kind)

            def export(self, batch: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        module = types.ModuleType(f"opentelemetry.exporter.otlp.proto.{protocol}.trace_exporter")
        module.OTLPSpanExporter = Exporter  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return built


def test_otel_exporter_otlp_protocol_grpc_is_honoured(
    monkeypatch: pytest.MonkeyPatch, no_global_install: None,
) -> None:
    # The standard variable that picks grpc (collector port 4317) or http/protobuf (4318).
    built = _fake_exporters(monkeypatch)
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    telemetry = configure_telemetry(env)
    telemetry.shutdown()
    assert built == ["grpc"], f"built the {built} exporter for OTEL_EXPORTER_OTLP_PROTOCOL=grpc"


def test_service_name_from_otel_resource_attributes_is_kept(
    monkeypatch: pytest.MonkeyPatch, no_global_install: None,
) -> None:
    # telemetry.py says OTEL_RESOURCE_ATTRIBUTES is read "through the SDK's resource
    # detection"; a service.name given there must not be overwritten by the default.
    attributes = "service.name=billing-gateway,deployment.environment=prod"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", attributes)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    telemetry = configure_telemetry({"OTEL_TRACES_EXPORTER": "console",
                                     "OTEL_RESOURCE_ATTRIBUTES": attributes})
    try:
        assert telemetry.tracer_provider is not None
        resource = dict(telemetry.tracer_provider.resource.attributes)
        assert resource["deployment.environment"] == "prod"
        assert resource["service.name"] == "billing-gateway"
    finally:
        telemetry.shutdown()


async def test_inbound_documents_cannot_mint_metric_series_at_will(
    spans: InMemorySpanExporter, store: Store, tmp_path: Path,  # noqa: F811
) -> None:
    # The buyer "OIN" an inbound document states is kept "exactly as written",
    # unchecked: as a metric label (wissel.stage.duration, agency_oin) every sender
    # could pick a new series per document, e.g. its own document number.
    import attrs
    from pipeline_support import document_json

    from gateway.channels import InboundDocument
    from gateway.model.common import PartyId
    from gateway.model.samples import example_order

    pipe = await make_pipeline(store, tmp_path)
    _READER.get_metrics_data()
    stated = [f"PO-{n}-not-an-oin" for n in range(3)]
    for n, value in enumerate(stated):
        order = example_order()
        buyer = attrs.evolve(order.buyer, endpoint_id=PartyId(scheme="0190", value=value))
        await pipe.inbound.receive(InboundDocument(
            data=document_json(attrs.evolve(order, number=f"PO-{n}", buyer=buyer)),
            channel="folder", transport_id=f"t-{n}"))
    data = _READER.get_metrics_data()
    assert data is not None
    labels = {p.attributes.get("agency_oin") for p in points(data, "wissel.stage.duration")
              if p.attributes["stage"] == "decode"}
    assert not labels & set(stated), f"metric label values taken from documents: {labels}"
