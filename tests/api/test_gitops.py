"""GitOps ownership detection and the kustomize patch a recommendation publishes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kcost.api import gitops
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation


@pytest.mark.parametrize(
    ("metadata", "owner"),
    [
        ({"annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}}, "argocd"),
        ({"labels": {"app.kubernetes.io/instance": "shop"}}, "argocd"),
        ({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}}, "flux"),
        ({"labels": {"helm.toolkit.fluxcd.io/name": "web"}}, "flux"),
        ({"labels": {"app": "web"}}, None),
        ({}, None),
    ],
)
def test_gitops_owner(metadata: dict[str, Any], owner: str | None) -> None:
    assert gitops.gitops_owner(metadata) == owner


def recommendation(kind: str, api_version: str, changes: dict[str, Any]) -> OptimizationRecommendation:
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": f"{kind.lower()}-web-right-sizing", "namespace": "shop"},
            "spec": {
                "targetRef": {"apiVersion": api_version, "kind": kind, "name": "web"},
                "type": "right-sizing",
                "changes": changes,
                "current": {"containers": []},
                "estimatedMonthlySavings": 1.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "kcost"},
            },
        }
    )


def test_a_deployment_patch_sets_only_the_named_containers_resources() -> None:
    rec = recommendation(
        "Deployment",
        "apps/v1",
        {
            "containers": [
                {"name": "app", "requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
            ]
        },
    )
    assert gitops.strategic_merge_patch(rec) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                        }
                    ]
                }
            }
        },
    }


def test_a_cronjob_patch_reaches_its_job_template_and_parses_as_yaml() -> None:
    rec = recommendation("CronJob", "batch/v1", {"containers": [{"name": "job", "requests": {"cpu": "100m"}}]})
    document = yaml.safe_load(gitops.patch_yaml(rec))
    containers = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "job", "resources": {"requests": {"cpu": "100m"}}}]


def test_scaling_to_zero_sets_replicas() -> None:
    rec = recommendation("Deployment", "apps/v1", {"replicas": 0})
    assert gitops.strategic_merge_patch(rec)["spec"] == {"replicas": 0}
