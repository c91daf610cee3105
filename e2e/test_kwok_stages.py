"""kwok's pod stages in the dev cluster: the normal lifecycle, and faults a rollout test can ask for."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kcost.devcluster.kwok_stages import CANARY_LABEL, FAULT_ANNOTATION


@pytest.fixture
def namespace(kubectl: Any) -> Iterator[str]:
    name = f"e2e-stages-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def deployment(name: str, namespace: str, *, canary: bool, fault: str | None) -> str:
    labels = {"app": name, **({CANARY_LABEL: "true"} if canary else {})}
    annotations = {FAULT_ANNOTATION: fault} if fault else {}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]},
                },
            },
        }
    )


def pods_when(kubectl: Any, namespace: str, app: str, check: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    deadline = time.monotonic() + 90
    pods: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        listed = kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json")
        pods = json.loads(listed.stdout)["items"] if listed.returncode == 0 else []
        if pods and check(pods):
            return pods
        time.sleep(0.3)
    raise AssertionError(f"pods of {app} never reached the expected state: {json.dumps(pods)[:2000]}")


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def test_the_fault_annotation_alone_changes_nothing(kubectl: Any, namespace: str) -> None:
    # The original workload carries the annotation in its template; only canary pods are hurt.
    assert (
        kubectl("apply", "-f", "-", input_text=deployment("web", namespace, canary=False, fault="oom-kill")).returncode
        == 0
    )
    pods = pods_when(kubectl, namespace, "web", lambda pods: len(pods) == 2 and all(map(ready, pods)))
    assert all(s["restartCount"] == 0 for pod in pods for s in pod["status"]["containerStatuses"])


def test_a_canary_pod_is_oom_killed(kubectl: Any, namespace: str) -> None:
    assert (
        kubectl("apply", "-f", "-", input_text=deployment("oom", namespace, canary=True, fault="oom-kill")).returncode
        == 0
    )

    def killed(pods: list[dict[str, Any]]) -> bool:
        statuses = [s for pod in pods for s in pod["status"].get("containerStatuses", [])]
        return len(statuses) == 2 and all(
            s.get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled" for s in statuses
        )

    pods = pods_when(kubectl, namespace, "oom", killed)
    assert not any(map(ready, pods))
    assert all(s["restartCount"] == 1 for pod in pods for s in pod["status"]["containerStatuses"])


def test_a_canary_pod_is_made_unready_or_restarted(kubectl: Any, namespace: str) -> None:
    kubectl("apply", "-f", "-", input_text=deployment("unready", namespace, canary=True, fault="unready"))
    kubectl("apply", "-f", "-", input_text=deployment("restart", namespace, canary=True, fault="restart"))
    pods_when(
        kubectl,
        namespace,
        "unready",
        lambda pods: len(pods) == 2 and all(p["status"].get("phase") == "Running" and not ready(p) for p in pods),
    )
    restarted = pods_when(
        kubectl,
        namespace,
        "restart",
        lambda pods: (
            len(pods) == 2
            and all(s["restartCount"] == 3 for p in pods for s in p["status"].get("containerStatuses", []))
        ),
    )
    assert all(map(ready, restarted))


def test_pods_of_a_job_complete(kubectl: Any, namespace: str) -> None:
    created = kubectl("create", "job", "once", "-n", namespace, "--image=job:1")
    assert created.returncode == 0, created.stderr
    waited = kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/once", "--timeout=90s")
    assert waited.returncode == 0, waited.stderr
