"""Semantic checks of the specs: what the CRD schema and its CEL rules cannot express.

The schema (with CEL) runs first and holds with the webhook down; these checks need code
(cron, IANA time zones, each analyzer's settings model) or the cluster (other policies,
referenced profiles). An UPDATE that leaves the spec as it was is never refused, so
objects stored before a rule existed can still be labelled, annotated or deleted.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import TypeVar

from croniter import croniter
from pydantic import BaseModel, ValidationError

from kcost.api import matching
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import LabelSelector, Resource
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.webhooks import settings_errors
from kcost.webhooks.admission import AdmissionRequest, Verdict, field_path
from kcost.webhooks.cluster import ClusterView
from kcost.webhooks.policy import windows

# Analyzer name → its settings model; raises LookupError for an analyzer not installed here.
SettingsModels = Callable[[str], type[BaseModel]]
R = TypeVar("R", bound=Resource)


@dataclasses.dataclass(frozen=True)
class Context:
    """What handlers may consult besides the request."""

    view: ClusterView
    settings_models: SettingsModels


def parse(kind: type[R], request: AdmissionRequest) -> R | Verdict:
    """The request's object as its model, or a refusal naming every field that does not fit."""
    try:
        return kind.model_validate(request.object or {})
    except ValidationError as error:
        refusals = tuple(f"{field_path(tuple(p['loc']))}: {p['msg']}" for p in error.errors())
        return Verdict(refusals=refusals)


def spec_unchanged(request: AdmissionRequest) -> bool:
    return request.operation == "UPDATE" and request.spec == request.old_spec


def cron_problem(schedule: str) -> str | None:
    """Why ``schedule`` is not a cron schedule, or None."""
    if croniter.is_valid(schedule):
        return None
    expected = "5 fields (minute hour day month weekday) such as '0 2 * * *'"
    return f"{schedule!r} is not a valid cron schedule; expected {expected}"


async def analysis(request: AdmissionRequest, context: Context) -> Verdict:
    parsed = parse(Analysis, request)
    if isinstance(parsed, Verdict):
        return parsed
    spec = parsed.spec
    refusals: list[str] = []
    warnings: list[str] = []
    if spec.schedule is not None and (problem := cron_problem(spec.schedule)):
        refusals.append(f"spec.schedule: {problem}")
    for index, chosen in enumerate(spec.analyzers):
        try:
            model = context.settings_models(chosen.name)
        except LookupError:
            warnings.append(
                f"spec.analyzers[{index}].name: no analyzer {chosen.name!r} is installed beside the webhook; "
                "its settings are not checked"
            )
            continue
        refusals += settings_errors.problems(model, chosen.settings, f"spec.analyzers[{index}].settings")
    if not await context.view.profile_exists(spec.profile_ref.name):
        warnings.append(
            f"spec.profileRef.name: no ClusterCostProfile {spec.profile_ref.name!r} exists yet; "
            "the Analysis stays Pending until it does"
        )
    return Verdict(refusals=tuple(refusals), warnings=tuple(warnings))


def _without_workload_selector(policy: OptimizationPolicy) -> OptimizationPolicy:
    return policy.model_copy(update={"spec": policy.spec.model_copy(update={"workload_selector": None})})


def _same_selection(a: LabelSelector | None, b: LabelSelector | None) -> bool:
    return (a.to_api() if a else None) == (b.to_api() if b else None)


def overlap(policy: OptimizationPolicy, other: OptimizationPolicy, namespaces: dict[str, dict[str, str]]) -> str | None:
    """A namespace both policies cover with equal specificity and the same workload selection, or None.

    Policies with different workload selectors may still meet on a workload; the operator's
    Conflict condition reports those, naming the workload.
    """
    if not _same_selection(policy.spec.workload_selector, other.spec.workload_selector):
        return None
    mine, theirs = _without_workload_selector(policy), _without_workload_selector(other)
    candidates = {**{name: {} for name in [*policy.spec.namespaces, *other.spec.namespaces]}, **namespaces}
    for namespace, labels in sorted(candidates.items()):
        workload = matching.Workload(kind="Deployment", namespace=namespace, name="", namespace_labels=labels)
        if (
            matching.covers(mine, workload)
            and matching.covers(theirs, workload)
            and matching.specificity(mine, workload) == matching.specificity(theirs, workload)
        ):
            return namespace
    return None


async def policy(request: AdmissionRequest, context: Context) -> Verdict:
    parsed = parse(OptimizationPolicy, request)
    if isinstance(parsed, Verdict):
        return parsed
    refusals: list[str] = []
    now = datetime.datetime.now(datetime.UTC)
    for index, window in enumerate(parsed.spec.maintenance_windows):
        if problem := cron_problem(window.schedule):
            refusals.append(f"spec.maintenanceWindows[{index}].schedule: {problem}")
            continue
        try:
            windows.following_opening([window], now)
        except ValueError as error:  # names the field: "timeZone: 'Mars/Olympus' is not an IANA time zone…"
            refusals.append(f"spec.maintenanceWindows[{index}].{error}")
    namespaces = await context.view.namespace_labels()
    for other in await context.view.policies():
        if other.name == parsed.name:
            continue
        if (namespace := overlap(parsed, other, namespaces)) is not None:
            refusals.append(
                f"spec: OptimizationPolicy {other.name!r} covers namespace {namespace!r} with the same specificity "
                "and workload selection; make one of them more specific (workloadSelector, or namespaces by name)"
            )
    return Verdict(refusals=tuple(refusals))


async def profile(request: AdmissionRequest, context: Context) -> Verdict:  # noqa: ARG001 - the schema holds its rules
    parsed = parse(ClusterCostProfile, request)
    return parsed if isinstance(parsed, Verdict) else Verdict()
