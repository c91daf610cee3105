"""Policies at work: auto-approval within every rule, holds that say why, conflicts, and GitOps-managed workloads."""

from __future__ import annotations

import datetime
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.rollout_support import (
    apply,
    condition,
    container,
    deployment,
    get_json,
    kubectl_cost,
    phase_is,
    policy,
    recommendation,
    wait_for_rec,
)
from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster

AUTO_APPROVE = {"minConfidence": 0.9, "maxRiskLevel": "low", "maxChangePercent": 60}


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"e2e-auto-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "optimizationpolicy", "-l", f"e2e-namespace={name}", "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


def owned_policy(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body = policy(name, namespace, **spec)
    body["metadata"]["labels"] = {"e2e-namespace": namespace}
    return body


def held_because(text: str) -> Any:
    return lambda body: text in condition(body, "AutoApproval").get("message", "")


def test_an_auto_apply_policy_approves_and_applies_what_it_allows(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(
        kubectl,
        deployment(namespace),
        owned_policy(f"{namespace}-auto", namespace, autoApprove=AUTO_APPROVE),
        recommendation(namespace, approved=False),
    )
    spawn("operator", "operator")
    applied = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    assert applied["status"]["phase"] == "Applied", applied["status"]
    assert applied["spec"]["approval"]["approvedBy"] == f"policy/{namespace}-auto"
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}
    annotations = get_json(kubectl, "get", "deployment", "web", "-n", namespace)["metadata"]["annotations"]
    assert "kcost.dev/last-change-at" in annotations


def test_what_a_policy_does_not_allow_is_held_with_the_rule_named(namespace: str, kubectl: Any, spawn: Any) -> None:
    excluded = {"excludedWorkloads": [{"kind": "Deployment", "name": "excluded", "namespace": namespace}]}
    recently = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cooling = deployment(namespace, "cooling")
    cooling["metadata"]["annotations"] = {"kcost.dev/last-change-at": recently}
    apply(
        kubectl,
        deployment(namespace, "unsure"),
        deployment(namespace, "excluded"),
        deployment(namespace, "big"),
        cooling,
        owned_policy(f"{namespace}-auto", namespace, autoApprove=AUTO_APPROVE, constraints=excluded, cooldown="1h"),
        recommendation(namespace, "unsure", approved=False, confidence=0.5),
        recommendation(namespace, "excluded", approved=False),
        recommendation(namespace, "big", approved=False, cpu="100m"),
        recommendation(namespace, "cooling", approved=False),
    )
    spawn("operator", "operator")
    expectations = {
        "unsure": "confidence 0.50 is below minConfidence 0.90",
        "excluded": f"Deployment {namespace}/excluded is excluded",
        "big": "the change is 80%, above maxChangePercent 60%",
        "cooling": "the workload is in its cooldown until",
    }
    for target, reason in expectations.items():
        held = wait_for_rec(kubectl, namespace, held_because(reason), name=f"deployment-{target}-right-sizing")
        assert held["status"]["phase"] == "Proposed"
        assert not held["spec"]["approval"].get("approved")
        assert condition(held, "AutoApproval")["reason"] == "Held"
        assert condition(held, "AutoApproval")["message"].startswith(f"policy {namespace}-auto: ")


def test_outside_the_maintenance_window_nothing_is_approved(namespace: str, kubectl: Any, spawn: Any) -> None:
    # A window that opened over an hour ago for one minute is closed now, whatever the time.
    opened = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    window = {"schedule": f"{opened.minute} {opened.hour} * * *", "duration": "1m", "timeZone": "UTC"}
    apply(
        kubectl,
        deployment(namespace),
        owned_policy(f"{namespace}-auto", namespace, autoApprove=AUTO_APPROVE, maintenanceWindows=[window]),
        recommendation(namespace, approved=False),
    )
    spawn("operator", "operator")
    held = wait_for_rec(kubectl, namespace, held_because("outside its maintenance windows (next opens"))
    assert held["status"]["phase"] == "Proposed"


def test_equally_specific_policies_conflict_and_neither_applies(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(
        kubectl,
        deployment(namespace),
        owned_policy(f"{namespace}-a", namespace, autoApprove=AUTO_APPROVE),
        owned_policy(f"{namespace}-b", namespace, autoApprove=AUTO_APPROVE),
        recommendation(namespace, approved=False),
    )
    spawn("operator", "operator")
    held = wait_for_rec(kubectl, namespace, lambda b: condition(b, "AutoApproval").get("reason") == "PolicyConflict")
    assert f"{namespace}-a, {namespace}-b" in condition(held, "AutoApproval")["message"]
    assert not held["spec"]["approval"].get("approved")
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_a_gitops_managed_deployment_is_never_patched_and_its_patch_applies(
    namespace: str, kubectl: Any, spawn: Any, tmp_path: Path, kcost_crds: DevCluster
) -> None:
    managed = deployment(namespace, labels={"app.kubernetes.io/instance": "shop"})
    apply(kubectl, managed, recommendation(namespace, approved=True))
    spawn("operator", "operator")
    published = wait_for_rec(kubectl, namespace, lambda b: condition(b, "Ready").get("reason") == "GitOpsPatch")
    assert published["status"]["phase"] == "Approved"
    assert "managed by argocd" in condition(published, "Ready")["message"]
    live = get_json(kubectl, "get", "deployment", "web", "-n", namespace, "--show-managed-fields")
    assert not {e["manager"] for e in live["metadata"]["managedFields"]} & {"kcost", "kcost-annotations"}
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    # What the repository would hold: the manifest, and the patch next to it.
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(managed))
    kubeconfig = kcost_crds.require_state().admin_kubeconfig
    printed = kubectl_cost(kubeconfig, "patch", "-n", namespace, published["metadata"]["name"])
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == published["status"]["gitopsPatch"]
    (tmp_path / "kcost-patch.yaml").write_text(printed.stdout)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["deployment.yaml"], "patches": [{"path": "kcost-patch.yaml"}]})
    )
    built = subprocess.run(
        [binaries.kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert built.returncode == 0, built.stderr
    resources = yaml.safe_load(built.stdout)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}}
