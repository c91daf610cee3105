"""A rightsizing run's context without a cluster, for the benchmarks that time the analyzer's own work."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class OfflineRun:
    """The analyzer, its strategy and settings, a run's context and a scope that reads nothing."""

    analyzer: Any
    strategy: Any
    settings: Any
    context: Any
    scope: Any


def offline_run(
    settings: dict[str, Any],
    end: datetime.datetime,
    window: datetime.timedelta,
    resolution: datetime.timedelta,
    workloads: list[Any] | None = None,
) -> OfflineRun:
    """A run of the rightsizing analyzer with ``settings`` over ``window`` before ``end``.

    Nothing it holds reads Prometheus or calls the API server: the benchmarks time the sizing alone.
    """
    # Imported here: the bench CLI starts without the analyzers' dependencies.
    from kcost.analyzers import scope
    from kcost.analyzers.contract import RunContext
    from kcost.analyzers.cost.unit_rates import ClusterRates
    from kcost.analyzers.metrics.prometheus import PrometheusClient
    from kcost.analyzers.metrics.workloads import QueryPlan
    from kcost.analyzers.rightsizing.analyzer import RightsizingAnalyzer
    from kcost.analyzers.rightsizing.analyzer import _strategy as strategy_of
    from kcost.analyzers.rightsizing.settings import RightsizingSettings
    from kcost.api.v1alpha1.analysis import Analysis
    from kcost.kube.client import KubeClient

    plan = QueryPlan.for_window(end - window, end, resolution)
    analysis = Analysis.model_validate(
        {"metadata": {"name": "bench"}, "spec": {"profileRef": {"name": "bench"}, "window": "14d"}}
    )
    parsed = RightsizingSettings.model_validate(settings)
    context = RunContext(
        analysis,
        "bench",
        end - window,
        end,
        datetime.timedelta(seconds=plan.step_s),
        parsed,
        [],
        cast(KubeClient, None),
    )
    in_scope = scope.Scope(workloads or [], cast(PrometheusClient, None), plan, ClusterRates.defaults("bench"))
    return OfflineRun(RightsizingAnalyzer(), strategy_of(parsed.root), parsed.root, context, in_scope)
