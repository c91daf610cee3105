"""The ``kcost_*`` instruments and the ``/metrics`` endpoint every kcost process serves.

Counters and histograms are updated where things happen (one line at the call site);
gauges that describe the cluster (savings, phases, costs) are computed at scrape time
from the watch caches in ``kcost.observability.caches``, never by listing objects.

A process without an HTTP server of its own starts one with ``serve(port)``; one that
has an aiohttp application mounts the same handler with ``mount(app)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ANALYSIS_DURATION = Histogram(
    "kcost_analysis_duration_seconds",
    "Seconds one analyzer took for one analysis run, from claim to its status written.",
    ["analyzer"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
ANALYSIS_RUNS = Counter(
    "kcost_analysis_runs", "Analysis runs finished, by result (succeeded, failed), seen by the operator.", ["result"]
)
PROMETHEUS_QUERIES = Counter(
    "kcost_prometheus_queries", "HTTP requests sent to a profile's Prometheus, by API endpoint.", ["endpoint"]
)
ROLLOUTS = Counter(
    "kcost_rollouts", "Rollouts of recommendations that ended, by result (applied, rolled-back, failed).", ["result"]
)


def mount(app: web.Application, path: str = "/metrics") -> None:
    """Serve the process's metrics on ``path`` of an existing aiohttp application."""
    app.router.add_get(path, _metrics)


async def _metrics(_: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@contextlib.asynccontextmanager
async def serve(port: int | None, host: str = "0.0.0.0") -> AsyncIterator[int | None]:  # noqa: S104 - scraped from outside the Pod
    """Serve ``/metrics`` on ``host:port`` while the block runs; yields the port (None: metrics off)."""
    if not port:
        yield None
        return
    app = web.Application()
    mount(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield port
    finally:
        await runner.cleanup()


def add_collector(collector: Collector) -> None:
    """Make ``collector``'s metrics part of ``/metrics``."""
    REGISTRY.register(collector)


def remove_collector(collector: Collector) -> None:
    """Take ``collector`` out again (a process that stops a part of itself, as tests do)."""
    REGISTRY.unregister(collector)


class HistoryWriterCollector(Collector):
    """``kcost_history_writes_total{result}`` and the queue depth of one buffered history writer."""

    def __init__(self, writer: Callable[[], tuple[int, int, int, int]]) -> None:
        # (written, retried, dropped, pending) read at scrape time: the writer keeps the counts.
        self._read = writer

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        written, retried, dropped, pending = self._read()
        writes = CounterMetricFamily(
            "kcost_history_writes",
            "Rows the history writer handled, by result: written, retried (attempts), dropped (never written).",
            labels=["result"],
        )
        for result, rows in (("written", written), ("retried", retried), ("dropped", dropped)):
            writes.add_metric([result], rows)
        yield writes
        yield GaugeMetricFamily(
            "kcost_history_queue_rows", "Rows queued for the history store, not yet written.", pending
        )
