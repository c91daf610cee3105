"""An OptimizationPolicy's status with the real operator: conflicts named on both sides, outcomes, next window."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e.rollout_support import apply, condition, deployment, phase_is, policy, recommendation, wait_for_rec
from kcost.devcluster.cluster import DevCluster


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any, spawn: Any) -> Iterator[str]:
    """A namespace of the test's own, with the operator running; its policies deleted while the operator still runs
    (it removes kopf's finalizer from them)."""
    name = f"e2e-kpol-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    spawn("operator", "operator")
    yield name
    kubectl("delete", "optimizationpolicy", "-l", f"e2e-namespace={name}", "--timeout=60s")
    kubectl("delete", "namespace", name, "--wait=false")


def owned_policy(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body = policy(name, namespace, **spec)
    body["metadata"]["labels"] = {"e2e-namespace": namespace}
    return body


def wait_for_policy(kubectl: Any, name: str, check: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = kubectl("get", "optimizationpolicy", name, "-o", "json")
        if result.returncode == 0:
            body = json.loads(result.stdout)
            if check(body):
                return body
        time.sleep(0.3)
    raise AssertionError(f"policy {name} never reached the expected state: {json.dumps(body.get('status'))}")


def conflict_names(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: text in condition(body, "Conflict").get("message", "")


def test_equally_specific_policies_show_the_conflict_naming_each_other(namespace: str, kubectl: Any) -> None:
    first, second = f"{namespace}-a", f"{namespace}-b"
    apply(
        kubectl,
        owned_policy(first, namespace, mode="recommend"),
        owned_policy(second, namespace, mode="recommend"),
    )
    for name, other in ((first, second), (second, first)):
        body = wait_for_policy(kubectl, name, conflict_names(f"{other} (both cover namespace {namespace})"))
        assert condition(body, "Conflict")["status"] == "True"
        assert (condition(body, "Ready")["status"], condition(body, "Ready")["reason"]) == ("False", "Conflict")
    # With a recommendation to look at, the conflict names the workload both claim.
    apply(kubectl, deployment(namespace), recommendation(namespace, approved=False))
    for name, other in ((first, second), (second, first)):
        wait_for_policy(kubectl, name, conflict_names(f"{other} (both cover Deployment {namespace}/web)"))


def test_a_policy_counts_what_it_applied_and_shows_its_next_window(namespace: str, kubectl: Any) -> None:
    # A window that opened two hours ago for a minute: closed now, next open in 22 hours.
    opened = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0) - datetime.timedelta(hours=2)
    window = {"schedule": f"{opened.minute} {opened.hour} * * *", "duration": "1m", "timeZone": "UTC"}
    name = f"{namespace}-auto"
    apply(
        kubectl,
        deployment(namespace),
        owned_policy(name, namespace, maintenanceWindows=[window]),
        recommendation(namespace, approved=True),
    )
    applied = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    assert applied["status"]["phase"] == "Applied", applied["status"]
    body = wait_for_policy(kubectl, name, lambda b: (b.get("status", {}).get("counts") or {}).get("applied") == 1)
    status = body["status"]
    assert status["governedWorkloads"] == 1
    assert status["counts"] == {
        "pending": 0,
        "applied": 1,
        "rolledBack": 0,
        "failed": 0,
        "held": 0,
        "autoApproved": 0,
    }, "approved by a person (e2e), not by the policy"
    next_window = f"{opened + datetime.timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
    assert status["nextWindow"] == next_window
    assert status["matchedNamespaces"] == [namespace]
    ready = condition(body, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Resolved")
    assert f"next maintenance window, at {next_window}" in ready["message"]
    assert condition(body, "Conflict")["status"] == "False"


def test_an_unknown_time_zone_is_named_in_ready(namespace: str, kubectl: Any) -> None:
    window = {"schedule": "0 2 * * *", "duration": "1h", "timeZone": "Mars/Olympus"}
    name = f"{namespace}-mars"
    apply(kubectl, owned_policy(name, namespace, mode="recommend", maintenanceWindows=[window]))
    body = wait_for_policy(kubectl, name, lambda b: condition(b, "Ready").get("reason") == "InvalidSpec")
    assert condition(body, "Ready")["message"] == (
        "spec.maintenanceWindows[0].timeZone: 'Mars/Olympus' is not an IANA time zone; "
        "expected one such as Europe/Berlin"
    )
    assert body["status"]["matchedNamespaces"] == [namespace], "the rest of the status is still reported"
