"""The Deployment side of the apply engine: the canary's manifest, resource overlays, floors, pod health."""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, WorkloadShape
from kcost.operator.rollout import deployment


def original(**resources: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "web:1", "resources": resources or {"requests": {"cpu": "1"}}},
                        {"name": "sidecar", "image": "proxy:1", "resources": {"requests": {"cpu": "100m"}}},
                    ]
                },
            },
        },
    }


def rec(changes: dict[str, Any]) -> OptimizationRecommendation:
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop", "uid": "u-1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": changes,
                "current": {"containers": []},
                "estimatedMonthlySavings": 1.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
            },
        }
    )


CHANGES = {
    "containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}]
}


def test_the_canary_copies_the_original_with_new_values_and_its_own_label() -> None:
    manifest = deployment.canary_manifest(original(), rec(CHANGES), rec(CHANGES).spec.changes, replicas=1)
    assert manifest["metadata"]["name"] == "web-kcost-canary"
    assert manifest["metadata"]["ownerReferences"][0]["name"] == "deployment-web-right-sizing"
    assert manifest["spec"]["replicas"] == 1
    assert manifest["spec"]["selector"]["matchLabels"] == {"app": "web", deployment.CANARY_LABEL: "true"}
    assert manifest["spec"]["template"]["metadata"]["labels"][deployment.CANARY_LABEL] == "true"
    app, sidecar = manifest["spec"]["template"]["spec"]["containers"]
    assert app["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    assert sidecar["resources"] == {"requests": {"cpu": "100m"}}


def test_promotion_sends_every_container_and_rollback_restores_exactly() -> None:
    live = original(requests={"cpu": "1", "ephemeral-storage": "1Gi"})
    promoted = deployment.overlay(live, rec(CHANGES).spec.changes, exact=False)
    assert promoted == [
        {
            "name": "app",
            "resources": {
                "requests": {"cpu": "250m", "ephemeral-storage": "1Gi", "memory": "256Mi"},
                "limits": {"memory": "256Mi"},
            },
        },
        {"name": "sidecar", "resources": {"requests": {"cpu": "100m"}}},
    ]
    previous = deployment.live_shape(live)
    after = original(**promoted[0]["resources"])
    restored = deployment.overlay(after, previous, exact=True)
    assert restored[0]["resources"] == {"requests": {"cpu": "1", "ephemeral-storage": "1Gi"}}


def test_values_compare_as_quantities() -> None:
    live = original(requests={"cpu": "0.25", "memory": "256Mi"}, limits={"memory": "268435456"})
    assert deployment.has_resources(live, deployment.proposed_resources(rec(CHANGES).spec.changes))
    assert not deployment.has_resources(original(), deployment.proposed_resources(rec(CHANGES).spec.changes))
    assert deployment.proposed_resources(WorkloadShape(containers=[])) == []


def test_the_floor_is_the_strictest_of_budgets_and_strategy() -> None:
    body = original()
    budget = {"spec": {"minAvailable": "80%", "selector": {"matchLabels": {"app": "web"}}}}
    other = {"spec": {"minAvailable": 5, "selector": {"matchLabels": {"app": "api"}}}}
    assert deployment.availability_floor(body, 5, []) == 4  # 25% maxUnavailable rounds down to 1
    assert deployment.availability_floor(body, 5, [budget, other]) == 4
    body["spec"]["strategy"] = {"rollingUpdate": {"maxUnavailable": 0}}
    assert deployment.availability_floor(body, 5, [budget]) == 5


def test_pod_health_counts_ready_restarts_and_oom_kills() -> None:
    def pod(ready: bool, restarts: int, reason: str | None, deleting: bool = False) -> dict[str, Any]:
        last = {"terminated": {"reason": reason}} if reason else {}
        return {
            "metadata": {"deletionTimestamp": "2026-12-01T00:00:00Z"} if deleting else {},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"restartCount": restarts, "lastState": last, "state": {}}],
            },
        }

    health = deployment.pod_health(
        [pod(True, 0, None), pod(False, 1, "OOMKilled"), pod(True, 2, "Error"), pod(True, 9, "OOMKilled", True)]
    )
    assert (health.ready, health.restarts, health.oom_killed) == (2, 3, 1)
