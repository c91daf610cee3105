"""A synthetic cluster of N workloads for ``kcost bench analysis``.

Each workload is a one-replica Deployment with one container, in one of a fixed number
of namespaces (so the query count of an analysis must not change with N). Its history
is the series an analysis reads, shaped like cAdvisor's and kube-state-metrics':
CPU and traffic counters, the memory working set, pod and ReplicaSet owners, restarts.

Billions of samples cannot go through OpenMetrics text and promtool in any reasonable
time, so the history is written straight into TSDB blocks by ``tsdbgen``. Usage comes
from a few dozen *profiles* (the harness's steady, diurnal, bursty and idle shapes),
each workload scaling one of them to its own level: realistic per-sample variation
at a fraction of the input. Blocks are cached by definition under the kcost cache.

The Deployments are created paused: the controllers would otherwise spend minutes
creating ten thousand ReplicaSets and pods that an analysis never reads (pods are
mapped to workloads through the owner series, as in a real cluster whose pods come
and go).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Awaitable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import numpy as np
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from rich.console import Console

from kcost.api.units import MIB
from kcost.devcluster import binaries, progress, tsdbgen
from kcost.devcluster.scenario import usage
from kcost.devcluster.scenario.model import UsagePattern

GENERATOR_VERSION = 1
DAY_S = 86400
BENCH_LABEL = "kcost.dev/bench"
CONTAINER = "app"
# Shapes and their share of the workloads; a few idle ones, as in any real cluster.
PATTERNS = (
    (UsagePattern.STEADY, 0.35),
    (UsagePattern.DIURNAL, 0.35),
    (UsagePattern.BURSTY, 0.25),
    (UsagePattern.IDLE, 0.05),
)


@dataclass(frozen=True)
class ScaleScenario:
    workloads: int
    namespaces: int = 50
    days: float = 14
    step_s: int = 60
    profiles_per_pattern: int = 16
    seed: int = 7

    @property
    def name(self) -> str:
        return f"scale-{self.workloads}"

    @property
    def samples(self) -> int:
        return int(self.days * DAY_S // self.step_s)

    def namespace(self, index: int) -> str:
        return f"{self.name}-{index % self.namespaces:03d}"

    def namespace_names(self) -> list[str]:
        return sorted({self.namespace(i) for i in range(min(self.workloads, self.namespaces))})

    def key(self, end_s: int) -> str:
        document = {**asdict(self), "end_s": end_s, "generator": GENERATOR_VERSION}
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ScaleWorkload:
    """One Deployment of the scenario: its shape, its real use and what it asks for."""

    index: int
    namespace: str
    name: str
    pod: str
    replicaset: str
    pattern: UsagePattern
    profile: int
    cpu_cores: float
    memory_bytes: float
    cpu_request_cores: float
    memory_request_bytes: float


def _pattern(rng: np.random.Generator) -> UsagePattern:
    shares = np.array([share for _, share in PATTERNS])
    return PATTERNS[int(rng.choice(len(PATTERNS), p=shares / shares.sum()))][0]


def workloads(scenario: ScaleScenario) -> Iterator[ScaleWorkload]:
    """The scenario's workloads, deterministic from the seed."""
    rng = np.random.default_rng(scenario.seed)
    for index in range(scenario.workloads):
        pattern = _pattern(rng)
        cpu = float(np.clip(rng.lognormal(np.log(0.15), 0.9), 0.005, 4.0))
        memory = float(np.clip(rng.lognormal(np.log(300 * MIB), 0.8), 32 * MIB, 8192 * MIB))
        if pattern is UsagePattern.IDLE:
            cpu = 0.0005
        # Most ask for 1.5-4× what they use; some for about what they use.
        over = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0], p=[0.2, 0.2, 0.25, 0.2, 0.15]))
        digest = hashlib.sha256(f"{scenario.seed}/{index}".encode()).hexdigest()
        name = f"svc-{index:05d}"
        replicaset = f"{name}-{digest[:10]}"
        pattern_index = [p for p, _ in PATTERNS].index(pattern)
        yield ScaleWorkload(
            index=index,
            namespace=scenario.namespace(index),
            name=name,
            pod=f"{replicaset}-{digest[10:15]}",
            replicaset=replicaset,
            pattern=pattern,
            profile=pattern_index * scenario.profiles_per_pattern + index % scenario.profiles_per_pattern,
            cpu_cores=cpu,
            memory_bytes=memory,
            cpu_request_cores=max(0.01, round(cpu * over * 1.2, 3)),
            memory_request_bytes=float(np.ceil(memory * over * 1.1 / MIB) * MIB),
        )


def profiles(scenario: ScaleScenario, end_s: int) -> list[np.ndarray]:
    """Per pattern and variant: CPU counter and traffic counter per unit of use, memory level per unit."""
    times = np.arange(end_s - scenario.samples * scenario.step_s, end_s, scenario.step_s, dtype=np.int64)
    cpu_counters, memory_levels, traffic_counters = [], [], []
    for pattern_index, (pattern, _) in enumerate(PATTERNS):
        for variant in range(scenario.profiles_per_pattern):
            rng = np.random.default_rng([scenario.seed, pattern_index, variant])
            level = usage.relative_level(pattern, rng, times, scenario.step_s)
            cpu_counters.append(np.cumsum(level) * scenario.step_s)
            memory = np.clip(1.0 + rng.normal(0.0, 0.02, times.size), 0.5, None)
            if pattern is UsagePattern.DIURNAL:
                memory *= 0.8 + 0.2 * level / max(float(level.mean()), 1e-9)
            memory_levels.append(memory)
            traffic_counters.append(np.cumsum(level) * scenario.step_s)
    return [*cpu_counters, *memory_levels, *traffic_counters]


def series(scenario: ScaleScenario) -> Iterator[tsdbgen.GeneratedSeries]:
    kinds = len(PATTERNS) * scenario.profiles_per_pattern
    for w in workloads(scenario):
        pod = {"namespace": w.namespace, "pod": w.pod}
        container = {**pod, "container": CONTAINER}
        kubelet = {"job": "kubelet", "node": f"node-{w.index % 3}"}
        ksm = {"job": "kube-state-metrics"}
        yield tsdbgen.GeneratedSeries(
            {"__name__": "container_cpu_usage_seconds_total", **container, **kubelet},
            w.profile,
            scale=w.cpu_cores,
            round_to=1e-6,
        )
        yield tsdbgen.GeneratedSeries(
            {"__name__": "container_memory_working_set_bytes", **container, **kubelet},
            kinds + w.profile,
            scale=w.memory_bytes,
            round_to=4096,
        )
        idle = w.pattern is UsagePattern.IDLE
        yield tsdbgen.GeneratedSeries(
            {"__name__": "container_network_receive_bytes_total", **pod, "interface": "eth0", **kubelet},
            None if idle else 2 * kinds + w.profile,
            scale=2000 * w.cpu_cores / 0.15,
            round_to=1,
        )
        yield tsdbgen.GeneratedSeries(
            {
                "__name__": "kube_pod_owner",
                **pod,
                "owner_kind": "ReplicaSet",
                "owner_name": w.replicaset,
                "owner_is_controller": "true",
                **ksm,
            },
            None,
            constant=1,
        )
        yield tsdbgen.GeneratedSeries(
            {
                "__name__": "kube_replicaset_owner",
                "namespace": w.namespace,
                "replicaset": w.replicaset,
                "owner_kind": "Deployment",
                "owner_name": w.name,
                "owner_is_controller": "true",
                **ksm,
            },
            None,
            constant=1,
        )
        yield tsdbgen.GeneratedSeries(
            {"__name__": "kube_pod_container_status_restarts_total", **container, **ksm}, None, constant=0
        )


SERIES_PER_WORKLOAD = 6


def blocks_for(scenario: ScaleScenario, end_s: int, console: Console) -> Path:
    """TSDB blocks of the scenario's history, from the cache or written now."""
    cached = binaries.cache_root() / "scenarios" / f"{scenario.name}-{scenario.key(end_s)}"
    if (cached / "complete").exists():
        return cached
    staging = cached.with_name(cached.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    samples = scenario.workloads * SERIES_PER_WORKLOAD * scenario.samples
    with progress.step(console, f"tsdbgen: writing {samples:,} samples of {scenario.name} history…"):
        report = tsdbgen.write_blocks(
            staging,
            start_ms=(end_s - scenario.samples * scenario.step_s) * 1000,
            step_ms=scenario.step_s * 1000,
            n_samples=scenario.samples,
            profiles=profiles(scenario, end_s),
            series=series(scenario),
            console=console,
        )
    console.print(
        f"{scenario.name}: {report.samples:,} samples in {len(report.blocks)} blocks, "
        f"{report.seconds:.0f} s ({report.samples_per_second / 1e6:.1f} M samples/s)"
    )
    (staging / "complete").write_text(f"{report.samples}\n")
    shutil.rmtree(cached, ignore_errors=True)
    staging.rename(cached)
    return cached


def _deployment(scenario: ScaleScenario, w: ScaleWorkload) -> dict[str, Any]:
    labels = {"app": w.name, BENCH_LABEL: scenario.name}
    resources = {
        "requests": {"cpu": f"{round(w.cpu_request_cores * 1000)}m", "memory": f"{round(w.memory_request_bytes)}"},
        "limits": {"memory": f"{round(w.memory_request_bytes * 2)}"},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "paused": True,
            "selector": {"matchLabels": {"app": w.name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": CONTAINER, "image": "registry.k8s.io/pause:3.10", "resources": resources}]
                },
            },
        },
    }


async def _answer(call: Awaitable[Any]) -> bytes:
    """The body of an answer read without preloading; an ``ApiException`` for an error, as the client raises."""
    response = cast(aiohttp.ClientResponse, await call)
    async with response:
        raw = await response.read()
        if not 200 <= response.status <= 299:
            failure = ApiException(status=response.status, reason=response.reason)
            failure.body = raw
            raise failure
        return raw


async def create_objects(api: client.ApiClient, scenario: ScaleScenario, *, concurrency: int = 32) -> int:
    """Namespaces and Deployments of the scenario; returns how many Deployments were new (idempotent)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for namespace in scenario.namespace_names():
        body = {"metadata": {"name": namespace, "labels": {BENCH_LABEL: scenario.name}}}
        try:
            await core.create_namespace(body)  # type: ignore[arg-type]  # a dict is sent as is
        except ApiException as error:
            if error.status != 409:
                raise
    # Plain JSON, here and in the creates' answers: the client's typed objects took minutes for 10,000.
    listing = await _answer(
        apps.list_deployment_for_all_namespaces(label_selector=f"{BENCH_LABEL}={scenario.name}", _preload_content=False)
    )
    existing = {(item["metadata"]["namespace"], item["metadata"]["name"]) for item in json.loads(listing)["items"]}
    limit = asyncio.Semaphore(concurrency)

    async def create(w: ScaleWorkload) -> int:
        if (w.namespace, w.name) in existing:
            return 0
        async with limit:
            body = _deployment(scenario, w)
            try:
                await _answer(apps.create_namespaced_deployment(w.namespace, body, _preload_content=False))  # type: ignore[arg-type]
            except ApiException as error:
                if error.status != 409:
                    raise
                return 0
        return 1

    return sum(await asyncio.gather(*(create(w) for w in workloads(scenario))))
