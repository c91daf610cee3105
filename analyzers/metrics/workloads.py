"""Workloads in scope and their usage, loaded from the kube API and Prometheus.

Queries are batched per namespace (their number grows with namespaces, never with
workloads) and PromQL does the aggregation. Pods map to their workload through the
``kube_pod_owner`` / ``kube_replicaset_owner`` / ``kube_job_owner`` series, so pods that
no longer exist (an earlier rollout) still count toward their workload's history.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.api.v1alpha1.common import LabelSelector, parse_quantity
from kcost.api.v1alpha1.recommendation import TARGET_RESOURCES
from kcost.kube.client import KubeClient

# The kinds analyzed: kind → (apiVersion, plural). Argo Rollouts and bare Jobs are not yet.
WORKLOAD_KINDS = {kind: TARGET_RESOURCES[kind] for kind in ("Deployment", "StatefulSet", "DaemonSet", "CronJob")}
MAX_POINTS_PER_SERIES = 10_000  # Prometheus refuses more than 11,000 per series


@dataclass
class ContainerSeries:
    """Samples of one container name, pooled over all pods of the workload."""

    # pod → timestamp → [cpu cores, memory bytes]; a missing resource stays 0.
    samples: dict[str, dict[float, list[float]]] = field(default_factory=dict)
    oom_kills: int = 0

    def add(self, pod: str, values: np.ndarray, column: int) -> None:
        by_time = self.samples.setdefault(pod, {})
        for ts_s, value in values.tolist():
            if math.isfinite(value):
                by_time.setdefault(ts_s, [0.0, 0.0])[column] = value

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Timestamps, CPU cores and memory bytes of every pod, in time order."""
        rows = sorted(
            (ts_s, cpu, memory) for by_time in self.samples.values() for ts_s, (cpu, memory) in by_time.items()
        )
        if not rows:
            empty = np.zeros(0)
            return empty, empty, empty
        table = np.asarray(rows, dtype=float)
        return table[:, 0], table[:, 1], table[:, 2]


@dataclass
class Workload:
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    replicas: int
    hpa_cpu_target_pct: int | None = None
    containers: dict[str, ContainerSeries] = field(default_factory=dict)
    network_max_bytes_per_s: float | None = None
    pods_seen: set[str] = field(default_factory=set)

    @property
    def api_version(self) -> str:
        return WORKLOAD_KINDS[self.kind][0]

    def template_containers(self) -> list[dict[str, Any]]:
        spec = self.body.get("spec", {})
        if self.kind == "CronJob":
            spec = spec.get("jobTemplate", {}).get("spec", {})
        return list(spec.get("template", {}).get("spec", {}).get("containers", []))

    def requests(self, container: str) -> dict[str, float | None]:
        for item in self.template_containers():
            if item["name"] == container:
                resources = item.get("resources") or {}
                requests, limits = resources.get("requests") or {}, resources.get("limits") or {}

                def read(source: dict[str, Any], key: str) -> float | None:
                    return parse_quantity(source[key]) if key in source else None

                return {
                    "cpu_request": read(requests, "cpu"),
                    "memory_request": read(requests, "memory"),
                    "cpu_limit": read(limits, "cpu"),
                    "memory_limit": read(limits, "memory"),
                }
        return {"cpu_request": None, "memory_request": None, "cpu_limit": None, "memory_limit": None}


async def discover(kube: KubeClient, namespaces: list[str], selector: LabelSelector | None) -> list[Workload]:
    """Deployments, StatefulSets, DaemonSets and CronJobs in scope, with their HPAs."""
    found: list[Workload] = []
    for namespace in namespaces:
        hpas = await kube.list_workloads("autoscaling/v2", "horizontalpodautoscalers", namespace)
        hpa_targets = {}
        for hpa in hpas:
            ref = hpa["spec"]["scaleTargetRef"]
            cpu = next(
                (
                    m["resource"]["target"].get("averageUtilization")
                    for m in hpa["spec"].get("metrics", [])
                    if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
                ),
                None,
            )
            hpa_targets[(ref["kind"], ref["name"])] = int(cpu) if cpu else 100
        for kind, (api_version, plural) in WORKLOAD_KINDS.items():
            for body in await kube.list_workloads(api_version, plural, namespace):
                labels = body["metadata"].get("labels") or {}
                if selector is not None and not selector.matches(labels):
                    continue
                replicas = (
                    int(body.get("spec", {}).get("replicas", 1) or 0) if kind in ("Deployment", "StatefulSet") else 1
                )
                if kind == "DaemonSet":
                    replicas = int((body.get("status") or {}).get("desiredNumberScheduled", 1) or 1)
                found.append(
                    Workload(
                        kind,
                        namespace,
                        body["metadata"]["name"],
                        body,
                        replicas,
                        hpa_targets.get((kind, body["metadata"]["name"])),
                    )
                )
    return found


def _step_s(window_s: float, resolution_s: float) -> float:
    return max(resolution_s, math.ceil(window_s / MAX_POINTS_PER_SERIES))


def _owner_key(labels: dict[str, str]) -> tuple[str, str]:
    return labels.get("owner_kind", ""), labels.get("owner_name", "")


async def load_usage(
    prometheus: PrometheusClient,
    workloads: list[Workload],
    start: datetime.datetime,
    end: datetime.datetime,
    resolution: datetime.timedelta,
) -> None:
    """Fill each workload's per-container series, OOM kills and traffic, one namespace at a time."""
    window_s = (end - start).total_seconds()
    step_s = _step_s(window_s, resolution.total_seconds())
    rate_window = f"{int(max(4 * step_s, 300))}s"
    window = f"{int(window_s)}s"
    by_namespace: dict[str, list[Workload]] = defaultdict(list)
    for workload in workloads:
        by_namespace[workload.namespace].append(workload)
    t0, t1 = start.timestamp(), end.timestamp()
    for namespace, members in by_namespace.items():
        ns = f'namespace="{namespace}"'
        pod_owner = await _pod_workloads(prometheus, ns, window, t1)
        index = {(w.kind, w.name): w for w in members}
        cpu = await prometheus.query_range(
            f'sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{ns},container!=""}}[{rate_window}]))',
            t0,
            t1,
            step_s,
        )
        memory = await prometheus.query_range(
            f'max by (pod, container) (container_memory_working_set_bytes{{{ns},container!=""}})', t0, t1, step_s
        )
        for results, is_cpu in ((cpu, True), (memory, False)):
            for item in results:
                member = index.get(pod_owner.get(item["metric"].get("pod", ""), ("", "")))
                if member is None:
                    continue
                values = np.asarray(item["values"], dtype=float).reshape(-1, 2)
                pod = item["metric"].get("pod", "")
                container = member.containers.setdefault(item["metric"].get("container", ""), ContainerSeries())
                member.pods_seen.add(pod)
                container.add(pod, values, 0 if is_cpu else 1)
        ooms = await prometheus.query(
            f"max by (pod, container) (max_over_time(kube_pod_container_status_restarts_total{{{ns}}}[{window}])"
            f" - min_over_time(kube_pod_container_status_restarts_total{{{ns}}}[{window}]))"
            f" and on (pod, container) max_over_time(kube_pod_container_status_last_terminated_reason"
            f'{{{ns},reason="OOMKilled"}}[{window}])',
            t1,
        )
        for item in ooms:
            owner = index.get(pod_owner.get(item["metric"].get("pod", ""), ("", "")))
            if owner is not None:
                killed = owner.containers.setdefault(item["metric"].get("container", ""), ContainerSeries())
                killed.oom_kills += max(1, int(float(item["value"][1])))
        traffic = await prometheus.query(
            f"max by (pod) (max_over_time(rate(container_network_receive_bytes_total{{{ns}}}[{rate_window}])"
            f"[{window}:{int(step_s)}s]))",
            t1,
        )
        for item in traffic:
            receiver = index.get(pod_owner.get(item["metric"].get("pod", ""), ("", "")))
            if receiver is not None:
                value = float(item["value"][1])
                if math.isfinite(value):
                    receiver.network_max_bytes_per_s = max(receiver.network_max_bytes_per_s or 0.0, value)


async def _pod_workloads(prometheus: PrometheusClient, ns: str, window: str, at_s: float) -> dict[str, tuple[str, str]]:
    """pod → (workload kind, workload name), through the owner series over the window."""
    pods = await prometheus.query(
        f"max by (pod, owner_kind, owner_name) (max_over_time(kube_pod_owner{{{ns}}}[{window}]))", at_s
    )
    replicasets = await prometheus.query(
        f"max by (replicaset, owner_kind, owner_name) (max_over_time(kube_replicaset_owner{{{ns}}}[{window}]))", at_s
    )
    jobs = await prometheus.query(
        f"max by (job_name, owner_kind, owner_name) (max_over_time(kube_job_owner{{{ns}}}[{window}]))", at_s
    )
    rs_owner = {r["metric"].get("replicaset", ""): _owner_key(r["metric"]) for r in replicasets}
    job_owner = {j["metric"].get("job_name", ""): _owner_key(j["metric"]) for j in jobs}
    mapping = {}
    for item in pods:
        kind, name = _owner_key(item["metric"])
        if kind == "ReplicaSet":
            kind, name = rs_owner.get(name, ("", ""))
        elif kind == "Job":
            kind, name = job_owner.get(name, ("", ""))
        if kind:
            mapping[item["metric"].get("pod", "")] = (kind, name)
    return mapping
