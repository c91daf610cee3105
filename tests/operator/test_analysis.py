"""Every branch of the Analysis reconcile, as pure steps (no cluster)."""

from __future__ import annotations

import datetime
from typing import Any

from kcost.analyzers import contract
from kcost.api.v1alpha1.analysis import Analysis, AnalysisPhase, AnalyzerPhase, AnalyzerStatus
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, StaleMark
from kcost.operator import analysis as reconcile

T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)


def make(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, generation: int = 1) -> Analysis:
    return Analysis.model_validate(
        {
            "metadata": {"name": "a", "uid": "u1", "generation": generation, "resourceVersion": "7"},
            "spec": {
                "profileRef": {"name": "default"},
                "analyzers": [{"name": "rightsizing"}, {"name": "idle"}],
                **(spec or {}),
            },
            "status": status or {},
        }
    )


def running(**spec: Any) -> Analysis:
    return reconcile.start_run(make(spec), T0).analysis


def with_sections(analysis: Analysis, **phases: AnalyzerPhase) -> Analysis:
    sections = {
        name: AnalyzerStatus(
            phase=phase,
            run_id=analysis.status.run_id,
            started_at=T0,
            heartbeat_time=T0,
            workloads=4,
            scope_monthly_cost=100.0,
            error="boom" if phase is AnalyzerPhase.FAILED else None,
        )
        for name, phase in phases.items()
    }
    status = analysis.status.model_copy(update={"analyzers": sections})
    return analysis.model_copy(update={"status": status})


def test_start_run_freezes_run_window_and_generation() -> None:
    step = reconcile.start_run(make({"window": "7d"}), T0)
    status = step.analysis.status
    assert status.phase is AnalysisPhase.RUNNING
    assert status.window_end == T0
    assert status.window_start == T0 - datetime.timedelta(days=7)
    assert status.run_id
    assert status.run_id.startswith("20261101-120000-")
    assert status.observed_generation == 1
    assert step.changed
    assert [e.reason for e in step.events] == ["AnalysisStarted"]
    ready = status.conditions[0]
    assert (ready.type, ready.status.value, ready.reason) == ("Ready", "False", "Running")
    assert "rightsizing, idle" in ready.message


def test_running_waits_names_who_and_changes_nothing_twice() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.SUCCEEDED)
    step = reconcile.advance_running(analysis, T0 + datetime.timedelta(seconds=5))
    assert not step.sweep
    assert "idle (not claimed yet)" in step.analysis.status.conditions[-1].message
    again = reconcile.advance_running(step.analysis, T0 + datetime.timedelta(seconds=6))
    assert not again.changed, "a second pass over the same state writes nothing"


def test_running_with_a_failed_analyzer_fails_with_its_error() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.FAILED)
    step = reconcile.advance_running(analysis, T0)
    assert step.analysis.status.phase is AnalysisPhase.FAILED
    ready = step.analysis.status.conditions[-1]
    assert (ready.reason, ready.message) == ("AnalyzerFailed", "analyzer idle failed: boom")
    assert step.events[0].type == "Warning"


def test_sections_of_an_older_run_do_not_count() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.FAILED, idle=AnalyzerPhase.SUCCEEDED)
    stale = {name: s.model_copy(update={"run_id": "older"}) for name, s in analysis.status.analyzers.items()}
    analysis = analysis.model_copy(update={"status": analysis.status.model_copy(update={"analyzers": stale})})
    assert reconcile.advance_running(analysis, T0).analysis.status.phase is AnalysisPhase.RUNNING


def test_a_run_is_settled_once_every_analyzer_succeeded_or_one_failed() -> None:
    """What lets the operator end a run on the analyzer's own write instead of its next timer tick."""
    started = running()
    assert not reconcile.analyzers_settled(started)
    assert not reconcile.analyzers_settled(with_sections(started, rightsizing=AnalyzerPhase.SUCCEEDED))
    assert not reconcile.analyzers_settled(
        with_sections(started, rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.RUNNING)
    )
    done = with_sections(started, rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.SUCCEEDED)
    assert reconcile.analyzers_settled(done)
    assert reconcile.advance_running(done, T0).sweep, "settled means the next reconcile ends it"
    failed = with_sections(started, rightsizing=AnalyzerPhase.FAILED)
    assert reconcile.analyzers_settled(failed)
    assert reconcile.advance_running(failed, T0).analysis.status.phase is AnalysisPhase.FAILED
    older = {name: s.model_copy(update={"run_id": "older"}) for name, s in done.status.analyzers.items()}
    assert not reconcile.analyzers_settled(
        done.model_copy(update={"status": done.status.model_copy(update={"analyzers": older})})
    ), "an older run's sections do not settle this one"
    ended = reconcile.finish_succeeded(done, T0, reconcile.summarize(done, [])).analysis
    assert not reconcile.analyzers_settled(ended), "a finished run is not ended again"


def test_timeout_explains_each_late_analyzer() -> None:
    analysis = with_sections(running(timeout="10m"), rightsizing=AnalyzerPhase.RUNNING)
    step = reconcile.advance_running(analysis, T0 + datetime.timedelta(minutes=11))
    ready = step.analysis.status.conditions[-1]
    assert ready.reason == "Timeout"
    assert "rightsizing still running (last heartbeat 660 s ago" in ready.message
    assert "idle never started (is the kcost analyzer 'idle' running?)" in ready.message


def _rec(
    target: str, *, analyzer: str = "rightsizing", run_id: str | None = None, phase: str | None = "Proposed"
) -> OptimizationRecommendation:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "type": "right-sizing",
        "changes": {},
        "current": {},
        "estimatedMonthlySavings": 12.5,
        "confidence": 0.9,
        "riskLevel": "low",
        "evidence": {"method": "m"},
    }
    if run_id is not None:
        spec["analysisRef"] = {"name": "a", "runId": run_id, "analyzer": analyzer}
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {
                "name": f"deployment-{target}-right-sizing",
                "namespace": "shop",
                "generation": 1,
                "labels": {contract.LABEL_ANALYZER: analyzer},
            },
            "spec": spec,
            "status": {"phase": phase} if phase else {},
        }
    )


def _withdrawing(analysis: Analysis, analyzer: str, *names: str) -> Analysis:
    sections = dict(analysis.status.analyzers)
    sections[analyzer] = sections[analyzer].model_copy(update={"withdrawn": list(names)})
    return analysis.model_copy(update={"status": analysis.status.model_copy(update={"analyzers": sections})})


def test_all_succeeded_asks_for_the_summary_and_finishes() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.SUCCEEDED)
    assert reconcile.advance_running(analysis, T0).sweep
    written = _rec("w", run_id=analysis.status.run_id, phase=None)
    summary = reconcile.summarize(analysis, [written])
    assert (summary.recommendations, summary.potential_monthly_savings) == (1, 12.5)
    assert (summary.current_monthly_cost, summary.optimized_monthly_cost) == (100.0, 87.5)
    step = reconcile.finish_succeeded(analysis, T0, summary)
    assert step.analysis.status.phase is AnalysisPhase.SUCCEEDED
    assert step.analysis.status.conditions[-1].status.value == "True"
    assert step.analysis.status.progress is not None
    assert step.analysis.status.progress.workloads_done == 8


def test_summary_counts_what_the_run_wrote_or_left_unchanged_and_not_what_it_withdrew() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.FAILED)
    analysis = _withdrawing(analysis, "rightsizing", "shop/deployment-gone-right-sizing")
    counted = [
        _rec("new", run_id=analysis.status.run_id, phase=None),
        _rec("again", run_id=analysis.status.run_id, phase="Superseded"),  # proposed again, not moved yet
        _rec("unchanged", run_id="an-older-run"),
    ]
    left_out = [
        _rec("gone", run_id="an-older-run"),  # withdrawn by this run
        _rec("retired", run_id="an-older-run", phase="Superseded"),  # stale since an earlier run
        _rec("applied", run_id="an-older-run", phase="Applied"),
        _rec("other", analyzer="idle", run_id="an-older-run"),  # its analyzer did not succeed
    ]
    summary = reconcile.summarize(analysis, counted + left_out)
    assert summary.recommendations == 3
    assert summary.potential_monthly_savings == 37.5


class SweepKube:
    """Workloads that exist, and the status writes and Events of a sweep."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.applied: list[tuple[dict[str, Any], str]] = []
        self.events: list[str] = []

    async def get_workload(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return {"metadata": {"name": name}} if name in self.existing else None

    async def apply(self, kind: type, body: dict[str, Any], *, field_manager: str, **_: Any) -> dict[str, Any]:
        self.applied.append((body, field_manager))
        return body

    async def event(self, body: dict[str, Any], *, reason: str, **_: Any) -> None:
        self.events.append(reason)


async def test_sweep_marks_only_what_became_stale_and_posts_one_summary_event() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.SUCCEEDED, idle=AnalyzerPhase.SUCCEEDED)
    targets = [f"web-{i}" for i in range(50)]
    recs = [_rec(t, run_id="an-older-run") for t in targets]
    recs.append(_rec("kept", run_id="an-older-run"))
    recs.append(_rec("approved", run_id="an-older-run", phase="Approved"))  # acted on since the run listed it
    analysis = _withdrawing(
        analysis, "rightsizing", *(f"shop/deployment-{t}-right-sizing" for t in [*targets, "approved"])
    )
    kube: Any = SweepKube(set(targets[:30]))
    event = await reconcile._sweep(kube, analysis, recs)
    assert len(kube.applied) == 50, "only the recommendations that became stale are written"
    assert {manager for _, manager in kube.applied} == {reconcile.SWEEP_FIELD_MANAGER}
    assert all(set(body["status"]) == {"stale"} for body, _ in kube.applied), "the mark only, never the phase"
    marks = [body["status"]["stale"] for body, _ in kube.applied]
    reasons = [mark["reason"] for mark in marks]
    assert (reasons.count("NoLongerQualifies"), reasons.count("TargetGone")) == (30, 20)
    assert {mark["proposedInRunId"] for mark in marks} == {"an-older-run"}
    assert kube.events == [], "no Event per recommendation"
    assert event is not None
    assert event.reason == reconcile.RECOMMENDATIONS_RETIRED
    assert "30 recommendations superseded" in event.message
    assert "20 expired" in event.message

    # Marked ones are stale already: a retry of the sweep writes nothing and says nothing.
    marked = [
        rec.model_copy(
            update={
                "status": rec.status.model_copy(update={"stale": StaleMark.model_validate(body["status"]["stale"])})
            }
        )
        for rec, (body, _) in zip(recs, kube.applied, strict=False)
    ]
    kube.applied.clear()
    assert await reconcile._sweep(kube, analysis, marked) is None
    assert kube.applied == []


def test_finished_runs_rerun_on_spec_change_and_schedule_and_expire_by_ttl() -> None:
    done = with_sections(running(), rightsizing=AnalyzerPhase.FAILED)
    done = reconcile.advance_running(done, T0).analysis
    assert reconcile.plan_idle(done, T0 + datetime.timedelta(hours=1)).changed is False
    edited = done.model_copy(update={"metadata": {**done.metadata, "generation": 2}})
    rerun = reconcile.plan_idle(edited, T0)
    assert rerun.analysis.status.phase is AnalysisPhase.RUNNING
    assert rerun.analysis.status.past_runs[0].run_id == done.status.run_id
    assert rerun.analysis.status.past_runs[0].reason == "AnalyzerFailed"

    scheduled = with_sections(running(schedule="0 2 * * *"), rightsizing=AnalyzerPhase.FAILED)
    scheduled = reconcile.advance_running(scheduled, T0).analysis
    assert scheduled.status.next_run_at == datetime.datetime(2026, 11, 2, 2, 0, tzinfo=datetime.UTC)
    assert reconcile.plan_idle(scheduled, T0 + datetime.timedelta(hours=1)).changed is False
    assert (
        reconcile.plan_idle(scheduled, T0 + datetime.timedelta(hours=15)).analysis.status.phase is AnalysisPhase.RUNNING
    )
    suspended = scheduled.model_copy(update={"spec": scheduled.spec.model_copy(update={"suspend": True})})
    assert reconcile.plan_idle(suspended, T0 + datetime.timedelta(hours=15)).changed is False

    ttl = reconcile.advance_running(
        with_sections(running(ttlAfterFinished="1h"), idle=AnalyzerPhase.FAILED), T0
    ).analysis
    assert not reconcile.plan_idle(ttl, T0 + datetime.timedelta(minutes=30)).delete
    assert reconcile.plan_idle(ttl, T0 + datetime.timedelta(minutes=61)).delete


def test_operator_part_leaves_analyzer_sections_alone() -> None:
    analysis = with_sections(running(), rightsizing=AnalyzerPhase.RUNNING)
    part = reconcile.operator_part(analysis)
    assert "analyzers" not in part
    assert [c["type"] for c in part["conditions"]] == ["Ready"]
    assert part["runId"] == analysis.status.run_id


def test_contract_finds_work_only_for_the_current_run() -> None:
    now = T0 + datetime.timedelta(seconds=30)
    stale_after = datetime.timedelta(seconds=60)
    assert not contract.needs_work(make(), "rightsizing", now, stale_after), "not running yet"
    analysis = running()
    assert contract.needs_work(analysis, "rightsizing", now, stale_after)
    assert not contract.needs_work(analysis, "fixture", now, stale_after), "not enabled"
    claimed = with_sections(analysis, rightsizing=AnalyzerPhase.RUNNING)
    assert not contract.needs_work(claimed, "rightsizing", now, stale_after)
    assert contract.needs_work(claimed, "rightsizing", T0 + datetime.timedelta(minutes=5), stale_after), "claimant died"
    finished = with_sections(analysis, rightsizing=AnalyzerPhase.SUCCEEDED)
    assert not contract.needs_work(finished, "rightsizing", now, stale_after)
    older = finished.model_copy(update={"status": finished.status.model_copy(update={"run_id": "next-run"})})
    assert contract.needs_work(older, "rightsizing", now, stale_after), "a new run needs new work"


def test_scope_resolution() -> None:
    namespaces = [
        {"metadata": {"name": n, "labels": labels}}
        for n, labels in (("kube-system", {}), ("shop", {"env": "prod"}), ("dev", {"env": "dev"}))
    ]
    assert contract.resolve_namespaces(make(), namespaces) == ["dev", "shop"]
    assert contract.resolve_namespaces(make({"namespaces": ["dev", "gone"]}), namespaces) == ["dev"]
    selected = make({"namespaceSelector": {"matchLabels": {"env": "prod"}}, "namespaces": ["kube-system"]})
    assert contract.resolve_namespaces(selected, namespaces) == ["kube-system", "shop"]
