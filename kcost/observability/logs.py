"""Log lines: human text on a terminal, JSON lines with ``KCOST_LOG_FORMAT=json`` (the chart's default).

A JSON line carries the timestamp, level, logger and message, the Kubernetes object it
is about (kopf's per-object loggers say so; ``about`` says so elsewhere), the analysis
run id, and the current trace and span ids. Credentials never reach a line: header
values, URL passwords and ``key=value`` secrets are masked before anything is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import trace

MASK = "***"
_SECRETS = [
    # Authorization: Bearer abc / Basic abc
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    # scheme://user:password@host
    (re.compile(r"(://[^/\s:@]+):[^@\s/]+@"), r"\1:" + MASK + "@"),
    # password=…, token: …, api_key=…, secret=…
    (
        re.compile(
            r"(?i)\b((?:password|passwd|token|api[_-]?key|secret|credentials?)['\"]?\s*[=:]\s*['\"]?)[^\s'\",}]+"
        ),
        r"\1" + MASK,
    ),
]
_about: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("kcost_log_about", default={})  # noqa: B039 - never mutated


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def about(**fields: str | None) -> Iterator[None]:
    """Every line logged inside the block names these (``kind``, ``namespace``, ``name``, ``run_id``)."""
    token = _about.set({**_about.get(), **{key: value for key, value in fields.items() if value}})
    try:
        yield
    finally:
        _about.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module's docstring for the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        line.update(_object_of(record))
        line.update(_about.get())
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = f"{context.trace_id:032x}"
            line["span_id"] = f"{context.span_id:016x}"
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class RedactingFormatter(logging.Formatter):
    """The human format, masked the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _object_of(record: logging.LogRecord) -> dict[str, str]:
    # Kopf's per-object loggers attach the object as ``k8s_ref``.
    ref = getattr(record, "k8s_ref", None)
    if not isinstance(ref, dict):
        return {}
    fields = {"kind": ref.get("kind"), "namespace": ref.get("namespace"), "name": ref.get("name")}
    return {key: str(value) for key, value in fields.items() if value}


class RoutineLines(logging.Filter):
    """Drops INFO lines whose text is exactly one of ``lines``: routine successes that would flood the log.

    Kopf logs "Handler 'x' succeeded." after every call of every handler; a handler that runs
    on each watch event wrote a line per recommendation and per Deployment event (160,000
    lines, 13 MB, over five bench runs at 10,000 workloads). Failures are other lines, and stay.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        super().__init__()
        self.lines = frozenset(lines)

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg in self.lines)


def configure(log_format: str, *, verbose: bool = False) -> None:
    """Send every log line to stderr in ``log_format`` (``json`` or ``text``)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
