"""Reconcile a ClusterCostProfile: is its Prometheus usable, and is the cluster priced.

``MetricsReady`` (owned here): Prometheus answers and has the series kcost needs.
``PricingReady`` (owned by the cost analyzer): every node priced by a usable source.
``Ready`` (owned here): both hold.
"""

from __future__ import annotations

import logging
from typing import Any

from kcost.analyzers.metrics import prometheus
from kcost.analyzers.metrics.prometheus import PrometheusError
from kcost.api.v1alpha1.common import Condition, Conditions, ConditionStatus
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.config import Config
from kcost.kube.client import KubeClient
from kcost.operator import status as status_io

log = logging.getLogger("kcost.operator.profile")
METRICS_READY = "MetricsReady"
PRICING_READY = "PricingReady"
OWNED = {METRICS_READY, status_io.READY}
# What the analyzers read, and where it usually comes from.
REQUIRED_SERIES = {
    "container_cpu_usage_seconds_total": "cAdvisor (the kubelet's /metrics/cadvisor)",
    "container_memory_working_set_bytes": "cAdvisor (the kubelet's /metrics/cadvisor)",
    "kube_pod_container_resource_requests": "kube-state-metrics",
    "kube_pod_owner": "kube-state-metrics",
}
LOOKBACK = "6h"


async def check_metrics(kube: KubeClient, profile: ClusterCostProfile, timeout_s: float) -> tuple[bool, str, str]:
    spec = profile.spec.prometheus
    try:
        client = await prometheus.client_for_profile(
            kube, profile, namespace=Config.from_env().namespace, timeout_s=timeout_s, attempts=2
        )
    except prometheus.PrometheusCredentialsError as error:
        return False, "CredentialsUnreadable", str(error)
    missing = []
    try:
        for series, source in REQUIRED_SERIES.items():
            count = await client.scalar(f"count(last_over_time({series}[{LOOKBACK}]))")
            if not count:
                missing.append(f"{series} (from {source})")
    except PrometheusError as error:
        return False, "PrometheusUnreachable", f"spec.prometheus.url: {error}"
    if missing:
        return False, "MetricsMissing", f"no data in the last {LOOKBACK} for: " + ", ".join(missing)
    return True, "MetricsFound", f"{spec.url} has the series kcost needs"


def operator_part(profile: ClusterCostProfile) -> dict[str, Any]:
    return {
        "observedGeneration": profile.generation,
        "conditions": status_io.owned_conditions(profile.status.conditions, OWNED),
    }


def readiness(metrics_ok: bool, metrics_message: str, pricing: Condition | None) -> tuple[bool, str, str]:
    """Ready needs usable metrics and nodes the cost analyzer could price."""
    problems = [] if metrics_ok else [metrics_message]
    if pricing is None:
        problems.append("nodes not priced yet: is the kcost cost analyzer running?")
    elif pricing.status is not ConditionStatus.TRUE:
        problems.append(pricing.message)
    if not problems:
        return True, "Ready", "metrics and pricing usable"
    reason = "MetricsNotReady" if not metrics_ok else "PricingNotReady"
    return False, reason, "; ".join(problems)


def with_readiness(profile: ClusterCostProfile, conditions: list[Condition]) -> ClusterCostProfile:
    """``conditions`` (MetricsReady among them) with Ready derived from them and PricingReady."""
    metrics = Conditions.find(conditions, METRICS_READY)
    metrics_ok = metrics is not None and metrics.status is ConditionStatus.TRUE
    ok, reason, message = readiness(
        metrics_ok, metrics.message if metrics else "", Conditions.find(conditions, PRICING_READY)
    )
    conditions = status_io.ready(conditions, ok, reason, message, profile.generation)
    return profile.model_copy(update={"status": profile.status.model_copy(update={"conditions": conditions})})


async def reconcile(kube: KubeClient, body: dict[str, Any], timeout_s: float = 10.0) -> ClusterCostProfile:
    """Check the profile's Prometheus, then derive Ready (a timer runs it: Prometheus can change any time)."""
    profile = status_io.parse(ClusterCostProfile, body)
    metrics_ok, metrics_reason, metrics_message = await check_metrics(kube, profile, timeout_s)
    conditions = Conditions.set(
        profile.status.conditions,
        METRICS_READY,
        metrics_ok,
        metrics_reason,
        metrics_message,
        generation=profile.generation,
    )
    return await _write(kube, body, profile, with_readiness(profile, conditions))


async def follow_pricing(kube: KubeClient, body: dict[str, Any]) -> ClusterCostProfile | None:
    """Ready again from the last metrics check and the cost analyzer's PricingReady, without querying Prometheus.

    Runs on every change of the profile, so Ready follows PricingReady at once instead of on
    the next timer tick; None until a full reconcile has checked the metrics of this generation.
    """
    profile = status_io.parse(ClusterCostProfile, body)
    metrics = Conditions.find(profile.status.conditions, METRICS_READY)
    if metrics is None or metrics.observed_generation != profile.generation:
        return None
    return await _write(kube, body, profile, with_readiness(profile, profile.status.conditions))


async def _write(
    kube: KubeClient, body: dict[str, Any], profile: ClusterCostProfile, updated: ClusterCostProfile
) -> ClusterCostProfile:
    if operator_part(updated) == operator_part(profile):
        return updated
    await status_io.apply_status(kube, updated, operator_part(updated))
    before = Conditions.find(profile.status.conditions, status_io.READY)
    after = Conditions.find(updated.status.conditions, status_io.READY)
    ok = after is not None and after.status is ConditionStatus.TRUE
    if after is not None and (before is None or (before.status is ConditionStatus.TRUE) != ok):
        try:
            await kube.event(
                body,
                reason="ProfileReady" if ok else "ProfileNotReady",
                message=after.message,
                event_type="Normal" if ok else "Warning",
            )
        except Exception:
            log.warning("could not record an event on %s", profile.display_name, exc_info=True)
    return updated
