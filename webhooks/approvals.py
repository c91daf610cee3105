"""Decisions on a recommendation: a permission (RBAC verbs ``approve``/``reject``), within the governing policy.

The validating side asks the API server whether the requesting user holds the verb for
that recommendation (a SubjectAccessReview with the user's name, uid, groups and extra),
refuses an approval the governing policy does not allow, and keeps ``spec.changes`` as
they were approved. The mutating side stamps ``approvedBy``/``approvedAt`` from the
authenticated user, whatever the client sent.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from kcost.api import matching
from kcost.api.v1alpha1.recommendation import TARGET_RESOURCES, OptimizationRecommendation
from kcost.webhooks.admission import AdmissionRequest, Verdict
from kcost.webhooks.cluster import ClusterView
from kcost.webhooks.policy import approval
from kcost.webhooks.validation import Context, parse

# spec.approval field → the RBAC verb that turning it on needs (undoing a change is approving another).
DECISION_VERBS = {"approved": "approve", "rejected": "reject", "rollback": "approve"}
STAMPED = ("approvedBy", "approvedAt")


def _approval(spec: dict[str, Any]) -> dict[str, Any]:
    found = spec.get("approval")
    return found if isinstance(found, dict) else {}


def decisions(request: AdmissionRequest) -> list[str]:
    """The ``spec.approval`` fields this request turns on."""
    new, old = _approval(request.spec), _approval(request.old_spec)
    return [name for name in DECISION_VERBS if new.get(name) is True and old.get(name) is not True]


def _resource(request: AdmissionRequest) -> str:
    return f"optimizationrecommendations.optimizer.kcost.dev {request.name!r} in namespace {request.namespace!r}"


async def recommendation(request: AdmissionRequest, context: Context) -> Verdict:
    parsed = parse(OptimizationRecommendation, request)
    if isinstance(parsed, Verdict):
        return parsed
    decided = decisions(request)
    # The permission and the policy's view are independent reads: ask for all at once.
    permissions, (policy_refusals, warnings) = await asyncio.gather(
        asyncio.gather(
            *(context.view.allowed(request.user_info, DECISION_VERBS[name], request.name, request.namespace)
              for name in decided)
        ),
        _within_policy(parsed, context.view) if "approved" in decided else _nothing(),
    )  # fmt: skip
    for name, allowed in zip(decided, permissions, strict=True):
        if not allowed:
            verb = DECISION_VERBS[name]
            return Verdict(
                refusals=(
                    f"spec.approval.{name}: user {request.user_info.username!r} may not {verb} this recommendation; "
                    f"it needs the RBAC verb {verb!r} on {_resource(request)} (a Role granting it, "
                    "or the aggregated edit role)",
                ),
                code=403,
            )
    refusals = list(policy_refusals)
    old_approved = _approval(request.old_spec).get("approved") is True
    if old_approved and request.spec.get("changes") != request.old_spec.get("changes"):
        refusals.append(
            "spec.changes: immutable once approved; reject this recommendation and let the next run propose anew"
        )
    return Verdict(refusals=tuple(refusals), warnings=warnings)


async def _nothing() -> tuple[list[str], tuple[str, ...]]:
    return [], ()


async def _within_policy(rec: OptimizationRecommendation, view: ClusterView) -> tuple[list[str], tuple[str, ...]]:
    target, namespace = rec.spec.target_ref, rec.namespace or ""
    api_version, plural = TARGET_RESOURCES.get(target.kind, (target.api_version, target.kind.lower() + "s"))
    labels, namespace_labels, policies = await asyncio.gather(
        view.workload_labels(api_version, plural, namespace, target.name),
        view.labels_of_namespace(namespace),
        view.policies(),
    )
    if labels is None:
        return [], (f"spec.targetRef: {target.kind} {namespace}/{target.name} does not exist",)
    workload = matching.Workload(
        kind=target.kind, namespace=namespace, name=target.name, labels=labels, namespace_labels=namespace_labels
    )
    governing = matching.governing(policies, workload)
    if governing.conflict:
        return [], (f"{workload.display_name}: {governing.describe_conflict()}",)
    if governing.policy is None:
        return [], ()
    reasons = approval.approval_rules(governing.policy, rec)
    refusals = [f"spec.approval.approved: OptimizationPolicy {governing.policy.name!r}: {reason}" for reason in reasons]
    return refusals, ()


def stamp(request: AdmissionRequest, now: datetime.datetime) -> Verdict:
    """The JSON patch making ``approvedBy``/``approvedAt`` the requesting user's and now, or what they were."""
    new, old = _approval(request.spec), _approval(request.old_spec)
    if new.get("approved") is True and old.get("approved") is not True:
        wanted: dict[str, Any] = {
            "approvedBy": request.user_info.username,
            "approvedAt": now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    else:
        wanted = {key: old.get(key) for key in STAMPED}
    if "approval" not in request.spec:
        present = {key: value for key, value in wanted.items() if value is not None}
        return Verdict(patch=({"op": "add", "path": "/spec/approval", "value": present},) if present else ())
    operations: list[dict[str, Any]] = []
    for key, value in wanted.items():
        if value is None and key in new:
            operations.append({"op": "remove", "path": f"/spec/approval/{key}"})
        elif value is not None and new.get(key) != value:
            operations.append({"op": "add", "path": f"/spec/approval/{key}", "value": value})
    return Verdict(patch=tuple(operations))
