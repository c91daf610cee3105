"""kcost bench quality's class report: the classes of the series, held-out accuracy, class-aware vs fixed."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.analyzers.rightsizing import classes, quality
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy
from kcost.analyzers.rightsizing.traces import TraceSeries
from kcost.cli import bench_classes
from kcost.devcluster.scenario import labelled
from kcost.devcluster.scenario.model import UsagePattern


def _trace(pattern: UsagePattern, seed: int) -> TraceSeries:
    one = labelled.generate(pattern, seed, step_s=300, days=5)
    return TraceSeries(
        vm=f"{pattern}-{seed}",
        ts_s=one.ts_s,
        cpu_cores=one.cpu_cores,
        cpu_provisioned_cores=np.full(one.ts_s.size, one.cpu_request_cores),
        memory_bytes=one.memory_bytes,
        memory_provisioned_bytes=np.full(one.ts_s.size, float(one.memory_bytes.max()) * 2),
    )


def test_the_report_counts_classes_and_compares_class_aware_with_fixed_settings() -> None:
    patterns = (UsagePattern.STEADY, UsagePattern.DIURNAL, UsagePattern.MEMORY_LEAK)
    series = {one.vm: one for one in (_trace(pattern, 31_000 + i) for i, pattern in enumerate(patterns))}
    strategies = {
        bench_classes.FIXED: AdaptiveStrategy(AdaptiveSettings()),
        bench_classes.CLASS_AWARE: classes.ClassAwareStrategy(AdaptiveSettings()),
    }
    scores = quality.evaluate(series, strategies, train_days=3, eval_days=1)
    figures = bench_classes.report(series, scores, train_days=3, held_out_per_pattern=1)

    assert figures["distribution"] == {"diurnal": 1, "leaking": 1, "steady": 1}
    held_out = figures["held_out_generator"]
    assert held_out["series"] == len(UsagePattern)
    assert held_out["accuracy"] == pytest.approx(1.0)
    gain = figures["class_aware_vs_fixed"]
    assert set(gain) == {
        "cost_usd",
        "cpu_shortfall_pct",
        "mem_pressure_pct",
        "oom_count",
        "share_over_10pct_cpu_shortfall",
    }
    fixed_cost = scores.scores[bench_classes.FIXED].to_json()["cost_usd"]
    assert gain["cost_usd"]["fixed"] == fixed_cost
    assert gain["cost_usd"]["better"] == (gain["cost_usd"]["class_aware"] < fixed_cost)
    assert figures["default"] == "fixed"
