"""The analyzer's write path: stored recommendations compared with a run's proposals, in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from kcost.analyzers.contract import Proposal, recommendations
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.recommendation import (
    ContainerEvidence,
    ContainerResources,
    Evidence,
    OptimizationRecommendation,
    OptimizationRecommendationSpec,
    RecommendationType,
    ResourceValues,
    RiskLevel,
    TargetRef,
    UsageStats,
    WorkloadShape,
    recommendation_name,
)


def analysis(run_id: str, name: str = "nightly", uid: str = "u1") -> Analysis:
    return Analysis.model_validate(
        {
            "metadata": {"name": name, "uid": uid},
            "spec": {"profileRef": {"name": "default"}, "analyzers": [{"name": "rightsizing"}]},
            "status": {"phase": "Running", "runId": run_id},
        }
    )


def proposal(workload: str, cpu: str = "250m", p95: float = 0.2, window_end: str = "2026-11-01T12:00:00Z") -> Proposal:
    spec = OptimizationRecommendationSpec(
        target_ref=TargetRef(api_version="apps/v1", kind="Deployment", name=workload),
        type=RecommendationType.RIGHT_SIZING,
        current=WorkloadShape(containers=[ContainerResources(name="app", requests=ResourceValues(cpu="500m"))]),
        changes=WorkloadShape(containers=[ContainerResources(name="app", requests=ResourceValues(cpu=cpu))]),
        estimated_monthly_savings=11.53,
        confidence=0.9,
        risk_level=RiskLevel.LOW,
        evidence=Evidence.model_validate(
            {
                "method": "kcost(p95+15%)",
                "windowStart": "2026-10-18T12:00:00Z",
                "windowEnd": window_end,
                "sampleCount": 20160,
                "containers": [ContainerEvidence(name="app", cpu_cores=UsageStats(p95=p95)).to_api()],
            }
        ),
    )
    return Proposal(namespace="shop", spec=spec)


def stored(run: Analysis, made: Proposal, phase: str | None = "Proposed", **status: Any) -> dict[str, Any]:
    """What the API server holds after the run wrote ``made`` (JSON round trip) and the controller moved it."""
    name = recommendation_name("Deployment", made.spec.target_ref.name, "right-sizing")
    body = recommendations.body_of(run, "rightsizing", recommendations.Write(made, name))
    body = json.loads(json.dumps(body))
    body["status"] = {**({"phase": phase} if phase else {}), **status}
    return dict(body)


async def listed(*bodies: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    for body in bodies:
        yield body


async def test_an_unchanged_proposal_is_not_written_again_despite_a_new_window_and_float_noise() -> None:
    first, second = analysis("run-1"), analysis("run-2")
    before = [stored(first, proposal("web")), stored(first, proposal("api"))]
    # The next run: a later window, and a percentile that differs in its 15th digit.
    again = [proposal("web", window_end="2026-11-02T12:00:00Z", p95=0.2 + 1e-15), proposal("api")]
    plan = await recommendations.plan(listed(*before), second, "rightsizing", again)
    assert plan.writes == []
    assert (plan.unchanged, plan.proposed, plan.withdrawn) == (2, 2, [])


def _with_confidence(made: Proposal, confidence: float) -> Proposal:
    spec = made.spec  # a proposal keeps its spec as JSON: a changed copy makes a new proposal
    spec.confidence = confidence
    return Proposal(made.namespace, spec, made.hysteresis)


async def test_evidence_that_moved_with_the_window_is_no_new_proposal() -> None:
    # A window that slid by a few samples moves a percentile and the confidence, not the decision.
    first, second = analysis("run-1"), analysis("run-2")
    before = [stored(first, proposal("web"))]
    slid = _with_confidence(proposal("web", p95=0.2031), 0.9012)
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [slid])
    assert (plan.writes, plan.unchanged) == ([], 1)
    moved = _with_confidence(proposal("web"), 0.8)
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [moved])
    assert [write.name for write in plan.writes] == ["deployment-web-right-sizing"], "a confidence that moved is new"


async def test_new_and_changed_proposals_are_one_write_each_carrying_the_run() -> None:
    first, second = analysis("run-1"), analysis("run-2")
    before = [stored(first, proposal("web")), stored(first, proposal("api"))]
    plan = await recommendations.plan(
        listed(*before), second, "rightsizing", [proposal("web", cpu="200m"), proposal("api"), proposal("new")]
    )
    assert sorted(write.name for write in plan.writes) == ["deployment-new-right-sizing", "deployment-web-right-sizing"]
    assert not any(write.take_over for write in plan.writes)
    assert plan.unchanged == 1
    body = recommendations.body_of(second, "rightsizing", plan.writes[0])
    assert body["spec"]["analysisRef"] == {"name": "nightly", "runId": "run-2", "analyzer": "rightsizing"}
    assert "status" not in body, "analyzers never write a recommendation's status"
    assert "approval" not in body["spec"]


async def test_what_the_run_no_longer_proposes_is_withdrawn_and_acted_on_ones_are_left_alone() -> None:
    first, second = analysis("run-1"), analysis("run-2")
    stale_mark = {"runId": "run-1", "proposedInRunId": "run-1", "reason": "NoLongerQualifies"}
    before = [
        stored(first, proposal("web")),
        stored(first, proposal("gone")),
        stored(first, proposal("approved"), phase="Applied"),
        stored(first, proposal("retired"), phase="Superseded", stale=stale_mark),
        stored(analysis("run-x", name="other", uid="u2"), proposal("foreign")),
    ]
    plan = await recommendations.plan(
        listed(*before), second, "rightsizing", [proposal("web"), proposal("approved"), proposal("retired")]
    )
    assert plan.withdrawn == ["shop/deployment-gone-right-sizing"], "only this Analysis's open proposals"
    assert plan.left_alone == 1
    assert [write.name for write in plan.writes] == ["deployment-retired-right-sizing"], "stale: proposed again"
    assert plan.unchanged == 1


async def test_a_recommendation_of_another_analysis_is_taken_over() -> None:
    other = analysis("run-x", name="other", uid="u2")
    plan = await recommendations.plan(
        listed(stored(other, proposal("web"))), analysis("run-2"), "rightsizing", [proposal("web")]
    )
    assert [(write.name, write.take_over) for write in plan.writes] == [("deployment-web-right-sizing", True)]


class CountingKube:
    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies = bodies
        self.calls: list[str] = []

    def stream_raw(self, kind: type, namespace: str | None = None, **_: Any) -> AsyncIterator[dict[str, Any]]:
        self.calls.append("list")
        return listed(*self.bodies)

    async def apply(self, kind: type, body: dict[str, Any], *, field_manager: str, **_: Any) -> dict[str, Any]:
        self.calls.append(f"apply {body['metadata']['name']} by {field_manager}")
        return body

    async def merge_patch(self, kind: type, name: str, namespace: str | None, patch: dict[str, Any]) -> None:
        self.calls.append(f"patch {name}")


async def test_upsert_all_reads_once_and_writes_only_what_changed() -> None:
    first, second = analysis("run-1"), analysis("run-2")
    kube: Any = CountingKube([stored(first, proposal(f"w{i}")) for i in range(20)])
    made = [proposal(f"w{i}") for i in range(19)] + [proposal("w19", cpu="100m"), proposal("new")]
    plan = await recommendations.upsert_all(kube, second, "rightsizing", made)
    assert kube.calls[0] == "list"
    assert sorted(kube.calls[1:]) == [
        "apply deployment-new-right-sizing by kcost-analyzer-rightsizing",
        "apply deployment-w19-right-sizing by kcost-analyzer-rightsizing",
    ]
    assert (plan.proposed, plan.unchanged) == (21, 19)


def test_the_raw_open_proposal_check_agrees_with_the_model() -> None:
    run = analysis("run-1")
    mark = {"runId": "run-2", "proposedInRunId": "run-1", "reason": "NoLongerQualifies"}
    older_mark = {**mark, "proposedInRunId": "run-0"}
    cases = [
        stored(run, proposal("a")),
        stored(run, proposal("b"), phase=None),
        stored(run, proposal("c"), stale=mark),
        stored(run, proposal("d"), stale=older_mark),
        stored(run, proposal("e"), phase="Superseded", stale=mark),
        stored(run, proposal("f"), phase="Approved"),
    ]
    raw = [recommendations._open_proposal(body) for body in cases]
    assert raw == [OptimizationRecommendation.model_validate(body).open_proposal() for body in cases]
    assert raw == [True, True, False, True, False, False]


async def test_planning_new_proposals_reads_no_spec_back(monkeypatch: Any) -> None:
    # At 10,000 workloads each read-back of a spec from its JSON is ~0.2 ms: plan names them from what they hold.
    made = [proposal("web"), proposal("a-" + "very-long-workload-name-" * 3)]
    reads: list[bytes] = []
    original = OptimizationRecommendationSpec.model_validate_json

    def counted(data: bytes, *args: Any, **kwargs: Any) -> OptimizationRecommendationSpec:
        reads.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(OptimizationRecommendationSpec, "model_validate_json", counted)
    plan = await recommendations.plan(listed(), analysis("run-1"), "rightsizing", made)
    assert reads == []
    assert [write.name for write in plan.writes] == [
        recommendation_name("Deployment", "web", "right-sizing"),
        recommendation_name("Deployment", made[1].spec.target_ref.name, "right-sizing"),
    ]
    assert len(plan.writes[1].name) == 63
