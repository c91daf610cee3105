"""Sizing a batch of containers together gives each the answer it gets alone, the models' to the bit."""

from __future__ import annotations

import datetime
import json
from typing import Any, cast

import numpy as np
import pytest

from kcost.analyzers import scope
from kcost.analyzers.contract import AnalyzerResult, RunContext
from kcost.analyzers.cost.unit_rates import ClusterRates
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.analyzers.metrics.workloads import QueryPlan
from kcost.analyzers.rightsizing import classes
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy, confidence_features_of
from kcost.analyzers.rightsizing.analyzer import RightsizingAnalyzer
from kcost.analyzers.rightsizing.analyzer import _strategy as strategy_of
from kcost.analyzers.rightsizing.history import CurrentResources, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation
from kcost.analyzers.rightsizing.settings import RightsizingSettings
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.policy import Hysteresis
from kcost.cli.bench_ml_overhead import RESOLUTION_S, demo_workloads
from kcost.devcluster.scenario import labelled
from kcost.devcluster.scenario.model import UsagePattern
from kcost.kube.client import KubeClient
from kcost.ml import confidence

# Midnight plus a few steps: a fixed window, so a failure can be replayed.
END_S = 1_764_547_200 + 37 * RESOLUTION_S


def _histories() -> list[UsageHistory]:
    """Every pattern at several lengths (some under the day the class model needs, some too short to size)."""
    found = []
    for seed, days in enumerate((0.4, 0.8, 3.0, 9.0)):
        for pattern in UsagePattern:
            series = labelled.generate(pattern, 7_000 + seed, days=days)
            found.append(
                UsageHistory(
                    ts_s=series.ts_s,
                    cpu_cores=series.cpu_cores,
                    memory_bytes=series.memory_bytes,
                    current=CurrentResources(cpu_request_cores=series.cpu_request_cores),
                )
            )
    return found


@pytest.mark.parametrize("strategy_type", [AdaptiveStrategy, classes.ClassAwareStrategy])
def test_a_batch_is_sized_as_each_history_alone(strategy_type: type[AdaptiveStrategy]) -> None:
    strategy = strategy_type(AdaptiveSettings())
    histories = _histories()
    together = strategy.recommend_many(histories)
    assert together == [strategy.recommend(history) for history in histories]
    sized = [answer for answer in together if isinstance(answer, ContainerRecommendation)]
    assert len(together) > len(sized) > len(UsagePattern)  # both kinds of answer are in the batch
    if strategy_type is classes.ClassAwareStrategy:
        assert len({answer.evidence.workload_class for answer in sized}) > 3


def test_a_batch_s_confidences_are_the_booster_s_for_each_row_alone() -> None:
    strategy = AdaptiveStrategy(AdaptiveSettings())
    histories = _histories()
    model = confidence.shipped()
    for history, answer in zip(histories, strategy.recommend_many(histories), strict=True):
        if not isinstance(answer, ContainerRecommendation):
            continue
        proposed = strategy.propose(history)
        assert isinstance(proposed, ContainerRecommendation)
        row = confidence_features_of(history.last(strategy.settings.history_days * 86400), proposed)
        decision = model.booster.decision_function(row.reshape(1, -1))
        expected = np.interp(decision, model.decision_thresholds, model.probability_thresholds)[0]
        assert answer.confidence == expected


def _proposals(settings_given: dict[str, Any], chunk: int) -> list[str]:
    """The demo's proposals (as the write sends them) from the analyzer's work, ``chunk`` workloads at a time."""
    workloads = demo_workloads(END_S)
    end = datetime.datetime.fromtimestamp(END_S, datetime.UTC)
    window = datetime.timedelta(days=14)
    step = datetime.timedelta(seconds=RESOLUTION_S)
    plan = QueryPlan.for_window(end - window, end, step)
    analysis = Analysis.model_validate(
        {"metadata": {"name": "batched"}, "spec": {"profileRef": {"name": "batched"}, "window": "14d"}}
    )
    settings = RightsizingSettings.model_validate(settings_given)
    context = RunContext(analysis, "batched", end - window, end, step, settings, [], cast(KubeClient, None))
    in_scope = scope.Scope(workloads, cast(PrometheusClient, None), plan, ClusterRates.defaults("batched"))
    strategy = strategy_of(settings.root)
    result = AnalyzerResult()
    found = []
    for first in range(0, len(workloads), chunk):
        part = workloads[first : first + chunk]
        for anomaly, proposal in RightsizingAnalyzer()._screen_and_propose(
            part, strategy, settings.root, context, result, in_scope=in_scope, bands=[Hysteresis()] * len(part)
        ):
            spec = None if proposal is None else proposal.spec.model_dump(mode="json", by_alias=True)
            anomalous = None if anomaly is None else anomaly.model_dump(mode="json")
            found.append(json.dumps({"spec": spec, "anomalous": anomalous}, sort_keys=True))
    found.append(json.dumps({"skipped": result.skipped, "cost": result.scope_monthly_cost}, sort_keys=True))
    return found


@pytest.mark.parametrize("given", [{"learned": True}, {"learned": True, "classAware": True}, {"learned": False}])
def test_the_analyzer_proposes_the_same_for_a_chunk_of_workloads_as_for_each_alone(given: dict[str, Any]) -> None:
    together = _proposals(given, chunk=1000)
    assert together == _proposals(given, chunk=1)
    assert sum('"spec": {' in one for one in together) > 5
