"""What every metrics-based analyzer starts from: its Prometheus, and the workloads in scope with their usage."""

from __future__ import annotations

import os
from typing import Any

from kcost.analyzers.contract import AnalyzerError, RunContext
from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusError, credentials_from_secrets
from kcost.analyzers.metrics.workloads import Workload, discover, load_usage
from kcost.api.v1alpha1.profile import ClusterCostProfile


async def prometheus_for(context: RunContext[Any]) -> PrometheusClient:
    name = context.analysis.spec.profile_ref.name
    body = await context.kube.get(ClusterCostProfile, name)
    if body is None:
        raise AnalyzerError(f"ClusterCostProfile {name!r} not found: fix spec.profileRef.name")
    spec = ClusterCostProfile.model_validate(body).spec.prometheus
    try:
        credentials = await credentials_from_secrets(
            context.kube, spec, os.environ.get("KCOST_NAMESPACE", "kcost-system")
        )
    except Exception as error:  # noqa: BLE001 - a missing Secret or key is the user's to fix; say which
        raise AnalyzerError(f"ClusterCostProfile {name}: spec.prometheus credentials unreadable: {error}") from None
    return PrometheusClient(spec.url, timeout_s=spec.timeout_seconds, credentials=credentials)


async def load(context: RunContext[Any]) -> tuple[list[Workload], PrometheusClient]:
    """Workloads in scope with their usage over the frozen window; a Prometheus failure fails the run."""
    prometheus = await prometheus_for(context)
    workloads = await discover(context.kube, context.namespaces, context.analysis.spec.workload_selector)
    try:
        await load_usage(prometheus, workloads, context.window_start, context.window_end, context.resolution)
    except PrometheusError as error:
        # All or nothing: no recommendation is ever made from part of the data.
        raise AnalyzerError(f"could not read usage from Prometheus ({error}); no recommendation was made") from None
    return workloads, prometheus
