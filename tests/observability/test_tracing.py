"""Spans: the traced decorator, and a run's root span whose ids every process can derive."""

from __future__ import annotations

import datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kcost.observability import tracing


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=tracing._ids)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    return exporter


async def test_a_run_is_one_tree_across_processes(spans: InMemorySpanExporter) -> None:
    @tracing.traced("load namespace", **{"k8s.namespace.name": "namespace"})
    async def load(namespace: str, limit: int = 3) -> str:
        return namespace * limit

    trace_id = tracing.new_trace_id()
    # An analyzer process: its spans hang under the run's root, known only by the trace id.
    with tracing.in_run(trace_id), tracing.span("analyzer rightsizing"):
        assert await load("shop", limit=1) == "shop"
    # The operator, when the run ends: the root itself.
    started = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    tracing.emit_run_span(trace_id, "analysis run", started, started + datetime.timedelta(seconds=30))

    by_name = {span.name: span for span in spans.get_finished_spans()}
    assert set(by_name) == {"load namespace", "analyzer rightsizing", "analysis run"}
    root, analyzer, load_span = by_name["analysis run"], by_name["analyzer rightsizing"], by_name["load namespace"]
    assert {f"{s.context.trace_id:032x}" for s in by_name.values()} == {trace_id}
    assert root.parent is None
    assert analyzer.parent is not None
    assert analyzer.parent.span_id == root.context.span_id
    assert load_span.parent is not None
    assert load_span.parent.span_id == analyzer.context.span_id
    assert load_span.attributes == {"k8s.namespace.name": "shop"}
    assert root.end_time is not None
    assert root.start_time is not None
    assert (root.end_time - root.start_time) / 1e9 == 30
    # The next span is an ordinary one again.
    with tracing.span("later") as later:
        assert later.get_span_context().trace_id != int(trace_id, 16)


def test_tracing_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.setup("kcost-test") is False
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
