"""The operator as a separate process on the real control plane, with an analyzer that implements the contract."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from kcost.devcluster.cluster import DevCluster

NAMESPACE = "e2e-op"
PROFILE = """
apiVersion: optimizer.kcost.dev/v1alpha1
kind: ClusterCostProfile
metadata: {name: e2e}
spec:
  provider: onprem
  pricing: {source: custom, customRates: {cpuCoreHour: 0.03, memoryGiBHour: 0.004}}
  prometheus: {url: "http://127.0.0.1:1"}
"""


def _deployment(name: str, cpu: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{type: kwok}}
      containers:
        - {{name: app, image: registry.k8s.io/pause:3.10, resources: {{requests: {{cpu: {cpu}, memory: 64Mi}}}}}}
"""


def _analysis(
    name: str,
    settings: dict[str, Any] | None = None,
    *,
    timeout: str = "2m",
    profile: str = "e2e",
    analyzer: str = "fixture",
) -> str:
    return json.dumps(
        {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": name},
            "spec": {
                "profileRef": {"name": profile},
                "namespaces": [NAMESPACE],
                "timeout": timeout,
                "analyzers": [{"name": analyzer, "settings": settings or {}}],
            },
        }
    )


@pytest.fixture(scope="module")
def workloads(kcost_crds: DevCluster, kubectl: Any) -> list[str]:
    kubectl("create", "namespace", NAMESPACE)
    assert kubectl("apply", "-f", "-", input_text=PROFILE).returncode == 0
    names = ["api", "web", "worker"]
    for name, cpu in zip(names, ("500m", "1", "250m"), strict=True):
        applied = kubectl("apply", "-f", "-", input_text=_deployment(name, cpu))
        assert applied.returncode == 0, applied.stderr
    return names


def _get(kubectl: Any, *args: str) -> dict[str, Any]:
    result = kubectl("get", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def wait_for(kubectl: Any, name: str, check: Callable[[dict[str, Any]], bool], timeout_s: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _get(kubectl, "kca", name)
        if check(body):
            return body
        time.sleep(0.3)
    raise AssertionError(
        f"Analysis {name} did not get there in {timeout_s} s; status: {json.dumps(body.get('status'), indent=1)}"
    )


def phase_is(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("status", {}).get("phase") == phase


def ready(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == "Ready")


def recs(kubectl: Any, analysis: str) -> list[dict[str, Any]]:
    return list(_get(kubectl, "rec", "-n", NAMESPACE, "-l", f"kcost.dev/analysis={analysis}")["items"])


def delete_analysis(kubectl: Any, name: str) -> None:
    kubectl("delete", "kca", name, "--ignore-not-found", "--timeout=30s")


def test_analysis_goes_from_pending_to_succeeded(workloads: list[str], kubectl: Any, spawn: Any) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    assert kubectl("apply", "-f", "-", input_text=_analysis("ok-run")).returncode == 0
    body = wait_for(kubectl, "ok-run", phase_is("Succeeded"))
    status = body["status"]
    assert status["runId"]
    assert status["windowStart"] < status["windowEnd"]
    assert ready(body)["status"] == "True"
    assert ready(body)["observedGeneration"] == 1
    complete = next(c for c in status["conditions"] if c["type"] == "FixtureComplete")
    assert complete["status"] == "True"
    assert status["analyzers"]["fixture"]["runId"] == status["runId"]
    assert status["summary"]["recommendations"] == len(workloads)
    assert status["summary"]["recommendationsByType"] == {"right-sizing": len(workloads)}
    found = recs(kubectl, "ok-run")
    assert sorted(r["metadata"]["name"] for r in found) == sorted(f"deployment-{w}-right-sizing" for w in workloads)
    for rec in found:
        owner = rec["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Analysis", "ok-run", body["metadata"]["uid"])
        assert rec["status"]["phase"] == "Proposed"
        assert rec["status"]["lastSeenRunId"] == status["runId"]
        assert not [f for f in rec["metadata"].get("finalizers", []) if not f.startswith("kcost.dev/")]
    events = _get(kubectl, "events", "-n", "default", "--field-selector", "involvedObject.name=ok-run")["items"]
    assert {"AnalysisStarted", "AnalysisSucceeded"} <= {e["reason"] for e in events}
    annotations = body["metadata"].get("annotations", {})
    assert annotations, "kopf keeps its state in annotations"
    assert all(not key.startswith("kopf.zalando.org") for key in annotations), (
        "kopf state must use the kcost.dev/ prefix"
    )

    # A spec change re-runs in place: the same objects are updated, none piles up.
    first_run = status["runId"]
    kubectl("patch", "kca", "ok-run", "--type=merge", "-p", json.dumps({"spec": {"window": "7d"}}))
    kubectl("delete", "deployment", "worker", "-n", NAMESPACE)
    rerun = wait_for(kubectl, "ok-run", lambda b: phase_is("Succeeded")(b) and b["status"]["runId"] != first_run)
    assert rerun["status"]["pastRuns"][0]["runId"] == first_run
    again = {r["metadata"]["name"]: r for r in recs(kubectl, "ok-run")}
    assert len(again) == len(workloads), "a re-run never duplicates recommendations"
    assert again["deployment-worker-right-sizing"]["status"]["phase"] == "Expired"
    assert again["deployment-api-right-sizing"]["status"]["lastSeenRunId"] == rerun["status"]["runId"]
    kubectl("apply", "-f", "-", input_text=_deployment("worker", "250m"))
    delete_analysis(kubectl, "ok-run")


def test_missing_profile_keeps_it_pending_with_a_reason(workloads: list[str], kubectl: Any, spawn: Any) -> None:
    spawn("operator", "operator")
    kubectl("apply", "-f", "-", input_text=_analysis("no-profile", profile="does-not-exist"))
    body = wait_for(kubectl, "no-profile", lambda b: b.get("status", {}).get("conditions"))
    assert body["status"]["phase"] == "Pending"
    assert ready(body)["reason"] == "ProfileNotFound"
    assert "ClusterCostProfile 'does-not-exist' not found" in ready(body)["message"]
    delete_analysis(kubectl, "no-profile")


@pytest.mark.parametrize(
    ("mode", "reason", "message"),
    [
        ("fail", "AnalyzerFailed", "analyzer fixture failed: Prometheus at http://127.0.0.1:1 did not answer"),
        ("crash", "AnalyzerFailed", "RuntimeError: unexpected failure inside the analyzer"),
    ],
)
def test_analyzer_failure_fails_the_run_with_its_reason(
    workloads: list[str], kubectl: Any, spawn: Any, mode: str, reason: str, message: str
) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    name = f"fails-{mode}"
    kubectl("apply", "-f", "-", input_text=_analysis(name, {"mode": mode}))
    body = wait_for(kubectl, name, phase_is("Failed"))
    assert ready(body)["reason"] == reason
    assert message in ready(body)["message"]
    assert body["status"]["analyzers"]["fixture"]["phase"] == "Failed"
    assert recs(kubectl, name) == [], "no recommendation from a failed run"
    delete_analysis(kubectl, name)


def test_timeouts_say_which_analyzer_and_why(workloads: list[str], kubectl: Any, spawn: Any) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    kubectl("apply", "-f", "-", input_text=_analysis("hangs", {"mode": "hang"}, timeout="4s"))
    kubectl("apply", "-f", "-", input_text=_analysis("ghost", timeout="3s", analyzer="ghost"))
    hung = wait_for(kubectl, "hangs", phase_is("Failed"))
    assert ready(hung)["reason"] == "Timeout"
    assert "analyzers did not finish within 4s: fixture still running (last heartbeat" in ready(hung)["message"]
    ghost = wait_for(kubectl, "ghost", phase_is("Failed"))
    assert "ghost never started (is the kcost analyzer 'ghost' running?)" in ready(ghost)["message"]
    for name in ("hangs", "ghost"):
        delete_analysis(kubectl, name)


def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(workloads: list[str], kubectl: Any, spawn: Any) -> None:
    operator = spawn("operator", "operator")
    analyzer = spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    kubectl("apply", "-f", "-", input_text=_analysis("crashy", {"delaySeconds": 3}))
    running = wait_for(
        kubectl,
        "crashy",
        lambda b: b.get("status", {}).get("analyzers", {}).get("fixture", {}).get("phase") == "Running",
    )
    run_id = running["status"]["runId"]
    operator.kill()
    analyzer.kill()
    # A new analyzer takes over once the dead one's heartbeat is stale; a new operator resumes.
    spawn("analyzer-2", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    spawn("operator-2", "operator")
    done = wait_for(kubectl, "crashy", phase_is("Succeeded"), timeout_s=60)
    assert done["status"]["runId"] == run_id, "the run survived the crash"
    assert done["status"]["startedAt"] == running["status"]["startedAt"]
    assert done["status"]["analyzers"]["fixture"]["claimedBy"] != running["status"]["analyzers"]["fixture"]["claimedBy"]
    found = recs(kubectl, "crashy")
    assert len(found) == len(workloads)
    assert len({r["metadata"]["name"] for r in found}) == len(found)
    delete_analysis(kubectl, "crashy")


def test_only_one_of_two_replicas_acts_and_the_other_takes_over(workloads: list[str], kubectl: Any, spawn: Any) -> None:
    env = {"KCOST_PEERING_LIFETIME_SECONDS": "6"}
    high = spawn("operator-high", "operator", env={**env, "KCOST_PRIORITY": "200"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the second replica starts once the first has announced itself
        found = kubectl("get", "clusterkopfpeering", "kcost", "-o", "json")
        peers = (json.loads(found.stdout).get("status") or {}).values() if found.returncode == 0 else []
        if any(isinstance(p, dict) and p.get("priority") == 200 for p in peers):
            break
        time.sleep(0.3)
    low = spawn("operator-low", "operator", env={**env, "KCOST_PRIORITY": "100"})
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    time.sleep(3)
    kubectl("apply", "-f", "-", input_text=_analysis("peered"))
    wait_for(kubectl, "peered", phase_is("Succeeded"))
    assert "reconcile-analyses" not in low.output(), "the paused replica must not handle anything"
    assert "reconcile-analyses" in high.output()
    peering = _get(kubectl, "clusterkopfpeering", "kcost")
    assert len(peering.get("status", {})) >= 2, "both replicas announce themselves"

    high.kill()
    kubectl("apply", "-f", "-", input_text=_analysis("after-failover"))
    wait_for(kubectl, "after-failover", phase_is("Succeeded"), timeout_s=60)
    assert "reconcile-analyses" in low.output()
    for name in ("peered", "after-failover"):
        delete_analysis(kubectl, name)


def _conditions(kubectl: Any, name: str) -> dict[str, dict[str, Any]]:
    body = _get(kubectl, "ccp", name)
    return {c["type"]: c for c in body.get("status", {}).get("conditions", [])}


def test_profiles_report_metrics_and_pricing(
    workloads: list[str], kubectl: Any, spawn: Any, prometheus: Any, smoke_end_s: int
) -> None:
    live = PROFILE.replace("name: e2e}", "name: e2e-live}").replace("http://127.0.0.1:1", prometheus.url)
    assert kubectl("apply", "-f", "-", input_text=live).returncode == 0
    spawn("operator", "operator")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        down, up = _conditions(kubectl, "e2e"), _conditions(kubectl, "e2e-live")
        if "Ready" in down and "Ready" in up:
            break
        time.sleep(0.5)
    assert down["MetricsReady"]["status"] == "False"
    assert down["MetricsReady"]["reason"] == "PrometheusUnreachable"
    assert "spec.prometheus.url: http://127.0.0.1:1" in down["MetricsReady"]["message"]
    assert down["Ready"]["status"] == "False"
    assert down["Ready"]["reason"] == "MetricsNotReady"
    assert up["MetricsReady"]["status"] == "True", up["MetricsReady"]["message"]
    # Pricing is the cost analyzer's part (see test_cost); without it the profile says what is missing.
    assert up["Ready"]["status"] == "False"
    assert up["Ready"]["reason"] == "PricingNotReady"
    assert "is the kcost cost analyzer running?" in up["Ready"]["message"]
    kubectl("delete", "ccp", "e2e-live", "--timeout=30s")
