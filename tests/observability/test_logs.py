"""JSON log lines: fields, object, run and trace ids, and no credentials."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from kcost.observability import logs


def _line(record: logging.LogRecord) -> dict[str, str]:
    return dict(json.loads(logs.JsonFormatter().format(record)))


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("kcost.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_names_the_object_and_the_run() -> None:
    with logs.about(kind="Analysis", name="nightly", run_id="20260101-000000-abcd"):
        line = _line(_record("run %s started", "r1"))
    assert line["message"] == "run r1 started"
    assert (line["level"], line["logger"]) == ("warning", "kcost.test")
    assert (line["kind"], line["name"], line["run_id"]) == ("Analysis", "nightly", "20260101-000000-abcd")
    assert line["timestamp"].endswith("+00:00")
    assert "kind" not in _line(_record("outside")), "the object is named only inside the block"


def test_kopf_object_loggers_name_their_object() -> None:
    ref = {"apiVersion": "v1", "kind": "OptimizationRecommendation", "namespace": "shop", "name": "web"}
    line = _line(_record("handled", k8s_ref=ref))
    assert (line["kind"], line["namespace"], line["name"]) == ("OptimizationRecommendation", "shop", "web")


def test_a_line_carries_the_current_trace_and_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        line = _line(_record("inside"))
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET with Authorization: Bearer eyJhbGciOi.abc-123", "eyJhbGciOi.abc-123"),
        ("basic auth: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("connecting to postgresql+asyncpg://kcost:hunter2@db:5432/kcost", "hunter2"),
        ("settings {'api_key': 'AIzaSyA-1234'}", "AIzaSyA-1234"),
        ("password=s3cr3t and more", "s3cr3t"),
    ],
)
def test_credentials_never_reach_a_line(text: str, secret: str) -> None:
    line = _line(_record(text))
    assert secret not in json.dumps(line)
    assert logs.MASK in line["message"]


def test_routine_lines_drop_only_those_lines_at_info() -> None:
    quiet = logs.RoutineLines(["Handler '_recommendation_event' succeeded."])

    def kept(level: int, message: str) -> bool:
        return quiet.filter(logging.LogRecord("kopf.objects", level, __file__, 1, message, (), None))

    assert not kept(logging.INFO, "Handler '_recommendation_event' succeeded.")
    assert kept(logging.INFO, "Handler 'reconcile-analyses' succeeded."), "another handler's success stays"
    assert kept(logging.WARNING, "Handler '_recommendation_event' succeeded."), "only INFO is routine"
    assert kept(logging.INFO, "Handler '_recommendation_event' succeeded. And more."), "the whole line must match"
