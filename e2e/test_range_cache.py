"""The range cache against the smoke scenario's real Prometheus history.

A run over a window that moved on since the last one reads only the new steps (and a short
margin) from Prometheus, and hands the analyzer the very bits a full read would.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e.conftest import Prometheus
from kcost.analyzers.metrics import range_cache
from kcost.analyzers.metrics.prometheus import PrometheusClient, RangeSeries
from kcost.analyzers.metrics.range_cache import RangeCache
from kcost.analyzers.metrics.workloads import QueryPlan, Workload, usage_by_namespace
from kcost.devcluster.scenario.model import Scenario

Usage = dict[tuple[str, str, str], tuple[Any, ...]]
MOVED_S = 6 * 3600


class RecordingClient(PrometheusClient):
    """A real client that notes the range of every range query it sends."""

    ranges: list[tuple[float, float]]

    async def query_range(self, promql: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        self.ranges.append((start_s, end_s))
        return await super().query_range(promql, start_s, end_s, step_s)


def _client(url: str) -> RecordingClient:
    client = RecordingClient(url)
    client.ranges = []
    return client


def _plan(end_s: int, resolution_min: int) -> QueryPlan:
    end = datetime.datetime.fromtimestamp(end_s, datetime.UTC)
    return QueryPlan.for_window(end - datetime.timedelta(days=3), end, datetime.timedelta(minutes=resolution_min))


async def _read(client: PrometheusClient, smoke: Scenario, plan: QueryPlan, cache: RangeCache | None) -> Usage:
    workloads = [Workload(w.kind, w.namespace, w.name, w.replicas) for w in smoke.workloads]
    usage: Usage = {}
    async for batch in usage_by_namespace(client, workloads, plan, traffic=False, cache=cache):
        for workload in batch:
            for name, series in workload.containers.items():
                usage[(workload.namespace, workload.name, name)] = (
                    *series.arrays(),
                    sorted(workload.pods_seen),
                    sorted(workload.nodes_seen),
                )
    return usage


# 5 minutes: the raw CPU counter on the grid, differenced by the analyzer. 1 minute: a 129 s step, PromQL rates.
@pytest.mark.parametrize("resolution_min", [5, 1])
async def test_an_incremental_read_gives_the_full_reads_bits_from_a_short_range(
    prometheus: Prometheus, smoke: Scenario, smoke_end_s: int, resolution_min: int, tmp_path: Path
) -> None:
    cache = RangeCache(tmp_path / "ranges")
    earlier, later = _plan(smoke_end_s - MOVED_S, resolution_min), _plan(smoke_end_s, resolution_min)
    await _read(_client(prometheus.url), smoke, earlier, cache)
    assert cache.full_reads > 0
    assert cache.incremental_reads == 0

    incremental_client, full_client = _client(prometheus.url), _client(prometheus.url)
    incremental = await _read(incremental_client, smoke, later, cache)
    full = await _read(full_client, smoke, later, None)

    assert cache.incremental_reads == cache.full_reads, "every query of the second run was incremental"
    assert cache.disagreements == 0
    assert incremental.keys() == full.keys()
    assert len(full) >= len(smoke.workloads) - 1, "every workload with history has its containers"
    for key, parts in full.items():
        for mine, theirs in zip(incremental[key][:3], parts[:3], strict=True):
            assert mine.dtype == theirs.dtype == np.float64
            assert mine.tobytes() == theirs.tobytes(), key
        assert incremental[key][3:] == parts[3:], key

    assert incremental_client.requests_by_endpoint == full_client.requests_by_endpoint, "as many requests"
    margin_s = range_cache.margin_steps(later.step_s) * later.step_s
    longest_s = max(end - start for start, end in incremental_client.ranges)
    assert longest_s <= MOVED_S + margin_s + later.step_s, "only the steps since the last read, and the margin"
    assert min(end - start for start, end in full_client.ranges) >= later.end_s - later.start_s
