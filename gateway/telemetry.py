"""The OpenTelemetry SDK for ``gateway run``, configured by the standard OTEL_* variables.

Only the application sets up the SDK; the core and plugins use the API
(:mod:`gateway.instruments`). Read here:

- ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``: comma-separated
  ``console``, ``otlp`` or ``none``. Default ``none``: nothing is exported
  and no SDK is installed unless asked for.
- ``OTEL_SERVICE_NAME`` (default ``wissel-gateway``) and
  ``OTEL_RESOURCE_ATTRIBUTES``, through the SDK's resource detection.
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` and the other OTLP variables, read by the
  OTLP exporters themselves (package ``opentelemetry-exporter-otlp``; a
  clear error names it when it is not installed).
- ``OTEL_METRIC_EXPORT_INTERVAL`` (ms), read by the periodic metric reader.
- ``OTEL_BSP_*``, read by the SDK's batch span processor; without
  ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` spans are exported in batches of
  :data:`EXPORT_BATCH` (see there), not the SDK's 512.
"""

from __future__ import annotations

import importlib
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from gateway.errors import GatewayError

DEFAULT_SERVICE_NAME = "wissel-gateway"
EXPORTERS = ("console", "otlp", "none")
OTLP_PACKAGE = "opentelemetry-exporter-otlp"

BATCH_VARIABLE = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
EXPORT_BATCH = 64
"""Spans per export unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says otherwise (the SDK's is 512).

The exporter encodes a batch in its thread holding the GIL, and the event loop
waits meanwhile: at 100 validated invoices/s (some 600 spans a second) the
console exporter's batches of 512 held every request in the gateway back by
40-50 ms every 0.85 s, and the intake p99 rose from 37-50 to 66-70 ms (bench
open loop on PostgreSQL, alternating runs). Smaller batches spread that wait.
"""


class TelemetryError(GatewayError):
    """An OTEL_* variable names an exporter that does not exist or is not installed."""


@attrs.define
class Telemetry:
    """The providers installed for this process; :meth:`shutdown` flushes what is pending."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None

    @property
    def enabled(self) -> bool:
        return self.tracer_provider is not None or self.meter_provider is not None

    def shutdown(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def _names(environ: Mapping[str, str], variable: str) -> list[str]:
    names = [n.strip().lower() for n in environ.get(variable, "none").split(",") if n.strip()]
    for name in names:
        if name not in EXPORTERS:
            raise TelemetryError(
                f"{variable}={environ[variable]!r}: unknown exporter {name!r}; this gateway "
                f"knows {', '.join(EXPORTERS)}")
    return [n for n in names if n != "none"]


OTLP_PROTOCOLS = {"http/protobuf": "http", "grpc": "grpc"}
DEFAULT_OTLP_PROTOCOL = "http/protobuf"


def _protocol(environ: Mapping[str, str], kind: str) -> str:
    """OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http."""
    for variable in (f"OTEL_EXPORTER_OTLP_{kind.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = environ.get(variable, "").strip()
        if value:
            if value not in OTLP_PROTOCOLS:
                raise TelemetryError(
                    f"{variable}={value!r}: this gateway speaks "
                    f"{' or '.join(OTLP_PROTOCOLS)} to an OTLP collector")
            return OTLP_PROTOCOLS[value]
    return OTLP_PROTOCOLS[DEFAULT_OTLP_PROTOCOL]


def _otlp(kind: str, variable: str, environ: Mapping[str, str]) -> Any:
    protocol = _protocol(environ, kind)
    signal = "trace" if kind == "traces" else "metric"
    module = f"opentelemetry.exporter.otlp.proto.{protocol}.{signal}_exporter"
    name = "OTLPSpanExporter" if kind == "traces" else "OTLPMetricExporter"
    try:
        exporter = getattr(importlib.import_module(module), name)
        return exporter()
    except ImportError:
        raise TelemetryError(
            f"{variable} asks for otlp, but the OTLP exporter is not installed: "
            f"pip install {OTLP_PACKAGE}") from None


def span_exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    variable = "OTEL_TRACES_EXPORTER"
    return [ConsoleSpanExporter() if name == "console" else _otlp("traces", variable, environ)
            for name in _names(environ, variable)]


def metric_exporters(environ: Mapping[str, str]) -> list[MetricExporter]:
    variable = "OTEL_METRICS_EXPORTER"
    return [ConsoleMetricExporter() if name == "console" else _otlp("metrics", variable, environ)
            for name in _names(environ, variable)]


def _service_name(environ: Mapping[str, str]) -> str:
    """OTEL_SERVICE_NAME, else the service.name of OTEL_RESOURCE_ATTRIBUTES, else ours."""
    name = environ.get("OTEL_SERVICE_NAME", "").strip()
    if name:
        return name
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return urllib.parse.unquote(value.strip())
    return DEFAULT_SERVICE_NAME


def span_processor(exporter: SpanExporter, environ: Mapping[str, str]) -> BatchSpanProcessor:
    """The SDK's batch processor for ``exporter``, in batches of :data:`EXPORT_BATCH` unless
    ``environ`` sets OTEL_BSP_MAX_EXPORT_BATCH_SIZE (the SDK reads its OTEL_BSP_ variables)."""
    if environ.get(BATCH_VARIABLE, "").strip():
        return BatchSpanProcessor(exporter)
    return BatchSpanProcessor(exporter, max_export_batch_size=EXPORT_BATCH)


def configure_telemetry(environ: Mapping[str, str] | None = None) -> Telemetry:
    """Install tracer and meter providers as the OTEL_* variables ask; none by default.

    Raises TelemetryError before installing anything when a variable is wrong.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Telemetry()
    spans, readers = span_exporters(env), metric_exporters(env)
    if not spans and not readers:
        return Telemetry()
    resource = Resource.create({"service.name": _service_name(env)})
    telemetry = Telemetry()
    if spans:
        tracer_provider = TracerProvider(resource=resource)
        for exporter in spans:
            tracer_provider.add_span_processor(span_processor(exporter, env))
        trace.set_tracer_provider(tracer_provider)
        telemetry.tracer_provider = tracer_provider
    if readers:
        meter_provider = MeterProvider(
            resource=resource,
            metric_readers=[PeriodicExportingMetricReader(e) for e in readers])
        metrics.set_meter_provider(meter_provider)
        telemetry.meter_provider = meter_provider
    return telemetry
