"""The fast read path against the baseline one on the smoke scenario's real Prometheus history.

The fast path reads one raw series per container and combines them in the analyzer; the
baseline path aggregates in PromQL (``sum by``/``max by``). Both must hand the strategies the
same samples, so that the recommendations are the same.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pytest

from e2e.conftest import Prometheus
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.analyzers.metrics.workloads import QueryPlan, Workload, usage_by_namespace
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy
from kcost.analyzers.rightsizing.analyzer import history_of
from kcost.analyzers.rightsizing.recommendation import Recommendation
from kcost.devcluster.scenario.model import Scenario

Usage = dict[tuple[str, str, str], tuple[Any, Recommendation, int]]


async def _read(url: str, smoke: Scenario, end_s: int, resolution_min: int, *, baseline: bool) -> Usage:
    end = datetime.datetime.fromtimestamp(end_s, datetime.UTC)
    plan = QueryPlan.for_window(
        end - datetime.timedelta(days=3), end, datetime.timedelta(minutes=resolution_min), aggregate_in_promql=baseline
    )
    workloads = [Workload(w.kind, w.namespace, w.name, w.replicas) for w in smoke.workloads]
    client = PrometheusClient(url, compressed_answers=baseline)
    strategy = AdaptiveStrategy(AdaptiveSettings())
    usage: Usage = {}
    async for batch in usage_by_namespace(client, workloads, plan, traffic=False):
        for workload in batch:
            for name, series in workload.containers.items():
                history = history_of(workload, name)
                usage[(workload.namespace, workload.name, name)] = (
                    series.arrays(),
                    strategy.recommend(history),
                    len(workload.pods_seen),
                )
    return usage


# 5 minutes, the default: a step as long as the rate window, so the fast path reads the CPU counter's last
# sample in each step and differences it. 10 minutes: the same over windows longer than Prometheus's
# 5-minute lookback, the step of a 14-day window at the default resolution. 1 minute: a step (129 s for
# 3 days) that does not divide the rate window, so it asks PromQL.
@pytest.mark.parametrize("resolution_min", [5, 10, 1])
async def test_fast_and_baseline_read_paths_give_the_same_samples_and_recommendations(
    prometheus: Prometheus, smoke: Scenario, smoke_end_s: int, resolution_min: int
) -> None:
    fast = await _read(prometheus.url, smoke, smoke_end_s, resolution_min, baseline=False)
    baseline = await _read(prometheus.url, smoke, smoke_end_s, resolution_min, baseline=True)
    assert fast.keys() == baseline.keys()
    assert len(fast) >= len(smoke.workloads) - 1, "every workload with history has its containers"
    assert any(pods > 1 for _, _, pods in fast.values()), "some workload pools several pods"
    for key, (arrays, recommendation, pods) in fast.items():
        base_arrays, base_recommendation, base_pods = baseline[key]
        assert pods == base_pods, key
        for part, base_part in zip(arrays, base_arrays, strict=True):
            np.testing.assert_array_equal(part, base_part, err_msg=str(key))
        assert recommendation == base_recommendation, key
