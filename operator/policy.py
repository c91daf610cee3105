"""Reconcile an OptimizationPolicy: what it governs, with what outcome, when it may act next, and its conflicts.

The status is computed from the cluster each time (level-based): the namespaces the
policy covers, the workloads with recommendations it is the governing policy of (by
the policy engine's own ``matching.governing``, over every policy), their outcomes,
the next maintenance window, and a ``Conflict`` condition naming the policies that are
exactly as specific for some of its workloads. Each policy's reconcile computes its
own conflicts, so both sides of one show it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from typing import Any

from kcost.api import matching
from kcost.api.scope import select_namespaces
from kcost.api.v1alpha1.common import Conditions, ConditionStatus
from kcost.api.v1alpha1.policy import MaintenanceWindow, OptimizationPolicy, OptimizationPolicyStatus, PolicyCounts
from kcost.api.v1alpha1.recommendation import TARGET_RESOURCES, OptimizationRecommendation, RecommendationPhase
from kcost.kube.client import KubeClient, NotFound
from kcost.operator import recommendation as recommendation_io
from kcost.operator import status as status_io
from kcost.webhooks.policy import windows

CONFLICT = "Conflict"
# Reasons: of Conflict (True / False) and of Ready.
EQUAL_SPECIFICITY = "EqualSpecificity"
NO_CONFLICT = "NoConflict"
RESOLVED = "Resolved"
# Up to this many namespaces, their recommendations are listed one namespace at a time;
# beyond, one listing of the whole cluster costs fewer requests.
PER_NAMESPACE_LISTS_UP_TO = 20
WorkloadKey = tuple[str, str, str]  # kind, namespace, name


@dataclasses.dataclass(frozen=True)
class Assessment:
    """What a policy governs, and the equally specific policies it shares workloads or namespaces with."""

    governed_workloads: int
    counts: PolicyCounts
    # Rival policy name → one thing both cover (a workload, or a namespace without recommendations).
    rivals: dict[str, str]


def operator_part(policy: OptimizationPolicy) -> dict[str, Any]:
    part = policy.status.to_api()
    part["conditions"] = status_io.owned_conditions(policy.status.conditions, {status_io.READY, CONFLICT})
    return part


def _tally(counts: collections.Counter[str], rec: OptimizationRecommendation, policy_name: str) -> None:
    phase = rec.status.phase
    if phase in (RecommendationPhase.APPROVED, RecommendationPhase.APPLYING):
        counts["pending"] += 1
    elif phase is RecommendationPhase.APPLIED:
        counts["applied"] += 1
    elif phase is RecommendationPhase.ROLLED_BACK:
        counts["rolled_back"] += 1
    elif phase is RecommendationPhase.FAILED:
        counts["failed"] += 1
    elif phase in (None, RecommendationPhase.PROPOSED):
        held = Conditions.find(rec.status.conditions, recommendation_io.AUTO_APPROVAL_CONDITION)
        counts["held"] += int(held is not None and held.status is ConditionStatus.FALSE)
    counts["auto_approved"] += int(rec.spec.approval.approved_by == f"policy/{policy_name}")


def _namespace_rivals(
    policy: OptimizationPolicy,
    policies: list[OptimizationPolicy],
    matched: dict[str, set[str]],
    namespace: str,
    namespace_labels: dict[str, str],
) -> list[str]:
    """Equally specific policies for a workload this policy would select in ``namespace`` (labels unknown).

    Without a workload to look at, a policy with a different workload selector is assumed
    to select other workloads; one with the same selector (or none, when this one has none)
    selects the same ones.
    """
    probe = matching.Workload(kind="", namespace=namespace, name="", namespace_labels=namespace_labels)
    alike = [
        p
        for p in policies
        if namespace in matched[p.name] and p.spec.workload_selector in (None, policy.spec.workload_selector)
    ]
    ranked = [(matching.specificity(p, probe), p) for p in alike]
    best = max(rank for rank, _ in ranked)
    winners = [p.name for rank, p in ranked if rank == best]
    return [name for name in winners if name != policy.name] if policy.name in winners else []


def assess(
    policy: OptimizationPolicy,
    policies: list[OptimizationPolicy],
    namespaces: list[dict[str, Any]],
    recommendations: list[OptimizationRecommendation],
    workload_labels: dict[WorkloadKey, dict[str, str]],
) -> Assessment:
    """What ``policy`` governs among the recommendations' workloads, and who is as specific.

    ``policies`` holds every policy, ``policy`` included; ``workload_labels`` is needed only
    where some policy has a workload selector. A namespace of the policy's without any
    recommendation is checked by its selection alone (see ``_namespace_rivals``).
    """
    labels_of = {ns["metadata"]["name"]: ns["metadata"].get("labels") or {} for ns in namespaces}
    matched = {
        p.name: set(select_namespaces(p.spec.namespaces, p.spec.namespace_selector, namespaces)) for p in policies
    }
    mine = matched[policy.name]
    verdicts: dict[WorkloadKey, matching.Governing] = {}
    counts: collections.Counter[str] = collections.Counter()
    rivals: dict[str, str] = {}
    for rec in recommendations:
        namespace = rec.namespace or ""
        if namespace not in mine:
            continue
        key = (rec.spec.target_ref.kind, namespace, rec.spec.target_ref.name)
        workload = matching.Workload(
            kind=key[0],
            namespace=namespace,
            name=key[2],
            labels=workload_labels.get(key, {}),
            namespace_labels=labels_of.get(namespace, {}),
        )
        verdict = verdicts.setdefault(key, matching.governing(policies, workload))
        conflicting = {p.name for p in verdict.conflicting}
        if policy.name in conflicting:
            for name in sorted(conflicting - {policy.name}):
                rivals.setdefault(name, workload.display_name)
        if verdict.policy is not None and verdict.policy.name == policy.name:
            _tally(counts, rec, policy.name)
    for namespace in sorted(mine - {rec.namespace for rec in recommendations}):
        for name in _namespace_rivals(policy, policies, matched, namespace, labels_of.get(namespace, {})):
            rivals.setdefault(name, f"namespace {namespace}")
    governed = sum(1 for v in verdicts.values() if v.policy is not None and v.policy.name == policy.name)
    return Assessment(governed_workloads=governed, counts=PolicyCounts(**counts), rivals=rivals)


@dataclasses.dataclass(frozen=True)
class WindowOutlook:
    """The next opening of the policy's maintenance windows, or what is wrong with one of them."""

    next_window: datetime.datetime | None
    message: str
    problem: str | None = None


def window_outlook(maintenance_windows: list[MaintenanceWindow], now: datetime.datetime) -> WindowOutlook:
    """When changes may next start; an unusable window is a problem naming its field."""
    for index, window in enumerate(maintenance_windows):
        try:
            windows.following_opening([window], now)
        except ValueError as error:  # the message starts with the window's field: "timeZone: …"
            return WindowOutlook(None, "", f"spec.maintenanceWindows[{index}].{error}")
    following = windows.following_opening(maintenance_windows, now)
    if following is None:
        return WindowOutlook(None, "changes may start at any time (no maintenance windows)")
    opens = f"{following:%Y-%m-%dT%H:%M:%SZ}"
    if windows.is_open(maintenance_windows, now):
        return WindowOutlook(following, f"a maintenance window is open now; the next opens at {opens}")
    return WindowOutlook(following, f"changes start in the next maintenance window, at {opens}")


def _conflict_message(rivals: dict[str, str]) -> str:
    shared = ", ".join(f"{name} (both cover {example})" for name, example in sorted(rivals.items()))
    return (
        f"as specific as {shared}: neither applies anything there until one of them is made more specific "
        "(workloadSelector, then namespaces, then namespaceSelector)"
    )


def desired_status(
    policy: OptimizationPolicy, matched: list[str], assessment: Assessment, outlook: WindowOutlook
) -> OptimizationPolicyStatus:
    """The policy's status from what was found; conditions keep their transition times."""
    generation = policy.generation
    conditions = policy.status.conditions
    if assessment.rivals:
        message = _conflict_message(assessment.rivals)
        conditions = Conditions.set(conditions, CONFLICT, True, EQUAL_SPECIFICITY, message, generation=generation)
    else:
        message = "no other policy is as specific for any of its workloads"
        conditions = Conditions.set(conditions, CONFLICT, False, NO_CONFLICT, message, generation=generation)
    if outlook.problem is not None:
        conditions = status_io.ready(conditions, False, status_io.INVALID_SPEC, outlook.problem, generation)
    elif assessment.rivals:
        conditions = status_io.ready(conditions, False, CONFLICT, message, generation)
    else:
        mode = policy.spec.mode.value
        scope = f"{mode} in {len(matched)} namespaces" if matched else f"{mode}; matches no namespace yet"
        message = f"{scope}, governing {assessment.governed_workloads} workloads; {outlook.message}"
        conditions = status_io.ready(conditions, True, RESOLVED, message, generation)
    return policy.status.model_copy(
        update={
            "observed_generation": generation,
            "matched_namespaces": matched,
            "governed_workloads": assessment.governed_workloads,
            "counts": assessment.counts,
            "next_window": outlook.next_window,
            "conditions": conditions,
        }
    )


async def _recommendations(kube: KubeClient, namespaces: list[str]) -> list[OptimizationRecommendation]:
    if len(namespaces) > PER_NAMESPACE_LISTS_UP_TO:
        wanted = set(namespaces)
        return [rec async for rec in kube.iter(OptimizationRecommendation) if rec.namespace in wanted]
    found: list[OptimizationRecommendation] = []
    for namespace in namespaces:
        found.extend(await kube.list(OptimizationRecommendation, namespace))
    return found


async def _workload_labels(
    kube: KubeClient, recommendations: list[OptimizationRecommendation], selective_namespaces: set[str]
) -> dict[WorkloadKey, dict[str, str]]:
    """The labels of the targeted workloads, read only in namespaces where some policy selects workloads by label."""
    wanted = {
        (rec.spec.target_ref.kind, rec.namespace or "")
        for rec in recommendations
        if rec.namespace in selective_namespaces and rec.spec.target_ref.kind in TARGET_RESOURCES
    }
    labels: dict[WorkloadKey, dict[str, str]] = {}
    for kind, namespace in sorted(wanted):
        api_version, plural = TARGET_RESOURCES[kind]
        try:
            items = await kube.list_workloads(api_version, plural, namespace)
        except NotFound:  # a kind this cluster does not serve (Argo Rollouts not installed)
            continue
        for item in items:
            metadata = item.get("metadata") or {}
            labels[kind, namespace, metadata.get("name", "")] = dict(metadata.get("labels") or {})
    return labels


async def reconcile(kube: KubeClient, body: dict[str, Any]) -> OptimizationPolicy:
    """Compute the policy's status from the cluster; write the operator's part only when it changed."""
    policy = status_io.parse(OptimizationPolicy, body)
    namespaces = await kube.namespaces()
    # This object as handed in is the freshest; every other policy as listed now.
    policies = [p for p in await kube.list(OptimizationPolicy) if p.name != policy.name] + [policy]
    matched = select_namespaces(policy.spec.namespaces, policy.spec.namespace_selector, namespaces)
    recommendations = await _recommendations(kube, matched)
    selective = {
        name
        for p in policies
        if p.spec.workload_selector is not None
        for name in select_namespaces(p.spec.namespaces, p.spec.namespace_selector, namespaces)
    }
    labels = await _workload_labels(kube, recommendations, selective & set(matched))
    assessment = assess(policy, policies, namespaces, recommendations, labels)
    outlook = window_outlook(policy.spec.maintenance_windows, datetime.datetime.now(datetime.UTC))
    updated = policy.model_copy(update={"status": desired_status(policy, matched, assessment, outlook)})
    if operator_part(updated) != operator_part(policy):
        await status_io.apply_status(kube, updated, operator_part(updated))
    return updated
