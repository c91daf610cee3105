"""How fast the operator's ``/metrics`` answers with 10,000 recommendations in its watch caches.

The caches are filled as the operator's watch handlers fill them (every object parsed
once, on its event); each scrape then computes the gauges from memory and serves them
over HTTP, as a Prometheus scrape does. Prints p50 and p99 of many scrapes, the body
size. Between analyses nothing changes and the gauges are served as computed; while an
analysis writes, each scrape finds something changed and computes them anew: both are
measured.

Usage: python bench/metrics.py [--recommendations 10000] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from kcost.devcluster import processes
from kcost.observability import caches, metrics

PHASES = ["Proposed", "Proposed", "Proposed", "Approved", "Applied", "Rejected", "Superseded", "RolledBack"]
TYPES = ["right-sizing", "idle-workload", "replicas"]


def _recommendation(index: int) -> dict[str, Any]:
    kind = TYPES[index % len(TYPES)]
    phase = PHASES[index % len(PHASES)]
    status: dict[str, Any] = {"phase": phase}
    if phase == "Applied":
        status["realized"] = {"window": "7d", "measuredAt": "2026-11-01T00:00:00Z", "monthlySavingsUsd": 3.5}
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        # Two types per workload on average: alternatives the savings rule counts once.
        "metadata": {"name": f"deployment-app-{index // 2:05d}-{kind}", "namespace": f"team-{index % 40:02d}"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"app-{index // 2:05d}"},
            "type": kind,
            "current": {"containers": [{"name": "app", "requests": {"cpu": "1", "memory": "1Gi"}}]},
            "changes": {"containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "512Mi"}}]},
            "estimatedMonthlySavings": round(1 + (index % 97) * 0.37, 2),
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {"method": "bench", "window": "14d", "sampleCount": 20160},
        },
        "status": status,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _bench(recommendations: int, scrapes: int) -> Table:
    cache = caches.Caches(leading=True)
    started = time.perf_counter()
    for index in range(recommendations):
        cache.recommendations.observe(None, _recommendation(index))
    fill_s = time.perf_counter() - started
    collector = caches.ClusterCollector(cache)
    metrics.add_collector(collector)
    port = processes.free_port()
    steady_ms, changing_ms, size = [], [], 0
    async with metrics.serve(port, host="127.0.0.1"), aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/metrics"

        async def scrape() -> float:
            nonlocal size
            started = time.perf_counter()
            async with session.get(url) as response:
                size = len(await response.read())
            return (time.perf_counter() - started) * 1000

        for _ in range(5):  # warm-up
            await scrape()
        for _ in range(scrapes):
            steady_ms.append(await scrape())
        changed = _recommendation(0)
        for index in range(scrapes):
            # As while an analysis writes: a recommendation changed since the last scrape.
            changed["spec"]["estimatedMonthlySavings"] = 1 + index % 50
            cache.recommendations.observe("MODIFIED", changed)
            changing_ms.append(await scrape())
    metrics.remove_collector(collector)

    table = Table(title=f"operator /metrics with {recommendations:,} recommendations ({scrapes} scrapes)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, latencies_ms in (("nothing changed", steady_ms), ("a recommendation changed", changing_ms)):
        table.add_row(f"/metrics p50, {label} since the last scrape", f"{statistics.median(latencies_ms):.1f} ms")
        table.add_row(f"/metrics p99, {label} since the last scrape", f"{_percentile(latencies_ms, 0.99):.1f} ms")
    table.add_row("body", f"{size / 1024:.1f} KiB")
    table.add_row("caches filled (every object parsed once)", f"{fill_s:.2f} s")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recommendations", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    Console().print(asyncio.run(_bench(args.recommendations, args.scrapes)))


if __name__ == "__main__":
    main()
