"""The follow-up of an applied change: after its verify window, what it really saved, and whether anything regressed.

When a recommendation reaches Applied, its verify window starts (the governing
policy's ``verifyWindow``, 7 days by default, after ``status.appliedAt``). Once it has
passed, the same length of time before the rollout began and the window after the
change are read from the profile's Prometheus
(``workloads.load_namespace``, the analyzers' own loader: CPU rate and memory peak
per step, OOM kills) and priced at the cluster's node prices (``unit_rates.rates_for``,
the cost analyzer's pricing): ``realized.monthlySavingsUsd`` and the estimate's error.
A regression (OOM kills, more restarts, more CPU throttling) sets the
``SavingsRealized`` condition False with an Event, and a change approved by a policy
(``approvedBy: policy/…``) is rolled back through the controller's rollback path.

One writer: ``status.realized`` and the ``SavingsRealized`` condition belong to this
module alone, applied with its own field manager ``kcost-verify`` (the operator's
``kcost-operator`` manager never sends them, so neither drops the other's fields).
Its state costs no write of its own: Applied with no ``status.realized`` yet is "being
verified", due at ``appliedAt`` + the window, so a restarted operator resumes from the
status alone.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from kcost.analyzers.cost.unit_rates import ClusterRates
from kcost.analyzers.metrics import workloads
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.api.v1alpha1.common import Conditions, ConditionStatus, parse_duration
from kcost.api.v1alpha1.recommendation import (
    REALIZED_MEASURED,
    REALIZED_NOT_MEASURED,
    REALIZED_REGRESSION,
    SAVINGS_REALIZED_CONDITION,
    OptimizationRecommendation,
    RealizedSavings,
)
from kcost.history.models import RealizedSavingsRecord
from kcost.kube.client import KubeClient
from kcost.operator.rollout import realized

FIELD_MANAGER = "kcost-verify"
DEFAULT_VERIFY_WINDOW = "7d"
# Usage is sampled at this step at least (coarser for long windows, see ``QueryPlan``).
RESOLUTION = datetime.timedelta(seconds=60)
# A long window is waited for in pieces: the queue holds no timer days ahead.
MAX_WAIT_S = 3600.0
POLICY_PREFIX = "policy/"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The measurement to record, the condition and Event that say it, and whether to roll the change back."""

    realized: RealizedSavings
    status: ConditionStatus
    reason: str
    message: str
    event_type: str = "Normal"
    roll_back: bool = False


def wait_s(due: datetime.datetime, now: datetime.datetime) -> float:
    """How long until the measurement is due (0 when it is), at most ``MAX_WAIT_S``."""
    return min(MAX_WAIT_S, max(0.0, (due - now).total_seconds()))


def windows(
    rec: OptimizationRecommendation, applied_at: datetime.datetime, window: str
) -> tuple[tuple[datetime.datetime, datetime.datetime], tuple[datetime.datetime, datetime.datetime]]:
    """(start, end) before the rollout began, and after the change: each as long as the verify window."""
    span = parse_duration(window)
    rollout = rec.status.rollout
    changed_at = rollout.started_at if rollout is not None and rollout.started_at is not None else applied_at
    return (changed_at - span, changed_at), (applied_at, applied_at + span)


async def window_usage(
    prometheus: PrometheusClient, rec: OptimizationRecommendation, start: datetime.datetime, end: datetime.datetime
) -> realized.WindowUsage:
    """The workload's usage, OOM kills, restarts and CPU throttling between ``start`` and ``end``."""
    target = rec.spec.target_ref
    namespace = rec.namespace or "default"
    workload = workloads.Workload(kind=target.kind, namespace=namespace, name=target.name, replicas=1)
    plan = workloads.QueryPlan.for_window(start, end, RESOLUTION)
    await workloads.load_namespace(prometheus, namespace, [workload], plan, traffic=False)
    containers = {}
    for name, series in workload.containers.items():
        _, cpu_cores, memory_bytes = series.arrays()
        containers[name] = realized.ContainerUsage(cpu_cores=cpu_cores, memory_bytes=memory_bytes)
    pods = workload.pods_seen
    restarts = await _per_pod(
        prometheus, namespace, plan, "kube_pod_container_status_restarts_total", pods, how="delta"
    )
    throttled = await _per_pod(prometheus, namespace, plan, "container_cpu_cfs_throttled_periods_total", pods)
    periods = await _per_pod(prometheus, namespace, plan, "container_cpu_cfs_periods_total", pods)
    return realized.WindowUsage(
        containers=containers,
        nodes=tuple(workload.nodes_seen),
        oom_kills=sum(series.oom_kills for series in workload.containers.values()),
        restarts=round(restarts or 0.0),
        cpu_throttled_percent=throttled / periods * 100 if throttled is not None and periods else None,
    )


async def _per_pod(
    prometheus: PrometheusClient,
    namespace: str,
    plan: workloads.QueryPlan,
    metric: str,
    pods: set[str],
    *,
    how: str = "increase",
) -> float | None:
    """Σ over the workload's ``pods`` of a counter's growth in the window (None: no such series)."""
    selector = f'{metric}{{namespace="{namespace}",container!=""}}'
    window = plan.window
    growth = (
        f"max_over_time({selector}[{window}]) - min_over_time({selector}[{window}])"
        if how == "delta"
        else f"increase({selector}[{window}])"
    )
    answer = await prometheus.query(f"sum by (pod) ({growth})", plan.end_s)
    values = [float(item["value"][1]) for item in answer if item["metric"].get("pod") in pods]
    return sum(values) if values else None


def judge(
    rec: OptimizationRecommendation,
    window: str,
    *,
    applied_at: datetime.datetime,
    before: realized.WindowUsage,
    after: realized.WindowUsage,
    rates: ClusterRates,
    now: datetime.datetime,
) -> Verdict:
    """The measurement from both windows' usage at the cluster's node prices."""
    target = rec.spec.target_ref
    (before_start, before_end), (after_start, after_end) = windows(rec, applied_at, window)
    previous = rec.status.previous
    if previous is None or before.empty or after.empty:
        empty = "before" if before.empty else "after"
        start, end = (before_start, before_end) if before.empty else (after_start, after_end)
        why = (
            "nothing recorded of the workload before the change (status.previous)"
            if previous is None
            else f"Prometheus has no usage of {target.kind} {rec.namespace}/{target.name} {empty} the change "
            f"({start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ})"
        )
        return not_measured(window, why, now)
    applied = (rec.status.rollout.target if rec.status.rollout is not None else None) or rec.spec.changes
    replicas_before = previous.replicas if previous.replicas is not None else 1
    replicas_after = applied.replicas if applied.replicas is not None else replicas_before
    cost_before = realized.monthly_cost(previous, replicas_before, before, rates.monthly_request_cost)
    cost_after = realized.monthly_cost(applied, replicas_after, after, rates.monthly_request_cost)
    savings = cost_before - cost_after
    error = realized.estimate_error_percent(savings, rec.spec.estimated_monthly_savings)
    seen = realized.regressions(before, after)
    measured = RealizedSavings(
        window=window,
        measured_at=now,
        monthly_savings_usd=round(savings, 2),
        monthly_cost_before_usd=round(cost_before, 2),
        monthly_cost_after_usd=round(cost_after, 2),
        estimate_error_percent=round(error, 1) if error is not None else None,
        prices=rates.source[:1024],
        regressions=seen,
    )
    estimate = f" (estimated {rec.spec.estimated_monthly_savings:.2f})"
    summary = f"saves {savings:.2f} USD/month over {window}{estimate}"
    if not seen.found:
        return Verdict(measured, ConditionStatus.TRUE, REALIZED_MEASURED, summary)
    by_policy = (rec.spec.approval.approved_by or "").startswith(POLICY_PREFIX)
    message = f"regression after the change: {'; '.join(seen.found)}; {summary}"
    if by_policy:
        message += f"; rolling back (approved by {rec.spec.approval.approved_by})"
    return Verdict(measured, ConditionStatus.FALSE, REALIZED_REGRESSION, message, "Warning", roll_back=by_policy)


def not_measured(window: str, why: str, now: datetime.datetime) -> Verdict:
    """Nothing to measure with (no Prometheus, no usage): recorded without a value, saying what to fix."""
    done = RealizedSavings(window=window, measured_at=now, message=why[:1024])
    return Verdict(done, ConditionStatus.UNKNOWN, REALIZED_NOT_MEASURED, f"not measured: {why}")


async def write(kube: KubeClient, rec: OptimizationRecommendation, verdict: Verdict) -> OptimizationRecommendation:
    """Apply ``status.realized`` and the ``SavingsRealized`` condition as ``kcost-verify``; the object written."""
    conditions = Conditions.set(
        rec.status.conditions,
        SAVINGS_REALIZED_CONDITION,
        verdict.status,
        verdict.reason,
        verdict.message,
        generation=rec.generation,
    )
    mine = [c.to_api() for c in conditions if c.type == SAVINGS_REALIZED_CONDITION]
    body: dict[str, Any] = {
        "metadata": {"name": rec.name, "namespace": rec.namespace, "resourceVersion": rec.resource_version},
        "status": {"realized": verdict.realized.to_api(), "conditions": mine},
    }
    written = await kube.apply(OptimizationRecommendation, body, field_manager=FIELD_MANAGER, status=True)
    return OptimizationRecommendation.model_validate(written)


def history_row(rec: OptimizationRecommendation, cluster: str, state: RealizedSavings) -> RealizedSavingsRecord | None:
    """The history row of a measurement with a value (None without one)."""
    if state.monthly_savings_usd is None:
        return None
    seen = state.regressions
    return RealizedSavingsRecord(
        cluster=cluster,
        namespace=rec.namespace or "default",
        name=rec.name,
        measured_at=state.measured_at,
        target_kind=rec.spec.target_ref.kind,
        target_name=rec.spec.target_ref.name,
        type=rec.spec.type,
        window_seconds=int(parse_duration(state.window).total_seconds()),
        estimated_monthly_savings_usd=rec.spec.estimated_monthly_savings,
        realized_monthly_savings_usd=state.monthly_savings_usd,
        monthly_cost_before_usd=state.monthly_cost_before_usd or 0.0,
        monthly_cost_after_usd=state.monthly_cost_after_usd or 0.0,
        oom_kills=seen.oom_kills if seen else 0,
        restarts=seen.restarts_after if seen else 0,
        regression=bool(seen and seen.found),
    )
