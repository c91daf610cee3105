"""OpenTelemetry traces: one trace per analysis run, one per rollout step; OTLP/HTTP when configured.

Tracing is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the SDK reads the usual
``OTEL_*`` variables); then spans go to ``<endpoint>/v1/traces`` as protobuf.

An analysis run crosses processes: the operator picks the run's trace id when it starts
the run and writes it to ``status.traceId``; each analyzer process parents its spans on
the run's root span, whose id follows from the trace id; the operator emits that root
span when the run ends, with the run's real start and end.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import inspect
import os
import secrets
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.util.types import AttributeValue

TRACER_NAME = "kcost"
_provider: TracerProvider | None = None


class _RunRootIds(IdGenerator):
    """Random ids, except for a run's root span, whose ids are fixed by its trace id."""

    def __init__(self) -> None:
        self.random = RandomIdGenerator()
        self.preset: tuple[int, int] | None = None

    def generate_span_id(self) -> int:
        return self.preset[1] if self.preset else self.random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self.preset[0] if self.preset else self.random.generate_trace_id()


_ids = _RunRootIds()


def setup(service_name: str) -> bool:
    """Export spans by OTLP/HTTP if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; returns whether tracing is on."""
    global _provider  # noqa: PLW0603 - one tracer provider per process, as OpenTelemetry has it
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _provider is not None:
        return _provider is not None
    _provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}), id_generator=_ids
    )
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=1000))
    trace.set_tracer_provider(_provider)
    return True


def shutdown() -> None:
    """Send what is buffered (at a process's end)."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextlib.contextmanager
def span(name: str, **attributes: AttributeValue | None) -> Iterator[trace.Span]:
    """A child of the current span (a no-op when tracing is off)."""
    given = {key: value for key, value in attributes.items() if value is not None}
    with tracer().start_as_current_span(name, attributes=given) as current:
        yield current


P = ParamSpec("P")
R = TypeVar("R")


def traced(
    name: str, **attributes: str
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Run each call of an async function in a span ``name``.

    ``attributes`` maps span attribute names to the function's parameters whose values
    they take: ``@traced("load namespace", **{"k8s.namespace.name": "namespace"})``.
    """

    def decorate(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind_partial(*args, **kwargs).arguments
            values = {key: _attribute(bound.get(parameter)) for key, parameter in attributes.items()}
            with span(name, **values):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate


def _attribute(value: object) -> AttributeValue | None:
    return value if value is None or isinstance(value, str | bool | int | float) else str(value)


def new_trace_id() -> str:
    """A fresh trace id (32 hex digits) for an analysis run."""
    return secrets.token_hex(16)


def root_span_id(trace_id: str) -> int:
    """The span id of a run's root span: derived from its trace id, so every process knows it."""
    return int.from_bytes(hashlib.sha256(bytes.fromhex(trace_id)).digest()[:8], "big") or 1


@contextlib.contextmanager
def in_run(trace_id: str | None) -> Iterator[None]:
    """Spans started inside the block are children of the run's root span (if the run has a trace id)."""
    if not trace_id:
        yield
        return
    parent = trace.SpanContext(
        int(trace_id, 16),
        root_span_id(trace_id),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    token = otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
    try:
        yield
    finally:
        otel_context.detach(token)


def emit_run_span(
    trace_id: str, name: str, started: datetime.datetime, finished: datetime.datetime, **attributes: AttributeValue
) -> None:
    """The root span of a finished run, with its real start and end and the ids its children already use."""
    _ids.preset = (int(trace_id, 16), root_span_id(trace_id))
    try:
        root = tracer().start_span(name, context=otel_context.Context(), attributes=attributes, start_time=_ns(started))
    finally:
        _ids.preset = None
    root.end(end_time=_ns(finished))


def _ns(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1e9)
