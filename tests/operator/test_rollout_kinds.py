"""How a rollout starts for each kind, and the helpers that read StatefulSets, DaemonSets and CronJobs."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase
from kcost.kube.workloads import WorkloadClient, WorkloadRef
from kcost.operator.rollout import controller, cronjob, daemonset, deployment, statefulset

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "db"}},
    "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]},
}
NEW = [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "384Mi"}}}]


class Workloads(WorkloadClient):
    """One workload, no HPAs."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    async def get(self, ref: WorkloadRef) -> dict[str, Any] | None:
        return self.body if ref.name == self.body["metadata"]["name"] else None

    async def autoscalers(self, namespace: str) -> list[dict[str, Any]]:
        return []


def rec(kind: str, name: str) -> OptimizationRecommendation:
    changes = {"containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "384Mi"}}]}
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": f"{kind.lower()}-{name}-right-sizing", "namespace": "shop", "uid": "u-1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                "type": "right-sizing",
                "changes": changes,
                "current": {"containers": []},
                "estimatedMonthlySavings": 1.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
            },
            "status": {"phase": "Approved"},
        }
    )


def in_place_policy() -> OptimizationPolicy:
    return OptimizationPolicy.model_validate(
        {"metadata": {"name": "p"}, "spec": {"mode": "auto-apply", "rolloutStrategy": {"type": "in-place"}}}
    )


def start(kind: str, spec: dict[str, Any], policy: OptimizationPolicy | None = None) -> controller.Outcome:
    body = {"metadata": {"name": "db", "namespace": "shop"}, "spec": spec}
    return asyncio.run(controller.start(Workloads(body), rec(kind, "db"), policy, NOW))


def test_a_statefulset_starts_a_partition_canary_and_records_its_partition() -> None:
    spec = {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}, "template": TEMPLATE}
    outcome = start("StatefulSet", spec)
    assert outcome.recommendation is not None
    rollout = outcome.recommendation.status.rollout
    assert rollout is not None
    assert (rollout.strategy, rollout.original_partition, rollout.canary_name) == ("partition", 1, None)


def test_on_delete_workloads_are_refused_naming_the_field() -> None:
    outcome = start("DaemonSet", {"updateStrategy": {"type": "OnDelete"}, "template": TEMPLATE})
    assert outcome.recommendation is not None
    assert outcome.recommendation.status.phase is RecommendationPhase.FAILED
    ready = outcome.recommendation.status.conditions[0]
    assert ready.reason == controller.UNSUPPORTED
    assert "DaemonSet shop/db has spec.updateStrategy.type OnDelete" in ready.message


def test_a_cronjob_is_judged_by_its_next_run_and_has_no_replicas() -> None:
    outcome = start("CronJob", {"schedule": "@daily", "jobTemplate": {"spec": {"template": TEMPLATE}}})
    assert outcome.recommendation is not None
    assert outcome.recommendation.status.rollout is not None
    assert outcome.recommendation.status.rollout.strategy == "next-run"
    previous = outcome.recommendation.status.previous
    assert previous is not None
    assert previous.replicas is None
    assert previous.containers[0].requests is not None
    assert previous.containers[0].requests.cpu == "500m"


def test_an_in_place_policy_resizes_but_a_cronjob_still_waits_for_its_run() -> None:
    deployment_rollout = start("Deployment", {"replicas": 2, "template": TEMPLATE}, in_place_policy())
    assert deployment_rollout.recommendation is not None
    assert deployment_rollout.recommendation.status.rollout is not None
    assert deployment_rollout.recommendation.status.rollout.strategy == "in-place"
    cron = start("CronJob", {"schedule": "@daily", "jobTemplate": {"spec": {"template": TEMPLATE}}}, in_place_policy())
    assert cron.recommendation is not None
    assert cron.recommendation.status.rollout is not None
    assert cron.recommendation.status.rollout.strategy == "next-run"


def test_the_next_run_is_the_first_job_of_this_cronjob_on_the_new_values() -> None:
    cron = {"metadata": {"name": "nightly", "uid": "c-1"}}

    def job(name: str, created: str, owner: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "creationTimestamp": created, "ownerReferences": [{"uid": owner}]},
            "spec": {"template": {"spec": {"containers": resources}}},
        }

    old = TEMPLATE["spec"]["containers"]
    jobs = [
        job("before", "2026-12-01T11:00:00Z", "c-1", old),
        job("other-cronjob", "2026-12-01T12:00:00Z", "c-2", NEW),
        job("second", "2026-12-01T12:02:00Z", "c-1", NEW),
        job("first", "2026-12-01T12:01:00Z", "c-1", NEW),
    ]
    found = cronjob.next_job(cron, jobs, NEW)
    assert found is not None
    assert found["metadata"]["name"] == "first"
    assert cronjob.next_job(cron, jobs[:2], NEW) is None


def test_a_daemonset_counts_its_scheduled_pods_as_replicas() -> None:
    body = {
        "metadata": {"generation": 2},
        "spec": {"template": TEMPLATE},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 4,
            "numberAvailable": 3,
            "updatedNumberScheduled": 2,
        },
    }
    state = daemonset.daemonset_state(body, NEW)
    assert (state.replicas, state.available, state.updated, state.settled, state.has_new_values) == (
        4,
        3,
        2,
        False,
        False,
    )


def test_a_statefulset_partition_defaults_to_zero_and_pods_on_new_values_are_found() -> None:
    assert statefulset.current_partition({"spec": {}}) == 0
    assert statefulset.current_partition({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 3}}}}) == 3
    pods = [
        {"metadata": {"name": "db-0"}, "spec": TEMPLATE["spec"]},
        {"metadata": {"name": "db-1"}, "spec": {"containers": NEW}},
        {"metadata": {"name": "db-2", "deletionTimestamp": "x"}, "spec": {"containers": NEW}},
    ]
    assert [p["metadata"]["name"] for p in statefulset.new_pods(pods, NEW)] == ["db-1"]


def test_a_cronjob_shows_its_job_template_where_a_deployment_has_its_template() -> None:
    seen = cronjob.as_workload({"metadata": {"name": "n"}, "spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}})
    assert seen["spec"]["template"] == TEMPLATE
    assert deployment.has_resources(seen, TEMPLATE["spec"]["containers"])
    assert not deployment.has_resources(seen, NEW)
