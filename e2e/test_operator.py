"""The operator as a separate process on the real control plane, with an analyzer that implements the contract."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kcost.devcluster.cluster import DevCluster

# Generous: the suite must pass on a machine busy with other work; a poll returns as soon as it can.
DEADLINE_S = 120.0
POLL_S = 0.3
WORKLOADS = {"api": "500m", "web": "1", "worker": "250m"}


def _profile(name: str, prometheus_url: str = "http://127.0.0.1:1") -> str:
    return f"""
apiVersion: optimizer.kcost.dev/v1alpha1
kind: ClusterCostProfile
metadata: {{name: {name}}}
spec:
  provider: onprem
  pricing: {{source: custom, customRates: {{cpuCoreHour: 0.03, memoryGiBHour: 0.004}}}}
  prometheus: {{url: "{prometheus_url}"}}
"""


def _deployment(namespace: str, name: str, cpu: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
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


def poll(what: str, check: Callable[[], Any], timeout_s: float = DEADLINE_S) -> Any:
    """``check()``'s first truthy answer; fails naming ``what`` and the last answer after the deadline."""
    deadline = time.monotonic() + timeout_s
    answer = check()
    while not answer:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not there after {timeout_s} s; last seen: {answer!r}")
        time.sleep(POLL_S)
        answer = check()
    return answer


@dataclass
class Scope:
    """One test's own objects: a namespace with three Deployments, a profile, its analyses."""

    kubectl: Any
    suffix: str
    analyses: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"e2e-op-{self.suffix}"

    @property
    def profile(self) -> str:
        return f"e2e-op-{self.suffix}"

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def analysis(
        self,
        base: str,
        settings: dict[str, Any] | None = None,
        *,
        timeout: str = "2m",
        profile: str | None = None,
        analyzer: str = "fixture",
    ) -> str:
        """Create an Analysis over this scope's namespace; returns its (unique) name."""
        name = self.name(base)
        body = {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": name},
            "spec": {
                "profileRef": {"name": profile or self.profile},
                "namespaces": [self.namespace],
                "timeout": timeout,
                "analyzers": [{"name": analyzer, "settings": settings or {}}],
            },
        }
        self.analyses.append(name)
        applied = self.kubectl("apply", "-f", "-", input_text=json.dumps(body))
        assert applied.returncode == 0, applied.stderr
        return name


@pytest.fixture
def scope(kcost_crds: DevCluster, kubectl: Any) -> Iterator[Scope]:
    own = Scope(kubectl, uuid.uuid4().hex[:6])
    assert kubectl("create", "namespace", own.namespace).returncode == 0
    assert kubectl("apply", "-f", "-", input_text=_profile(own.profile)).returncode == 0
    for name, cpu in WORKLOADS.items():
        applied = kubectl("apply", "-f", "-", input_text=_deployment(own.namespace, name, cpu))
        assert applied.returncode == 0, applied.stderr
    yield own
    # Gone for good before the next test: its analyzers are cluster-wide, and a Running Analysis
    # left behind (kopf's finalizer holds it while no operator runs) would be theirs to work on.
    for name in own.analyses:
        kubectl("delete", "kca", name, "--ignore-not-found", "--wait=false")
        kubectl("patch", "kca", name, "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
        kubectl("wait", "--for=delete", f"kca/{name}", "--timeout=60s")
    kubectl("delete", "ccp", own.profile, "--ignore-not-found", "--wait=false")
    kubectl("delete", "namespace", own.namespace, "--ignore-not-found", "--wait=false")


def _get(kubectl: Any, *args: str) -> dict[str, Any]:
    result = kubectl("get", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def wait_for(
    kubectl: Any, name: str, check: Callable[[dict[str, Any]], bool], timeout_s: float = DEADLINE_S
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        nonlocal last
        last = _get(kubectl, "kca", name)
        return last if check(last) else None

    try:
        return dict(poll(f"Analysis {name}", reached, timeout_s))
    except AssertionError:
        raise AssertionError(
            f"Analysis {name} did not get there in {timeout_s} s; status: {json.dumps(last.get('status'), indent=1)}"
        ) from None


def phase_is(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("status", {}).get("phase") == phase


def ready(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == "Ready")


def recs(kubectl: Any, namespace: str, analysis: str) -> list[dict[str, Any]]:
    return list(_get(kubectl, "rec", "-n", namespace, "-l", f"kcost.dev/analysis={analysis}")["items"])


def proposed(kubectl: Any, namespace: str, analysis: str, count: int) -> list[dict[str, Any]] | None:
    """The Analysis's recommendations once ``count`` of them are Proposed (born so: the schema's default)."""
    found = recs(kubectl, namespace, analysis)
    done = [r for r in found if (r.get("status") or {}).get("phase") == "Proposed"]
    return found if len(done) == count else None


def rec_in_phase(kubectl: Any, scope: Scope, analysis: str, workload: str, phase: str) -> dict[str, Any] | None:
    name = f"deployment-{workload}-right-sizing"
    found = {r["metadata"]["name"]: r for r in recs(kubectl, scope.namespace, analysis)}.get(name)
    return found if found is not None and (found.get("status") or {}).get("phase") == phase else None


def event_reasons(kubectl: Any, name: str) -> set[str]:
    """Reasons of the Events about the cluster-scoped object ``name`` (they land in ``default``)."""
    events = _get(kubectl, "events", "-n", "default", "--field-selector", f"involvedObject.name={name}")["items"]
    return {e["reason"] for e in events}


def test_analysis_goes_from_pending_to_succeeded(scope: Scope, kubectl: Any, spawn: Any) -> None:
    operator = spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    name = scope.analysis("ok-run")
    body = wait_for(kubectl, name, phase_is("Succeeded"))
    status = body["status"]
    assert status["runId"]
    assert status["windowStart"] < status["windowEnd"]
    assert ready(body)["status"] == "True"
    assert ready(body)["observedGeneration"] == 1
    complete = next(c for c in status["conditions"] if c["type"] == "FixtureComplete")
    assert complete["status"] == "True"
    assert status["analyzers"]["fixture"]["runId"] == status["runId"]
    assert status["summary"]["recommendations"] == len(WORKLOADS)
    assert status["summary"]["recommendationsByType"] == {"right-sizing": len(WORKLOADS)}
    found = poll("three Proposed recommendations", lambda: proposed(kubectl, scope.namespace, name, len(WORKLOADS)))
    assert sorted(r["metadata"]["name"] for r in found) == sorted(f"deployment-{w}-right-sizing" for w in WORKLOADS)
    for rec in found:
        owner = rec["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Analysis", name, body["metadata"]["uid"])
        assert rec["spec"]["analysisRef"]["runId"] == status["runId"]
        assert not [f for f in rec["metadata"].get("finalizers", []) if not f.startswith("kcost.dev/")]
    # Events follow the status write: wait for them rather than expect them at once.
    poll(
        "AnalysisStarted and AnalysisSucceeded events",
        lambda: {"AnalysisStarted", "AnalysisSucceeded"} <= event_reasons(kubectl, name),
    )
    annotations = body["metadata"].get("annotations", {})
    assert annotations, "kopf keeps its state in annotations"
    assert all(not key.startswith("kopf.zalando.org") for key in annotations), (
        "kopf state must use the kcost.dev/ prefix"
    )

    # A spec change re-runs in place: the same objects are updated, none piles up. The workload
    # is gone before the spec changes, so the re-run cannot see it (kubectl delete waits).
    first_run = status["runId"]
    assert kubectl("delete", "deployment", "worker", "-n", scope.namespace).returncode == 0
    kubectl("patch", "kca", name, "--type=merge", "-p", json.dumps({"spec": {"window": "7d"}}))
    rerun = wait_for(kubectl, name, lambda b: phase_is("Succeeded")(b) and b["status"]["runId"] != first_run)
    assert rerun["status"]["pastRuns"][0]["runId"] == first_run
    worker = poll(
        "the gone workload's recommendation Expired", lambda: rec_in_phase(kubectl, scope, name, "worker", "Expired")
    )
    assert ready(worker)["reason"] == "TargetGone"
    again = {r["metadata"]["name"]: r for r in recs(kubectl, scope.namespace, name)}
    assert len(again) == len(WORKLOADS), "a re-run never duplicates recommendations"
    assert rerun["status"]["summary"]["recommendations"] == len(WORKLOADS) - 1
    # One Event on the Analysis counts what the run retired; none per recommendation.
    poll("the RecommendationsRetired event", lambda: "RecommendationsRetired" in event_reasons(kubectl, name))
    per_object = _get(
        kubectl,
        "events",
        "-n",
        scope.namespace,
        "--field-selector",
        "involvedObject.name=deployment-worker-right-sizing",
    )["items"]
    assert "Expired" not in {e["reason"] for e in per_object}
    # The handlers that run on every watch event (the recommendations', the Analysis's) did, and
    # their successes stay out of the log; a reconcile's success is still there.
    logged = operator.output()
    assert "Handler 'reconcile-analyses' succeeded." in logged
    assert "Handler '_recommendation_event' succeeded." not in logged
    assert "Handler '_analysis_event' succeeded." not in logged


def test_a_run_ends_when_its_analyzer_reports_not_at_the_next_tick(scope: Scope, kubectl: Any, spawn: Any) -> None:
    # No timer tick within the test (the first comes after 30 minutes): only a reaction to
    # the analyzer's status write can end the run.
    spawn("operator", "operator", env={"KCOST_TIMER_SECONDS": "3600"})
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    name = scope.analysis("no-tick")
    body = wait_for(kubectl, name, phase_is("Succeeded"))
    assert body["status"]["summary"]["recommendations"] == len(WORKLOADS)
    assert ready(body)["status"] == "True"
    # The same for a run that a spec change starts, and ended once: one AnalysisSucceeded Event per run.
    first_run = body["status"]["runId"]
    kubectl("patch", "kca", name, "--type=merge", "-p", json.dumps({"spec": {"window": "7d"}}))
    rerun = wait_for(kubectl, name, lambda b: phase_is("Succeeded")(b) and b["status"]["runId"] != first_run)
    assert rerun["status"]["pastRuns"][0]["runId"] == first_run
    succeeded = poll("two AnalysisSucceeded events", lambda: (n := _succeeded_events(kubectl, name)) >= 2 and n)
    assert succeeded == 2, "each run ends once"


def _succeeded_events(kubectl: Any, name: str) -> int:
    events = _get(kubectl, "events", "-n", "default", "--field-selector", f"involvedObject.name={name}")["items"]
    return sum(int(e.get("count") or 1) for e in events if e["reason"] == "AnalysisSucceeded")


def test_missing_profile_keeps_it_pending_with_a_reason(scope: Scope, kubectl: Any, spawn: Any) -> None:
    spawn("operator", "operator")
    missing = scope.name("does-not-exist")
    name = scope.analysis("no-profile", profile=missing)
    body = wait_for(kubectl, name, lambda b: b.get("status", {}).get("conditions"))
    assert body["status"]["phase"] == "Pending"
    assert ready(body)["reason"] == "ProfileNotFound"
    assert f"ClusterCostProfile '{missing}' not found" in ready(body)["message"]


@pytest.mark.parametrize(
    ("mode", "reason", "message"),
    [
        ("fail", "AnalyzerFailed", "analyzer fixture failed: Prometheus at http://127.0.0.1:1 did not answer"),
        ("crash", "AnalyzerFailed", "RuntimeError: unexpected failure inside the analyzer"),
    ],
)
def test_analyzer_failure_fails_the_run_with_its_reason(
    scope: Scope, kubectl: Any, spawn: Any, mode: str, reason: str, message: str
) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    name = scope.analysis(f"fails-{mode}", {"mode": mode})
    body = wait_for(kubectl, name, phase_is("Failed"))
    assert ready(body)["reason"] == reason
    assert message in ready(body)["message"]
    assert body["status"]["analyzers"]["fixture"]["phase"] == "Failed"
    assert recs(kubectl, scope.namespace, name) == [], "no recommendation from a failed run"


def test_timeouts_say_which_analyzer_and_why(scope: Scope, kubectl: Any, spawn: Any) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    # The hanging run times out only once the analyzer is seen running: however slow the
    # machine, the message is about a running analyzer, not one that never started.
    hangs = scope.analysis("hangs", {"mode": "hang"}, timeout="1h")
    ghost = scope.analysis("ghost", timeout="3s", analyzer="ghost")
    wait_for(
        kubectl, hangs, lambda b: b.get("status", {}).get("analyzers", {}).get("fixture", {}).get("phase") == "Running"
    )
    # Suspended too: the changed spec must not start a run of its own once this one has failed.
    kubectl("patch", "kca", hangs, "--type=merge", "-p", json.dumps({"spec": {"timeout": "1s", "suspend": True}}))
    hung = wait_for(kubectl, hangs, phase_is("Failed"))
    assert ready(hung)["reason"] == "Timeout"
    assert "analyzers did not finish within 1s: fixture still running (last heartbeat" in ready(hung)["message"]
    failed = wait_for(kubectl, ghost, phase_is("Failed"))
    assert "ghost never started (is the kcost analyzer 'ghost' running?)" in ready(failed)["message"]


def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(scope: Scope, kubectl: Any, spawn: Any) -> None:
    operator = spawn("operator", "operator")
    # Slow until killed, however long the test takes to see it running.
    analyzer = spawn(
        "analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer", env={"FIXTURE_DELAY_SECONDS": "3600"}
    )
    name = scope.analysis("crashy")
    running = wait_for(
        kubectl,
        name,
        lambda b: b.get("status", {}).get("analyzers", {}).get("fixture", {}).get("phase") == "Running",
    )
    run_id = running["status"]["runId"]
    operator.kill()
    analyzer.kill()
    # A new analyzer takes over once the dead one's heartbeat is stale; a new operator resumes.
    spawn("analyzer-2", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    spawn("operator-2", "operator")
    done = wait_for(kubectl, name, phase_is("Succeeded"))
    assert done["status"]["runId"] == run_id, "the run survived the crash"
    assert done["status"]["startedAt"] == running["status"]["startedAt"]
    assert done["status"]["analyzers"]["fixture"]["claimedBy"] != running["status"]["analyzers"]["fixture"]["claimedBy"]
    found = recs(kubectl, scope.namespace, name)
    assert len(found) == len(WORKLOADS)
    assert len({r["metadata"]["name"] for r in found}) == len(found)


def _managers(rec: dict[str, Any]) -> dict[str, set[str]]:
    """Each field manager's fields under ``status``, e.g. {"kcost-operator": {"f:phase", "f:conditions"}}."""
    owned: dict[str, set[str]] = {}
    for entry in rec["metadata"].get("managedFields", []):
        fields = (entry.get("fieldsV1") or {}).get("f:status") or {}
        owned.setdefault(entry["manager"], set()).update(fields)
    return owned


def test_an_unchanged_rerun_writes_nothing_and_a_dropped_proposal_is_superseded_by_the_controller(
    scope: Scope, kubectl: Any, spawn: Any
) -> None:
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    name = scope.analysis("rerun", {"skip": []})
    first = wait_for(kubectl, name, phase_is("Succeeded"))
    found = poll("three Proposed recommendations", lambda: proposed(kubectl, scope.namespace, name, len(WORKLOADS)))
    versions = {r["metadata"]["name"]: r["metadata"]["resourceVersion"] for r in found}
    # Born Proposed: one write each (the analyzer's), no status written by anybody until it moves.
    for rec in found:
        assert rec["status"] == {"phase": "Proposed"}, rec["status"]
        assert rec["metadata"]["generation"] == 1
        shown = _get(kubectl, "rec", "-n", scope.namespace, rec["metadata"]["name"], "--show-managed-fields")
        assert not any(_managers(shown).values()), "nobody owns a field of a new recommendation's status"

    def rerun(settings: dict[str, Any], after: str) -> dict[str, Any]:
        patch = {"spec": {"analyzers": [{"name": "fixture", "settings": settings}]}}
        assert kubectl("patch", "kca", name, "--type=merge", "-p", json.dumps(patch)).returncode == 0
        return wait_for(kubectl, name, lambda b: phase_is("Succeeded")(b) and b["status"]["runId"] != after)

    # The same proposals again (a later window): nothing is written, by the analyzer or the operator.
    second = rerun({"skip": [], "delaySeconds": 0}, first["status"]["runId"])
    section = second["status"]["analyzers"]["fixture"]
    assert (section["recommendations"], section["recommendationsWritten"]) == (len(WORKLOADS), 0)
    assert second["status"]["summary"]["recommendations"] == len(WORKLOADS)
    again = {r["metadata"]["name"]: r for r in recs(kubectl, scope.namespace, name)}
    assert {n: r["metadata"]["resourceVersion"] for n, r in again.items()} == versions, "no recommendation written"
    assert {r["spec"]["analysisRef"]["runId"] for r in again.values()} == {first["status"]["runId"]}

    # A run that no longer proposes one: the Analysis marks it, the controller supersedes it.
    third = rerun({"skip": ["web"]}, second["status"]["runId"])
    assert third["status"]["analyzers"]["fixture"]["withdrawn"] == [f"{scope.namespace}/deployment-web-right-sizing"]
    web = poll("web's recommendation Superseded", lambda: rec_in_phase(kubectl, scope, name, "web", "Superseded"))
    assert ready(web)["reason"] == "NoLongerQualifies"
    assert web["status"]["stale"]["runId"] == third["status"]["runId"]
    owners = _managers(
        _get(kubectl, "rec", "-n", scope.namespace, "deployment-web-right-sizing", "--show-managed-fields")
    )
    assert {"f:phase", "f:conditions"} <= owners["kcost-operator"], "the controller writes phase and Ready"
    assert owners["kcost-operator-analysis"] == {"f:stale"}, "the Analysis writes only its mark"
    assert not owners.get("kcost-analyzer-fixture"), "the analyzer writes no status"
    assert third["status"]["summary"]["recommendations"] == len(WORKLOADS) - 1
    others = {r["metadata"]["name"]: r["metadata"]["resourceVersion"] for r in recs(kubectl, scope.namespace, name)}
    assert {n: v for n, v in others.items() if n != "deployment-web-right-sizing"} == {
        n: v for n, v in versions.items() if n != "deployment-web-right-sizing"
    }, "only the one that became stale is written"
    # Per recommendation, no Event: the run's one RecommendationsRetired says it.
    poll("the RecommendationsRetired event", lambda: "RecommendationsRetired" in event_reasons(kubectl, name))

    # Proposed again by a later run: the mark no longer applies, the controller re-proposes it.
    rerun({"skip": []}, third["status"]["runId"])
    back = poll("web's recommendation Proposed again", lambda: rec_in_phase(kubectl, scope, name, "web", "Proposed"))
    assert ready(back)["reason"] == "Proposed"


def _peers(kubectl: Any, peering: str) -> dict[str, dict[str, Any]]:
    found = kubectl("get", "clusterkopfpeering", peering, "-o", "json")
    status = (json.loads(found.stdout).get("status") or {}) if found.returncode == 0 else {}
    return {key: peer for key, peer in status.items() if isinstance(peer, dict)}


def _handled(process: Any) -> int:
    """How many times the replica ran an Analysis handler (the log does not name the object)."""
    return int(process.output().count("reconcile-analyses"))


def test_only_one_of_two_replicas_acts_and_the_other_takes_over(scope: Scope, kubectl: Any, spawn: Any) -> None:
    peering = scope.name("peering")
    env = {"KCOST_PEERING_LIFETIME_SECONDS": "6", "KCOST_PEERING_NAME": peering}
    high = spawn("operator-high", "operator", env={**env, "KCOST_PRIORITY": "200"})
    # The second replica starts once the first has announced itself: it starts paused (the
    # peering is mandatory) and stays so while it sees a live replica above it.
    poll(
        "the first replica in the peering",
        lambda: any(p.get("priority") == 200 for p in _peers(kubectl, peering).values()),
    )
    low = spawn("operator-low", "operator", env={**env, "KCOST_PRIORITY": "100"})
    poll(
        "both replicas announce themselves",
        lambda: {100, 200} <= {p.get("priority") for p in _peers(kubectl, peering).values()},
    )
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    handled_while_paused = _handled(low)
    peered = scope.analysis("peered")
    wait_for(kubectl, peered, phase_is("Succeeded"))
    assert _handled(low) == handled_while_paused, "the paused replica must not handle anything"
    assert _handled(high)

    high.kill()
    after = scope.analysis("after-failover")
    wait_for(kubectl, after, phase_is("Succeeded"))
    assert _handled(low) > handled_while_paused


def _conditions(kubectl: Any, name: str) -> dict[str, dict[str, Any]]:
    body = _get(kubectl, "ccp", name)
    return {c["type"]: c for c in body.get("status", {}).get("conditions", [])}


def test_profiles_report_metrics_and_pricing(
    scope: Scope, kubectl: Any, spawn: Any, prometheus: Any, smoke_end_s: int
) -> None:
    live = scope.name("live")
    assert kubectl("apply", "-f", "-", input_text=_profile(live, prometheus.url)).returncode == 0
    try:
        spawn("operator", "operator")
        down, up = poll(
            "Ready on both profiles",
            lambda: (
                (d, u)
                if "Ready" in (d := _conditions(kubectl, scope.profile))
                and "Ready" in (u := _conditions(kubectl, live))
                else None
            ),
        )
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
    finally:
        kubectl("delete", "ccp", live, "--ignore-not-found", "--wait=false")


def test_profile_ready_follows_pricing_without_waiting_for_a_timer(
    scope: Scope, kubectl: Any, spawn: Any, prometheus: Any, smoke_end_s: int, tmp_path: Path
) -> None:
    priced = scope.name("priced")
    assert kubectl("apply", "-f", "-", input_text=_profile(priced, prometheus.url)).returncode == 0
    try:
        # No timer tick within the test: only a reaction to the cost analyzer's write can make Ready follow.
        spawn("operator", "operator", env={"KCOST_TIMER_SECONDS": "3600"})
        before = poll("the first metrics check", lambda: _conditions(kubectl, priced).get("Ready"))
        assert before["reason"] == "PricingNotReady", before
        spawn(
            "cost",
            "analyzer",
            "cost",
            env={"KCOST_COST_INTERVAL_SECONDS": "2", "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"},
        )
        poll(
            "PricingReady from the cost analyzer",
            lambda: _conditions(kubectl, priced).get("PricingReady", {}).get("status") == "True",
        )
        ready = poll(
            "Ready following PricingReady",
            lambda: (r := _conditions(kubectl, priced)["Ready"])["status"] == "True" and r,
            timeout_s=30,
        )
        assert ready["reason"] == "Ready"
    finally:
        kubectl("delete", "ccp", priced, "--ignore-not-found", "--wait=false")
