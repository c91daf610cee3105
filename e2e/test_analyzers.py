"""The rightsizing and idle analyzers on the smoke scenario: real Prometheus history, real workloads."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from e2e.conftest import Prometheus, custom_profile
from e2e.prometheus_proxy import FaultyProxy
from kcost.api.v1alpha1.common import parse_quantity
from kcost.devcluster.cluster import DevCluster

PROFILE = "e2e-smoke"


def _apply(kubectl: Any, document: dict[str, Any]) -> None:
    result = kubectl("apply", "-f", "-", input_text=json.dumps(document))
    assert result.returncode == 0, result.stderr


def _analysis(name: str, profile: str) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {
            "profileRef": {"name": profile},
            "namespaces": ["shop", "jobs", "sandbox"],
            "window": "3d",
            "resolution": "1m",
            "timeout": "3m",
            "analyzers": [{"name": "rightsizing"}, {"name": "idle", "settings": {"minDays": 1}}],
        },
    }


def _wait(kubectl: Any, name: str, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = json.loads(kubectl("get", "kca", name, "-o", "json").stdout)
        if (body.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{name} did not finish: {json.dumps(body.get('status'), indent=1)}")


def _recs(kubectl: Any, analysis: str) -> dict[str, dict[str, Any]]:
    items = json.loads(kubectl("get", "rec", "-A", "-l", f"kcost.dev/analysis={analysis}", "-o", "json").stdout)[
        "items"
    ]
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in items}


def _container(rec: dict[str, Any], part: str) -> dict[str, Any]:
    return dict(rec["spec"][part]["containers"][0])


@pytest.fixture
def analyzers(kcost_crds: DevCluster, kubectl: Any, spawn: Any, prometheus: Prometheus, smoke_end_s: int) -> Any:
    _apply(kubectl, custom_profile(PROFILE, prometheus.url))
    operator = spawn("operator", "operator")
    started = [spawn(name, "analyzer", name) for name in ("rightsizing", "idle")]
    # The tests' deadlines are for the runs, not for the processes' start on a loaded machine.
    for analyzer in started:
        analyzer.wait_logged(f"analyzer {analyzer.name} started as")
    operator.wait_logged("Activity 'configure' succeeded")
    yield
    kubectl("delete", "ccp", PROFILE, "--timeout=30s")


def test_recommendations_have_the_right_direction_and_evidence(analyzers: Any, kubectl: Any) -> None:
    _apply(kubectl, _analysis("smoke-analysis", PROFILE))
    body = _wait(kubectl, "smoke-analysis")
    assert body["status"]["phase"] == "Succeeded", body["status"]
    recs = _recs(kubectl, "smoke-analysis")

    web = recs["shop/deployment-web-right-sizing"]  # 0.5 cores requested, ~0.1 used, steady
    new_cpu = parse_quantity(_container(web, "changes")["requests"]["cpu"])
    assert 0.1 <= new_cpu <= 0.25, "an over-provisioned steady service shrinks, with headroom"
    assert web["spec"]["estimatedMonthlySavings"] > 0
    evidence = web["spec"]["evidence"]
    assert evidence["sampleCount"] > 1000
    assert evidence["containers"][0]["cpuCores"]["p95"] == pytest.approx(0.1, rel=0.3)
    assert evidence["windowStart"]
    assert evidence["method"].startswith("kcost")
    # Priced at the unit rates of the nodes it ran on (the profile's custom rates, split per node).
    assert evidence["notes"][0].startswith("savings priced at node prices:")
    current, changed = _container(web, "current")["requests"], _container(web, "changes")["requests"]
    replicas = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)["spec"]["replicas"]
    freed_cores = parse_quantity(current["cpu"]) - parse_quantity(changed["cpu"])
    freed_gib = (parse_quantity(current["memory"]) - parse_quantity(changed["memory"])) / 2**30
    expected = (freed_cores * 0.03 + freed_gib * 0.004) * 730 * replicas
    assert web["spec"]["estimatedMonthlySavings"] == pytest.approx(expected, rel=0.05)

    leaky = recs["jobs/deployment-leaky-right-sizing"]  # leaks into its 512Mi limit and is OOM-killed
    limit = parse_quantity(_container(leaky, "changes")["limits"]["memory"])
    assert limit > 512 * 2**20, "a leaking, OOM-killed container gets more memory"
    assert leaky["spec"]["evidence"]["containers"][0]["oomEvents"] >= 2
    assert leaky["spec"]["riskLevel"] == "high"

    api = recs.get("shop/deployment-api-right-sizing")  # scaled by an HPA on CPU
    if api is not None:
        assert _container(api, "changes")["requests"]["cpu"] == _container(api, "current")["requests"]["cpu"]
        assert api["spec"]["changes"].get("replicas") is None, "no replica advice for an HPA-scaled workload"
    assert not any(r["spec"]["type"] == "idle-workload" and "api" in name for name, r in recs.items())

    idle = recs["sandbox/deployment-old-prototype-idle-workload"]  # no CPU, no traffic
    assert idle["spec"]["changes"]["replicas"] == 0
    assert idle["spec"]["riskLevel"] == "low"
    assert idle["spec"]["evidence"]["networkBytesPerSecond"] == 0
    assert "shop/deployment-web-idle-workload" not in recs, "a busy service is not idle"
    summary = body["status"]["summary"]
    assert summary["recommendationsByType"]["idle-workload"] >= 1
    # Every request to Prometheus is counted, series lookups included, and split by endpoint.
    rightsizing = body["status"]["analyzers"]["rightsizing"]
    by_endpoint = rightsizing["prometheusRequestsByEndpoint"]
    assert set(by_endpoint) >= {"query_range", "series"}
    assert rightsizing["prometheusRequests"] == sum(by_endpoint.values())
    assert summary["potentialMonthlySavings"] > 0


def test_class_aware_sizing_puts_each_containers_class_in_the_evidence(analyzers: Any, kubectl: Any) -> None:
    analysis = _analysis("smoke-classes", PROFILE)
    analysis["spec"]["namespaces"] = ["shop", "jobs"]
    analysis["spec"]["analyzers"] = [{"name": "rightsizing", "settings": {"classAware": True}}]
    _apply(kubectl, analysis)
    body = _wait(kubectl, "smoke-classes", timeout_s=300)  # the analyzer starts slowly on a loaded machine
    assert body["status"]["phase"] == "Succeeded", body["status"]
    recs = _recs(kubectl, "smoke-classes")

    leaky = recs["jobs/deployment-leaky-right-sizing"]["spec"]  # memory grows until it is OOM-killed
    assert leaky["evidence"]["workloadClass"] == "leaking"
    assert leaky["evidence"]["containers"][0]["workloadClass"] == "leaking"
    assert leaky["riskLevel"] == "high", "a leak is never low risk, so no policy applies it alone"
    assert any(note.startswith("class leaking") for note in leaky["evidence"]["notes"])
    # Every sized container carries its class, and the workload's is its first container's: web's two steady
    # replicas, read through Prometheus, are steady as the generator made them.
    web = recs["shop/deployment-web-right-sizing"]["spec"]
    assert web["evidence"]["workloadClass"] == "steady", web["evidence"]
    assert web["evidence"]["containers"][0]["workloadClass"] == web["evidence"]["workloadClass"]
    kubectl("delete", "kca", "smoke-classes", "--timeout=60s")


def test_prometheus_down_fails_the_run_and_proposes_nothing(analyzers: Any, kubectl: Any) -> None:
    down = custom_profile("e2e-down", "http://127.0.0.1:1")
    down["spec"]["prometheus"]["timeoutSeconds"] = 2
    _apply(kubectl, down)
    _apply(kubectl, _analysis("no-prometheus", "e2e-down"))
    body = _wait(kubectl, "no-prometheus")
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert body["status"]["phase"] == "Failed"
    assert ready["reason"] == "AnalyzerFailed"
    assert "could not read usage from Prometheus" in ready["message"]
    assert "no recommendation was made" in ready["message"]
    assert _recs(kubectl, "no-prometheus") == {}
    kubectl("delete", "ccp", "e2e-down", "--timeout=30s")


def _run_behind(kubectl: Any, proxy: FaultyProxy, name: str, *, timeout_s: int = 60) -> dict[str, Any]:
    profile = custom_profile(f"e2e-{name}", proxy.url)
    profile["spec"]["prometheus"]["timeoutSeconds"] = 2
    _apply(kubectl, profile)
    analysis = _analysis(name, f"e2e-{name}")
    analysis["spec"]["analyzers"] = [{"name": "rightsizing"}]
    _apply(kubectl, analysis)
    try:
        return _wait(kubectl, name, timeout_s)
    finally:
        kubectl("delete", "ccp", f"e2e-{name}", "--timeout=30s")


def test_prometheus_failing_mid_run_fails_it_with_no_partial_recommendations(
    analyzers: Any, kubectl: Any, prometheus: Prometheus
) -> None:
    # The first namespaces load fine; then every answer is a 503 (retried, then given up).
    proxy = FaultyProxy(prometheus.url, fail_from=12)
    try:
        body = _run_behind(kubectl, proxy, "prometheus-breaks")
    finally:
        proxy.close()
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert body["status"]["phase"] == "Failed"
    assert ready["reason"] == "AnalyzerFailed"
    assert "HTTP 503" in ready["message"]
    assert "no recommendation was made" in ready["message"]
    assert proxy.requests > 11, "some namespaces were loaded before the failure"
    assert proxy.failed >= 3, "a 5xx is retried before the run gives up"
    assert _recs(kubectl, "prometheus-breaks") == {}, "nothing is proposed from the namespaces that did load"


def test_slow_prometheus_fails_the_run_on_the_profile_timeout(
    analyzers: Any, kubectl: Any, prometheus: Prometheus
) -> None:
    proxy = FaultyProxy(prometheus.url, delay_s=5)
    try:
        body = _run_behind(kubectl, proxy, "prometheus-slow", timeout_s=90)
    finally:
        proxy.close()
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert body["status"]["phase"] == "Failed"
    assert "timed out" in ready["message"]
    assert "no recommendation was made" in ready["message"]
    assert _recs(kubectl, "prometheus-slow") == {}
