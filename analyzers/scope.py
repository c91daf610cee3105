"""What every metrics-based analyzer starts from: its Prometheus, the workloads in scope, their usage and prices.

It sits above ``cost`` (unit rates) and ``metrics`` (Prometheus, workloads), so that
``metrics`` never needs ``cost`` (the cost analyzer reads Prometheus through ``metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcost.analyzers.contract import AnalyzerError, AnalyzerResult, RunContext
from kcost.analyzers.cost.pricer import PricerFactory
from kcost.analyzers.cost.unit_rates import ClusterRates, rates_for, read_profile
from kcost.analyzers.memory import release_freed_memory
from kcost.analyzers.metrics import prometheus as prometheus_api
from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusError
from kcost.analyzers.metrics.range_cache import RangeCache
from kcost.analyzers.metrics.workloads import QueryPlan, Workload, discover, usage_by_namespace
from kcost.config import Config
from kcost.kube.client import KubeClient

log = logging.getLogger("kcost.analyzers.scope")

# One pricer factory per API connection, for the life of the analyzer process: it keeps
# the catalogs it has read and the last known live prices between runs.
_pricers: weakref.WeakKeyDictionary[KubeClient, PricerFactory] = weakref.WeakKeyDictionary()


@dataclass
class Scope:
    """The workloads of one run, the Prometheus their usage comes from, and what their resources cost."""

    workloads: list[Workload]
    prometheus: PrometheusClient
    plan: QueryPlan
    rates: ClusterRates
    # Usage answers of earlier runs (KCOST_ANALYZER_CACHE_DIR); None reads every window whole.
    range_cache: RangeCache | None = None

    def monthly_request_cost(self, workload: Workload, cpu_cores: float, memory_bytes: float) -> float:
        """What these requests cost a month at the unit rates of the nodes the workload's pods ran on."""
        return self.rates.monthly_request_cost(cpu_cores, memory_bytes, workload.replicas, workload.nodes_seen)

    async def with_usage(self, *, traffic: bool = False) -> AsyncIterator[Workload]:
        """Each workload with its usage (and peak traffic if asked) loaded, a namespace at a time.

        A workload's samples are dropped once the caller moves on to the next (see ``with_usage_batches``).
        """
        async with contextlib.aclosing(self.with_usage_batches(traffic=traffic)) as batches:
            async for batch in batches:
                for workload in batch:
                    yield workload
                    workload.forget_usage()

    async def with_usage_batches(self, *, traffic: bool = False) -> AsyncGenerator[list[Workload], None]:
        """The workloads with their usage (and peak traffic if asked) loaded, a namespace's batch at a time.

        A batch's samples are dropped once the caller asks for the next. A Prometheus failure fails
        the run: the analyzers keep their proposals until the run ends, so no recommendation is made
        from part of the data.
        """
        batches = usage_by_namespace(
            self.prometheus, self.workloads, self.plan, traffic=traffic, cache=self.range_cache
        )
        waited_s = 0.0
        started = time.perf_counter()
        try:
            while True:
                asked = time.perf_counter()
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    break
                finally:
                    waited_s += time.perf_counter() - asked
                yield batch
                for workload in batch:
                    workload.forget_usage()
                del batch
                release_freed_memory()
        except PrometheusError as error:
            raise AnalyzerError(f"could not read usage from Prometheus ({error}); no recommendation was made") from None
        finally:
            await batches.aclose()
        # The split the scale bench reports: reading is what the analysis waited for, not what overlapped it.
        log.info(
            "usage of %d workloads: %.3f s waiting for Prometheus, %.3f s analyzing (%s read path%s)",
            len(self.workloads),
            waited_s,
            time.perf_counter() - started - waited_s,
            "baseline" if self.plan.aggregate_in_promql else "fast",
            self._cache_summary(),
        )

    def _cache_summary(self) -> str:
        cache = self.range_cache
        if cache is None:
            return ""
        return f"; range reads: {cache.incremental_reads} new steps only, {cache.full_reads} whole window"

    def finish(self, result: AnalyzerResult) -> AnalyzerResult:
        """The run's totals, as every metrics-based analyzer reports them."""
        result.scope_monthly_cost = round(result.scope_monthly_cost or 0.0, 2)
        result.prometheus_requests = dict(self.prometheus.requests_by_endpoint)
        result.window = (self.plan.window_start, self.plan.window_end)
        return result


async def open_scope(context: RunContext[Any]) -> Scope:
    # One read of the profile serves both its Prometheus and its prices.
    profile = await read_profile(context.kube, context.analysis.spec.profile_ref.name)
    config = Config.from_env()
    baseline = config.analyzer_read_path == "baseline"
    try:
        prometheus = await prometheus_api.client_for_profile(
            context.kube, profile, namespace=config.namespace, compressed_answers=baseline
        )
    except prometheus_api.PrometheusCredentialsError as error:
        raise AnalyzerError(str(error)) from None
    workloads = await discover(context.kube, context.namespaces, context.analysis.spec.workload_selector)
    plan = QueryPlan.for_window(
        context.window_start, context.window_end, context.resolution, aggregate_in_promql=baseline
    )
    range_cache = None
    if config.analyzer_cache_dir:
        range_cache = RangeCache(Path(config.analyzer_cache_dir), max_age_s=config.analyzer_cache_max_age_s)
        await asyncio.to_thread(range_cache.prune)
    factory = _pricers.get(context.kube)
    if factory is None:
        factory = _pricers[context.kube] = PricerFactory(context.kube)
    rates = await rates_for(context.kube, profile, factory)
    return Scope(workloads, prometheus, plan, rates, range_cache)
