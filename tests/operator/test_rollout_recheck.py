"""How soon a rollout looks again: a watched Deployment's observation is polled only as a backstop."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase, RolloutStage
from kcost.kube.workloads import WorkloadRef
from kcost.operator.rollout import controller
from tests.operator.test_rollout_realized import recommendation, shape

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy.model_validate({"steps": [{"replicas": "100%", "duration": "5m"}]})


class _Cluster:
    """A Deployment on the new values with its pods Ready, and how often its pods were listed."""

    def __init__(self) -> None:
        self.pod_lists = 0

    async def get(self, ref: WorkloadRef) -> dict[str, Any]:
        return {
            "metadata": {"name": ref.name, "namespace": ref.namespace, "generation": 2},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "app", "resources": {"requests": self._values()}}]}},
            },
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        }

    async def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.pod_lists += 1
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        containers = [{"name": "app", "resources": {"requests": self._values()}}]
        pod = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        return [pod | {"status": ready}, pod | {"status": ready}]

    def _values(self) -> dict[str, str]:
        return {"cpu": "250m", "memory": "256Mi"}


def observing(started_s_ago: float) -> OptimizationRecommendation:
    rec = recommendation().model_copy(deep=True)
    rec.status.phase = RecommendationPhase.APPLYING
    assert rec.status.rollout is not None
    rec.status.rollout.strategy = "rolling"
    rec.status.rollout.stage = RolloutStage.OBSERVING
    rec.status.rollout.target = shape("250m", "256Mi")
    rec.status.rollout.step_started_at = NOW - datetime.timedelta(seconds=started_s_ago)
    return rec


@pytest.mark.parametrize(
    ("started_s_ago", "recheck_s"),
    [(10, controller.WATCHED_ROLLING_RECHECK_S), (297, 3.0)],
)
async def test_a_watched_deployment_under_observation_is_polled_as_a_backstop_until_its_window_ends(
    started_s_ago: float, recheck_s: float
) -> None:
    cluster = _Cluster()
    outcome = await controller.advance(cluster, observing(started_s_ago), STRATEGY, NOW)  # type: ignore[arg-type]
    assert outcome.recheck_after_s == pytest.approx(recheck_s)
    assert cluster.pod_lists == 1
