"""The ``idle`` analyzer: workloads that did (almost) nothing for the whole window.

Near-zero CPU and network for every sample of the window → scale to zero. The risk
is low only when the workload received no traffic at all; a trickle of traffic (a
health check, a forgotten client) makes it medium. CronJobs and DaemonSets are left
to right-sizing: scaling them to zero means something else.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from kcost.analyzers import scope
from kcost.analyzers.contract import Analyzer, AnalyzerResult, AnalyzerSettings, Proposal, RunContext
from kcost.analyzers.metrics.workloads import QueryPlan, Workload
from kcost.api.v1alpha1.recommendation import (
    ContainerEvidence,
    Evidence,
    OptimizationRecommendationSpec,
    RecommendationType,
    RiskLevel,
    TargetRef,
    UsageStats,
    WorkloadShape,
)


class IdleSettings(AnalyzerSettings):
    max_cpu_cores: float = Field(0.005, ge=0, alias="maxCpuCores", description="idle below this CPU use, every sample")
    max_network_bytes_per_second: float = Field(
        64, ge=0, alias="maxNetworkBytesPerSecond", description="idle below this traffic, every sample"
    )
    min_days: float = Field(3, gt=0, alias="minDays", description="history needed before calling anything idle")


def _monthly_cost(in_scope: scope.Scope, workload: Workload) -> float:
    return sum(
        in_scope.monthly_request_cost(workload, c.cpu_request or 0.0, c.memory_request or 0.0)
        for c in workload.container_specs
    )


class IdleAnalyzer(Analyzer[IdleSettings]):
    name = "idle"
    settings_model = IdleSettings
    types = (RecommendationType.IDLE_WORKLOAD,)

    async def run(self, context: RunContext[IdleSettings]) -> AnalyzerResult:
        settings = context.settings
        in_scope = await scope.open_scope(context)
        result = AnalyzerResult(workloads=len(in_scope.workloads), scope_monthly_cost=0.0)
        async for workload in in_scope.with_usage(traffic=True):
            monthly = _monthly_cost(in_scope, workload)
            result.scope_monthly_cost = (result.scope_monthly_cost or 0.0) + monthly
            # Scaling a CronJob or DaemonSet to zero means something else; an HPA owns its replica count.
            scalable = workload.kind in ("Deployment", "StatefulSet", "Rollout") and workload.replicas > 0
            if scalable and workload.hpa_cpu_target_pct is None:
                proposal = self._judge(
                    workload, settings, context, monthly, result, priced_at=in_scope.rates.source, plan=in_scope.plan
                )
                if proposal is not None:
                    result.proposals.append(proposal)
        return in_scope.finish(result)

    def _judge(
        self,
        workload: Workload,
        settings: IdleSettings,
        context: RunContext[IdleSettings],
        monthly: float,
        result: AnalyzerResult,
        *,
        priced_at: str,
        plan: QueryPlan,
    ) -> Proposal | None:
        evidence, samples, peak_cpu, first, last = [], 0, 0.0, float("inf"), 0.0
        for name, series in sorted(workload.containers.items()):
            ts_s, cpu_cores, memory_bytes = series.arrays()
            if ts_s.size == 0:
                continue
            samples += int(ts_s.size)
            peak_cpu = max(peak_cpu, float(cpu_cores.max()))
            first, last = min(first, float(ts_s[0])), max(last, float(ts_s[-1]))
            evidence.append(
                ContainerEvidence(
                    name=name,
                    cpu_cores=UsageStats(p50=float(np.median(cpu_cores)), max=float(cpu_cores.max())),
                    memory_bytes=UsageStats(max=float(memory_bytes.max())),
                    oom_events=series.oom_kills,
                )
            )
        if samples == 0 or (last - first) < settings.min_days * 86400:
            result.skipped["NotEnoughData"] = result.skipped.get("NotEnoughData", 0) + 1
            return None
        traffic = workload.network_max_bytes_per_s
        if peak_cpu > settings.max_cpu_cores or (traffic or 0.0) > settings.max_network_bytes_per_second:
            return None
        silent = not traffic
        spec = OptimizationRecommendationSpec(
            target_ref=TargetRef(api_version=workload.api_version, kind=workload.kind, name=workload.name),
            type=RecommendationType.IDLE_WORKLOAD,
            current=WorkloadShape(replicas=workload.replicas),
            changes=WorkloadShape(replicas=0),
            estimated_monthly_savings=round(monthly, 2),
            confidence=0.95 if silent else 0.7,
            risk_level=RiskLevel.LOW if silent else RiskLevel.MEDIUM,
            evidence=Evidence(
                window=context.analysis.spec.window,
                window_start=plan.window_start,
                window_end=plan.window_end,
                sample_count=samples,
                method=f"idle(cpu<={settings.max_cpu_cores} cores, "
                f"traffic<={settings.max_network_bytes_per_second} B/s, whole window)",
                containers=evidence,
                network_bytes_per_second=traffic or 0.0,
                notes=[
                    "no traffic at all in the window" if silent else f"a trickle of traffic: peak {traffic:.1f} B/s",
                    f"savings priced at {priced_at}",
                ],
            ),
        )
        return Proposal(namespace=workload.namespace, spec=spec)
