"""A policy's PromQL health checks, evaluated against the cluster's Prometheus during a rollout step.

Each check's query gets the workload's namespace and name in place of ``$namespace``
and ``$workload`` and runs as an instant query. It must return exactly one number:
a check that cannot be evaluated never passes silently, so no data, more than one
series, a value that is not a number, a refused query or a Prometheus that does not
answer all fail it, naming the check and why. No data fails too: a query for which
no data means healthy says so itself (``… or vector(0)``).

Which Prometheus: the one of the ClusterCostProfile that the recommendation's
Analysis used (``spec.analysisRef`` → the Analysis's ``spec.profileRef``); without
that reference (or once the Analysis is gone), the only profile when there is
exactly one. Anything else fails every check with a message that says what to fix.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from typing import Any

from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusError, PrometheusUnavailable
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.policy import PromQLCheck
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import KubeClient

PLACEHOLDER = re.compile(r"\$(namespace|workload)\b")
# Kubernetes names: nothing in them can close a PromQL string literal ("…", '…' or `…`) or escape in it.
LABEL_VALUE = re.compile(r"[A-Za-z0-9._-]+")
SHOWN_SERIES = 3


class NoPrometheus(Exception):  # noqa: N818 - reads as the situation it names
    """No profile says which Prometheus to ask; the message says what to fix."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's verdict: ``message`` is the value seen against its bounds, or why it failed."""

    name: str
    passed: bool
    message: str


def substitute(query: str, *, namespace: str, workload: str) -> str:
    """``query`` with ``$namespace`` and ``$workload`` filled in; ValueError for a value unsafe in a label match."""
    values = {"namespace": namespace, "workload": workload}
    for placeholder, value in values.items():
        if not LABEL_VALUE.fullmatch(value):
            raise ValueError(f"${placeholder} would be {value!r}, not a Kubernetes name; it is not put into PromQL")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], query)


def judge(check: PromQLCheck, value: float) -> CheckResult:
    """The value against the check's bounds: unhealthy above ``maxValue`` or below ``minValue``."""
    shown = f"{value:.6g}"
    if check.max_value is not None and value > check.max_value:
        return _failed(check, f"{check.name}={shown} above maxValue {check.max_value:g}")
    if check.min_value is not None and value < check.min_value:
        return _failed(check, f"{check.name}={shown} below minValue {check.min_value:g}")
    seen = f"{check.name}={shown}"
    if check.min_value is not None:
        seen = f"{check.min_value:g} ≤ {seen}"
    if check.max_value is not None:
        seen = f"{seen} ≤ {check.max_value:g}"
    return CheckResult(check.name, passed=True, message=seen)


def _failed(check: PromQLCheck, why: str) -> CheckResult:
    return CheckResult(check.name, passed=False, message=f"PromQL check {check.name}: {why}")


class _Unevaluable(Exception):  # noqa: N818 - internal: why a check has no value to judge
    pass


async def evaluate(client: PrometheusClient, check: PromQLCheck, *, namespace: str, workload: str) -> CheckResult:
    """One check as an instant query against ``client``'s Prometheus."""
    try:
        query = substitute(check.query, namespace=namespace, workload=workload)
        value = _single_value(query, await _answer(client, query))
    except (ValueError, _Unevaluable) as error:
        return _failed(check, str(error))
    return judge(check, value)


async def _answer(client: PrometheusClient, query: str) -> list[dict[str, Any]]:
    try:
        return await client.query(query)
    except PrometheusUnavailable as error:
        raise _Unevaluable(f"Prometheus at {client.url} did not answer: {error}") from None
    except PrometheusError as error:
        raise _Unevaluable(f"Prometheus at {client.url} could not evaluate it: {error}") from None


def _single_value(query: str, series: list[dict[str, Any]]) -> float:
    """The one number an answer must hold; _Unevaluable says what it held instead."""
    if not series:
        raise _Unevaluable(f"{query!r} returned no data (add `or vector(0)` if no data means healthy)")
    if len(series) > 1:
        labels = ", ".join(str(s.get("metric") or {}) for s in series[:SHOWN_SERIES])
        raise _Unevaluable(f"{query!r} returned {len(series)} series, not one number ({labels}…); aggregate it")
    try:
        value = float(series[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise _Unevaluable(f"{query!r} returned {series[0]!r}, not a number") from None
    if math.isnan(value):
        raise _Unevaluable(f"{query!r} returned NaN")
    return value


async def evaluate_all(
    client: PrometheusClient, checks: list[PromQLCheck], *, namespace: str, workload: str
) -> tuple[CheckResult, ...]:
    """Every check, concurrently, in the policy's order."""
    results = await asyncio.gather(*(evaluate(client, c, namespace=namespace, workload=workload) for c in checks))
    return tuple(results)


def unevaluated(checks: list[PromQLCheck], why: str) -> tuple[CheckResult, ...]:
    """Every check failed for one reason (no Prometheus to ask, unreadable credentials)."""
    return tuple(_failed(check, why) for check in checks)


def pick_profile(profiles: list[ClusterCostProfile], name: str | None, *, source: str) -> ClusterCostProfile:
    """The profile named ``name`` (``source`` says where the name came from), else the only one."""
    if name is not None:
        for profile in profiles:
            if profile.name == name:
                return profile
        raise NoPrometheus(f"ClusterCostProfile {name} ({source}) does not exist")
    if len(profiles) == 1:
        return profiles[0]
    if not profiles:
        raise NoPrometheus(f"no ClusterCostProfile exists to say where Prometheus is ({source})")
    names = ", ".join(sorted(p.name for p in profiles))
    raise NoPrometheus(
        f"{len(profiles)} ClusterCostProfiles exist ({names}) and {source}: "
        "set the recommendation's spec.analysisRef to the Analysis whose profile to use"
    )


async def profile_for(kube: KubeClient, rec: OptimizationRecommendation) -> ClusterCostProfile:
    """The profile whose Prometheus watches this recommendation's rollout."""
    profiles = await kube.list(ClusterCostProfile)
    ref = rec.spec.analysis_ref
    if ref is None:
        return pick_profile(profiles, None, source="the recommendation has no spec.analysisRef")
    analysis = await kube.get(Analysis, ref.name)
    if analysis is None:
        return pick_profile(profiles, None, source=f"Analysis {ref.name} (spec.analysisRef) no longer exists")
    name = analysis.spec.profile_ref.name
    return pick_profile(profiles, name, source=f"spec.profileRef of Analysis {ref.name}")
