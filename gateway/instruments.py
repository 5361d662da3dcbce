"""The gateway's spans and metrics, through the OpenTelemetry API only.

Without an SDK (``gateway run`` sets one up from the OTEL_* variables, see
:mod:`gateway.telemetry`) every call here is a no-op that costs next to
nothing. One span per pipeline stage, named ``wissel.<stage>``: intake (the
whole submission, with route, encode, validate and persist inside it), send,
status, decode and deliver.

Metric attributes have bounded values only: stage, kind, format key,
channel, agency OIN, outcome, direction, state. Message ids go on spans,
never on metrics; document numbers and payloads go on neither.

A message carries its trace across the outbox hand-off: intake writes the
W3C ``traceparent`` of its span into the ``intake`` event, and the send span,
in another task, process or gateway instance, links to it (likewise decode
and deliver, through the ``decoded`` event).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_api
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import __version__
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.store import Store

log = logging.getLogger(__name__)

SCOPE = "wissel.gateway"
TRACEPARENT = "traceparent"

tracer = trace.get_tracer(SCOPE, __version__)
meter = metrics.get_meter(SCOPE, __version__)

# Seconds: the SDK's default buckets (0, 5, 10, 25, ... 10000) are made for milliseconds
# and would put every stage (milliseconds to a few seconds) into the first one.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 120.0)
stage_duration = meter.create_histogram(
    "wissel.stage.duration", unit="s",
    description="Time spent in one pipeline stage, by stage, kind, format, channel and outcome",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
attempts = meter.create_counter(
    "wissel.attempts", unit="{attempt}",
    description="Send attempts (outbound) and ERP delivery attempts (inbound), by outcome")

_counts_lock = threading.Lock()
_counts: dict[tuple[str, str], int] = {}


def set_message_counts(counts: Mapping[str, Mapping[str, int]]) -> None:
    """Remember the store's ``{direction: {state: n}}`` for the ``wissel.messages`` gauge.

    A state that empties is reported as 0 rather than dropped, so a chart
    goes down to zero instead of stopping at its last value.
    """
    with _counts_lock:
        for key in _counts:
            _counts[key] = 0
        for direction, states in counts.items():
            for state, number in states.items():
                _counts[(direction, state)] = number


def _observe_counts(_options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    with _counts_lock:
        snapshot = dict(_counts)
    return [metrics.Observation(n, {"direction": d, "state": s})
            for (d, s), n in sorted(snapshot.items())]


COUNTING_SHARE = 0.01
"""At most this share of the time goes to counting messages for ``wissel.messages``."""


async def observe_store(store: Store, interval: float = 15.0,
                        share: float = COUNTING_SHARE) -> None:
    """Refresh the counts behind ``wissel.messages`` every ``interval`` s; run as a task.

    The gauge's callback runs in the metric reader's thread and cannot query
    the store itself, so it reports the last counts taken here. Counting
    reads every message (some 50 ms for 100,000 on SQLite) and sent messages
    only pile up, so a count that takes long is taken less often: the wait
    after it is at least its own time over ``share``, and counting never
    takes more than that share of the database however large the store grows.
    Without a meter provider nobody reads the gauge, so nothing is counted; asked
    again every round, as a provider may be installed later.
    """
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        if _metering():
            try:
                set_message_counts(await store.count_by_state())
            except GatewayError as exc:
                log.warning("cannot count messages for the metrics: %s", exc)
        await asyncio.sleep(max(interval, (loop.time() - started) / share))


messages = meter.create_observable_gauge(
    "wissel.messages", callbacks=[_observe_counts], unit="{message}",
    description="Messages in the store by direction and transport state")


def _bounded(attributes: Mapping[str, Any]) -> dict[str, str]:
    return {f"wissel.{k}": str(v) for k, v in attributes.items() if v is not None}


# Whether an SDK is installed is asked on every stage, as one may be installed later.
# The API's getters would answer too, but they look up an environment variable on
# every call, which cost more than all the rest of a stage without an SDK; the
# globals read here are what the API's proxy tracer and meter themselves consult.


# Should a release rename those globals, every stage takes the full path: slower,
# never wrong.
_RENAMED = object()


def _tracing() -> bool:
    """Whether an SDK tracer provider is installed (so the proxy tracer records)."""
    provider = getattr(trace, "_TRACER_PROVIDER", _RENAMED)
    return provider is not None and not isinstance(provider, trace.NoOpTracerProvider)


def _metering() -> bool:
    """Whether an SDK meter provider is installed (so the proxy meter records)."""
    provider = getattr(metrics_api, "_METER_PROVIDER", _RENAMED)
    return provider is not None and not isinstance(provider, metrics.NoOpMeterProvider)


class Stage:
    """One running stage: set ``outcome`` and add attributes as they become known.

    A context manager written out by hand rather than with ``@contextmanager``:
    every submission runs five of them, and without an SDK installed a stage
    must cost next to nothing, so it then opens no span and builds no
    attributes at all.
    """

    def __init__(self, name: str, attributes: dict[str, Any],
                 links: Iterable[Link] = ()) -> None:
        self.name = name
        self.attributes = attributes
        self.outcome = "ok"
        self.span: Span = INVALID_SPAN
        self._links = links
        self._span_scope: AbstractContextManager[Span] | None = None
        self._recording = False
        self._started = 0.0

    def __enter__(self) -> Stage:
        self._started = time.perf_counter()
        if _tracing():
            self._span_scope = tracer.start_as_current_span(
                f"wissel.{self.name}", links=list(self._links),
                attributes=_bounded(self.attributes))
            self.span = self._span_scope.__enter__()
            self._recording = self.span.is_recording()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        if exc_type is not None and self.outcome == "ok":
            self.outcome = "error"
        if self._recording:
            self.span.set_attribute("wissel.outcome", self.outcome)
        if _metering():
            stage_duration.record(time.perf_counter() - self._started, {
                "stage": self.name, "outcome": self.outcome,
                **{k: str(v) for k, v in self.attributes.items()},
            })
        if self._span_scope is None:
            return None
        # The span records the exception and its status, as the API's own scope does.
        return self._span_scope.__exit__(exc_type, exc, traceback)

    def set(self, **attributes: Any) -> None:
        """Bounded attributes, for the span and the stage's metrics."""
        self.attributes.update(attributes)
        if self._recording:
            self.span.set_attributes(_bounded(attributes))

    def note(self, **attributes: Any) -> None:
        """Attributes for the span only (message id, attempt number)."""
        if self._recording:
            self.span.set_attributes(_bounded(attributes))


def stage(name: str, *, links: Iterable[Link] = (), **attributes: Any) -> Stage:
    """A span named ``wissel.<name>`` and a duration sample for the stage's histogram.

    Use it in a ``with`` statement. An exception ends the stage with outcome
    ``error`` unless the body set another outcome first (``rejected`` for a
    document our checks refused).
    """
    return Stage(name, {k: v for k, v in attributes.items() if v is not None}, links)


def count_attempt(direction: str, outcome: str, **attributes: Any) -> None:
    attempts.add(1, {"direction": direction, "outcome": outcome,
                     **{k: str(v) for k, v in attributes.items() if v is not None}})


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None when nothing is recorded."""
    if not trace.get_current_span().is_recording():
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)


def link_to(traceparent: object) -> Link | None:
    """A link to the span a stored ``traceparent`` names; None if it is absent or malformed."""
    if not isinstance(traceparent, str):
        return None
    context = TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})
    span_context: SpanContext = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    return Link(SpanContext(span_context.trace_id, span_context.span_id, is_remote=True,
                            trace_flags=TraceFlags(span_context.trace_flags)))
