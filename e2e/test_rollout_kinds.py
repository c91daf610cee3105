"""Approved recommendations applied to StatefulSets, DaemonSets and CronJobs on the dev cluster.

A StatefulSet goes through a canary by ``partition`` (its highest ordinals first); kwok's
fault stages reach its canary pods because kcost labels them as it labels a Deployment
canary's. A DaemonSet gets its template patched and its own rolling update gated by
health. A CronJob is judged by its next run: here the test creates that run itself from
the CronJob, as ``kubectl create job --from=cronjob/NAME`` does, instead of waiting up
to a minute for the schedule. In-place resizes are answered by kwok's resize stages
(actuated, or ``PodResizePending`` Infeasible for a pod annotated so).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.rollout_support import (
    PDB_MIN_AVAILABLE,
    REPLICAS,
    Watcher,
    apply,
    budget,
    condition,
    cronjob,
    daemonset,
    deployment,
    get_json,
    kubectl_cost,
    phase_is,
    policy,
    recommendation,
    statefulset,
    wait_for_event,
    wait_for_rec,
)
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.kwok_stages import CANARY_LABEL, FAULT_ANNOTATION, RESIZE_ANNOTATION

NEW_RESOURCES = {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}}
OLD_RESOURCES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
FINISHED = ("Applied", "RolledBack", "Failed")


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"e2e-kinds-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "optimizationpolicy", f"{name}-policy", "--ignore-not-found", "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


def template_resources(kubectl: Any, namespace: str, kind: str, name: str) -> dict[str, Any]:
    body = get_json(kubectl, "get", kind, name, "-n", namespace)
    spec = body["spec"]["jobTemplate"]["spec"] if kind == "cronjob" else body["spec"]
    return dict(spec["template"]["spec"]["containers"][0]["resources"])


def pods(kubectl: Any, namespace: str, app: str) -> list[dict[str, Any]]:
    return list(get_json(kubectl, "get", "pods", "-n", namespace, "-l", f"app={app}")["items"])


def wait_until(what: str, check: Any, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def all_pods_have(kubectl: Any, namespace: str, app: str, resources: dict[str, Any], count: int) -> bool:
    live = [p for p in pods(kubectl, namespace, app) if not p["metadata"].get("deletionTimestamp")]
    return len(live) == count and all(p["spec"]["containers"][0]["resources"] == resources for p in live)


def test_a_statefulset_canary_lowers_its_partition_step_by_step(
    namespace: str, kubectl: Any, spawn: Any, kcost_crds: DevCluster
) -> None:
    apply(kubectl, statefulset(namespace), budget(namespace, "db"), policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    with Watcher(kubectl, namespace, "statefulsets") as watcher:
        apply(kubectl, recommendation(namespace, "db", kind="StatefulSet"))
        done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name="statefulset-db-right-sizing")
    status = done["status"]
    assert status["phase"] == "Applied", status
    # One pod down at a time, never below the PodDisruptionBudget's minAvailable.
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    assert status["rollout"]["strategy"] == "partition"
    assert [step["percent"] for step in status["rollout"]["steps"]] == [20, 50, 100]
    seen = " ".join(o["message"] for o in status["rollout"]["observations"])
    for partition in (4, 2, 0):  # 1, 3 and 5 of the 5 pods on the new values
        assert f"canary pods Ready (partition {partition})" in seen, seen
    assert template_resources(kubectl, namespace, "statefulset", "db") == NEW_RESOURCES
    body = get_json(kubectl, "get", "statefulset", "db", "-n", namespace)
    assert body["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0
    wait_until("every pod on the new values", lambda: all_pods_have(kubectl, namespace, "db", NEW_RESOURCES, REPLICAS))
    assert not [p for p in pods(kubectl, namespace, "db") if CANARY_LABEL in p["metadata"].get("labels", {})]

    shown = kubectl_cost(kcost_crds.require_state().admin_kubeconfig, "show", "-n", namespace, done["metadata"]["name"])
    assert shown.returncode == 0, shown.stderr
    assert "rollout: partition, Done" in shown.stdout, shown.stdout
    shares = [line.split()[1] for line in shown.stdout.splitlines() if line.strip()[:1] in "123" and "%" in line]
    assert shares == ["20%", "50%", "100%"], shown.stdout


def test_an_oom_killed_statefulset_canary_is_rolled_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, statefulset(namespace, fault="oom-kill"), policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "db", kind="StatefulSet"))
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name="statefulset-db-right-sizing")
    status = done["status"]
    assert status["phase"] == "RolledBack", status
    assert "OOMKilled" in status["rollout"]["reason"]
    assert condition(done, "Ready")["reason"] == "RolledBack"
    assert status["rollout"]["steps"] == []
    assert template_resources(kubectl, namespace, "statefulset", "db") == OLD_RESOURCES
    body = get_json(kubectl, "get", "statefulset", "db", "-n", namespace)
    assert body["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0
    # The OOM-killed canary pod is replaced on the old values: the StatefulSet is whole again.
    wait_until("every pod on the old values", lambda: all_pods_have(kubectl, namespace, "db", OLD_RESOURCES, REPLICAS))
    assert kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s").returncode == 0
    wait_for_event(
        kubectl, namespace, lambda e: e.startswith("RolledBack:") and "OOMKilled" in e, "statefulset-db-right-sizing"
    )


def test_a_daemonset_rolling_update_is_gated_and_applied(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, daemonset(namespace), policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=90s").returncode == 0
    nodes = len(pods(kubectl, namespace, "agent"))
    assert nodes > 0
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "agent", kind="DaemonSet"))
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name="daemonset-agent-right-sizing")
    status = done["status"]
    assert status["phase"] == "Applied", status
    assert status["rollout"]["strategy"] == "rolling"
    assert f"{nodes}/{nodes} pods Ready" in " ".join(o["message"] for o in status["rollout"]["observations"])
    assert template_resources(kubectl, namespace, "daemonset", "agent") == NEW_RESOURCES
    assert all_pods_have(kubectl, namespace, "agent", NEW_RESOURCES, nodes)
    live = get_json(kubectl, "get", "daemonset", "agent", "-n", namespace, "--show-managed-fields")
    assert "kcost" in {entry["manager"] for entry in live["metadata"]["managedFields"]}


def test_a_cronjob_change_is_applied_after_its_next_run_succeeds(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, cronjob(namespace), policy(f"{namespace}-policy", namespace))
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "nightly", kind="CronJob"))
    name = "cronjob-nightly-right-sizing"
    waiting = wait_for_rec(
        kubectl,
        namespace,
        lambda b: "waiting for the next run" in condition(b, "Ready").get("message", ""),
        name=name,
    )
    assert waiting["status"]["phase"] == "Applying"
    assert template_resources(kubectl, namespace, "cronjob", "nightly") == NEW_RESOURCES
    # The next run, made now rather than at the schedule's next minute.
    created = kubectl("create", "job", "nightly-run", "--from=cronjob/nightly", "-n", namespace)
    assert created.returncode == 0, created.stderr
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name=name)
    status = done["status"]
    assert status["phase"] == "Applied", status
    assert status["rollout"]["strategy"] == "next-run"
    assert status["rollout"]["observations"][-1]["message"] == "Job nightly-run succeeded"
    job = get_json(kubectl, "get", "job", "nightly-run", "-n", namespace)
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"] == NEW_RESOURCES
    assert json.dumps(status["rollout"]["steps"][0]["percent"]) == "100"


def test_a_cronjob_whose_next_run_is_oom_killed_is_rolled_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, cronjob(namespace, job_fault="oom-kill"), policy(f"{namespace}-policy", namespace))
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "nightly", kind="CronJob"))
    name = "cronjob-nightly-right-sizing"
    wait_for_rec(
        kubectl, namespace, lambda b: "waiting for the next run" in condition(b, "Ready").get("message", ""), name=name
    )
    created = kubectl("create", "job", "nightly-run", "--from=cronjob/nightly", "-n", namespace)
    assert created.returncode == 0, created.stderr
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name=name)
    status = done["status"]
    assert status["phase"] == "RolledBack", status
    assert "OOMKilled" in status["rollout"]["reason"], status["rollout"]
    assert "nightly-run" in status["rollout"]["reason"]
    assert template_resources(kubectl, namespace, "cronjob", "nightly") == OLD_RESOURCES


def test_an_operator_killed_during_a_statefulset_step_resumes(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, statefulset(namespace), policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s").returncode == 0
    operator = spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "db", kind="StatefulSet"))
    name = "statefulset-db-right-sizing"
    wait_for_rec(kubectl, namespace, lambda b: (b.get("status", {}).get("rollout") or {}).get("step") == 1, name=name)
    operator.kill()
    spawn("operator-2", "operator")
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name=name)
    assert done["status"]["phase"] == "Applied", done["status"]
    assert [s["percent"] for s in done["status"]["rollout"]["steps"]] == [20, 50, 100]
    wait_until("every pod on the new values", lambda: all_pods_have(kubectl, namespace, "db", NEW_RESOURCES, REPLICAS))


def in_place_policy(namespace: str) -> dict[str, Any]:
    body = policy(f"{namespace}-policy", namespace)
    body["spec"]["rolloutStrategy"] = {"type": "in-place", "steps": [{"replicas": "100%", "duration": "5s"}]}
    return body


def test_a_deployment_is_resized_in_place_then_its_template_follows(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, deployment(namespace), in_place_policy(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    before = {p["metadata"]["name"] for p in pods(kubectl, namespace, "web")}
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace))
    name = "deployment-web-right-sizing"
    watching = wait_for_rec(
        kubectl, namespace, lambda b: (b.get("status", {}).get("rollout") or {}).get("stage") == "Observing", name=name
    )
    assert watching["status"]["rollout"]["strategy"] == "in-place"
    # The same pods, not replaced: their spec and what kwok's kubelet reports carry the new values.
    resized = {p["metadata"]["name"]: p for p in pods(kubectl, namespace, "web")}
    assert set(resized) == before
    for pod in resized.values():
        assert pod["spec"]["containers"][0]["resources"] == NEW_RESOURCES
        assert pod["status"]["containerStatuses"][0]["resources"] == NEW_RESOURCES
    assert template_resources(kubectl, namespace, "deployment", "web") == OLD_RESOURCES
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name=name)
    status = done["status"]
    assert status["phase"] == "Applied", status
    assert status["rollout"]["strategy"] == "in-place"
    seen = [o["message"] for o in status["rollout"]["observations"]]
    assert f"{REPLICAS}/{REPLICAS} pods resized in place and Ready" in seen, seen
    assert template_resources(kubectl, namespace, "deployment", "web") == NEW_RESOURCES


def test_an_infeasible_resize_falls_back_to_a_rolling_update(namespace: str, kubectl: Any, spawn: Any) -> None:
    workload = deployment(namespace)
    workload["spec"]["template"]["metadata"]["annotations"][RESIZE_ANNOTATION] = "infeasible"
    apply(kubectl, workload, in_place_policy(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace))
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name="deployment-web-right-sizing")
    status = done["status"]
    assert status["phase"] == "Applied", status
    assert status["rollout"]["strategy"] == "rolling"
    fell_back = [
        o["message"] for o in status["rollout"]["observations"] if "in-place resize not possible" in o["message"]
    ]
    assert fell_back, status["rollout"]["observations"]
    assert "PodResizePending Infeasible" in fell_back[0]
    assert fell_back[0].endswith("falling back to rolling")
    assert template_resources(kubectl, namespace, "deployment", "web") == NEW_RESOURCES
    wait_until("every pod on the new values", lambda: all_pods_have(kubectl, namespace, "web", NEW_RESOURCES, REPLICAS))


def test_a_recommendation_deleted_mid_statefulset_rollout_rolls_it_back_before_going(
    namespace: str, kubectl: Any, spawn: Any
) -> None:
    """Deleting the recommendation takes its status (what to restore) with it: the rollout's finalizer keeps it
    until the StatefulSet is whole again on its old values, instead of leaving it half-changed."""
    apply(kubectl, statefulset(namespace), policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "db", kind="StatefulSet"))
    name = "statefulset-db-right-sizing"
    midway = wait_for_rec(
        kubectl, namespace, lambda b: (b.get("status", {}).get("rollout") or {}).get("step") == 1, name=name
    )
    assert "kcost.dev/rollout" in midway["metadata"]["finalizers"]
    assert template_resources(kubectl, namespace, "statefulset", "db") == NEW_RESOURCES
    assert kubectl("delete", "rec", name, "-n", namespace, "--wait=false").returncode == 0

    def gone() -> bool:
        found = kubectl("get", "rec", name, "-n", namespace, "--ignore-not-found", "-o", "name")
        return found.returncode == 0 and not found.stdout.strip()

    wait_until("the recommendation gone", gone, timeout_s=120)
    assert template_resources(kubectl, namespace, "statefulset", "db") == OLD_RESOURCES
    body = get_json(kubectl, "get", "statefulset", "db", "-n", namespace)
    assert body["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0
    wait_until("every pod on the old values", lambda: all_pods_have(kubectl, namespace, "db", OLD_RESOURCES, REPLICAS))
    assert not [p for p in pods(kubectl, namespace, "db") if CANARY_LABEL in p["metadata"].get("labels", {})]
    wait_for_event(
        kubectl, namespace, lambda e: e.startswith("RolledBack:") and "deleted during the rollout" in e, name
    )


def test_a_suspended_cronjob_says_why_its_change_waits(namespace: str, kubectl: Any, spawn: Any) -> None:
    """A suspended CronJob makes no run to judge the change: the rollout says so, with how to go on, and a run
    started by hand still judges it."""
    suspended = cronjob(namespace)
    suspended["spec"]["suspend"] = True
    apply(kubectl, suspended, policy(f"{namespace}-policy", namespace))
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "nightly", kind="CronJob"))
    name = "cronjob-nightly-right-sizing"
    waiting = wait_for_rec(
        kubectl, namespace, lambda b: "CronJob suspended" in condition(b, "Ready").get("message", ""), name=name
    )
    assert waiting["status"]["phase"] == "Applying"
    message = condition(waiting, "Ready")["message"]
    assert "spec.suspend: true" in message, message
    assert "kubectl create job --from=cronjob/nightly" in message, message
    assert "CronJob suspended" in waiting["status"]["rollout"]["observations"][-1]["message"]
    assert template_resources(kubectl, namespace, "cronjob", "nightly") == NEW_RESOURCES
    created = kubectl("create", "job", "nightly-run", "--from=cronjob/nightly", "-n", namespace)
    assert created.returncode == 0, created.stderr
    done = wait_for_rec(kubectl, namespace, phase_is(*FINISHED), name=name)
    assert done["status"]["phase"] == "Applied", done["status"]


def test_an_oom_killed_daemonset_update_is_rolled_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    """The DaemonSet's own rolling update, gated: its first pods on the new values are OOM-killed, so the template is
    restored and its pods roll back node by node. kwok's fault stages act on pods carrying the canary label, which a
    DaemonSet's pods never get from kcost (there is no canary): the test puts it on each new pod as it appears."""
    agent = daemonset(namespace)
    agent["spec"]["template"]["metadata"]["annotations"][FAULT_ANNOTATION] = "oom-kill"
    apply(kubectl, agent, policy(f"{namespace}-policy", namespace))
    assert kubectl("rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=90s").returncode == 0
    nodes = len(pods(kubectl, namespace, "agent"))
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, "agent", kind="DaemonSet"))
    name = "daemonset-agent-right-sizing"

    def finished_while_faulting_new_pods() -> bool:
        for pod in pods(kubectl, namespace, "agent"):
            new = pod["spec"]["containers"][0]["resources"] == NEW_RESOURCES
            if new and CANARY_LABEL not in pod["metadata"].get("labels", {}):
                kubectl("label", "pod", pod["metadata"]["name"], "-n", namespace, f"{CANARY_LABEL}=true")
        found = kubectl("get", "rec", name, "-n", namespace, "-o", "jsonpath={.status.phase}")
        return found.stdout in FINISHED

    wait_until("the rollout finished", finished_while_faulting_new_pods, timeout_s=120)
    done = get_json(kubectl, "get", "rec", name, "-n", namespace)
    status = done["status"]
    assert status["phase"] == "RolledBack", status
    assert status["rollout"]["strategy"] == "rolling"
    assert "OOMKilled" in status["rollout"]["reason"], status["rollout"]
    assert condition(done, "Ready")["reason"] == "RolledBack"
    assert template_resources(kubectl, namespace, "daemonset", "agent") == OLD_RESOURCES
    wait_until(
        "every pod back on the old values", lambda: all_pods_have(kubectl, namespace, "agent", OLD_RESOURCES, nodes)
    )
    assert kubectl("rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=90s").returncode == 0
    wait_for_event(kubectl, namespace, lambda e: e.startswith("RolledBack:") and "OOMKilled" in e, name)
