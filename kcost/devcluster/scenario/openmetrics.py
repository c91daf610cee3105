"""The scenario's history as OpenMetrics text, shaped like cAdvisor and kube-state-metrics.

Series are grouped by metric name (OpenMetrics wants a family's samples together)
and split round-robin over several files, so that promtool can turn them into
blocks on every core at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from kcost.devcluster.nodes import NodeSpec
from kcost.devcluster.scenario.model import Scenario
from kcost.devcluster.scenario.usage import CFS_PERIODS_PER_S, PodHistory, pods, timeline

Labels = dict[str, str]
# (metric name, labels, values, first sample index)
Series = tuple[str, Labels, np.ndarray, int]

CADVISOR = {"job": "kubelet", "metrics_path": "/metrics/cadvisor"}
KSM = {"job": "kube-state-metrics"}


def _label_name(key: str) -> str:
    """kube-state-metrics' form of a Kubernetes label key: ``label_`` plus [a-zA-Z0-9_]."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _counter(rate_per_sample: np.ndarray, resets: list[int]) -> np.ndarray:
    """A cumulative counter that restarts from zero where the container restarted."""
    total = np.cumsum(rate_per_sample)
    for reset in resets:
        total[reset:] -= total[reset - 1] if reset > 0 else 0.0
    return total


def _constant(value: float, length: int) -> np.ndarray:
    return np.full(length, float(value))


def node_series(node: NodeSpec, length: int) -> Iterator[Series]:
    labels = {"node": node.name, **KSM}
    node_labels = {_label_name(key): value for key, value in node.cloud_labels().items()}
    yield "kube_node_labels", {**labels, **node_labels}, _constant(1, length), 0
    yield (
        "kube_node_info",
        {**labels, "kubelet_version": "kwok", "provider_id": f"{node.provider}://{node.name}"},
        _constant(1, length),
        0,
    )
    for metric in ("kube_node_status_capacity", "kube_node_status_allocatable"):
        yield metric, {**labels, "resource": "cpu", "unit": "core"}, _constant(node.cpu_cores, length), 0
        yield metric, {**labels, "resource": "memory", "unit": "byte"}, _constant(node.memory_bytes, length), 0


def pod_series(pod: PodHistory, step_s: int) -> Iterator[Series]:
    length = pod.stop - pod.start
    ns = pod.workload.namespace
    base = {"namespace": ns, "pod": pod.name}
    ksm = {**base, **KSM}
    yield (
        "kube_pod_owner",
        {**ksm, "owner_kind": pod.owner_kind, "owner_name": pod.owner_name, "owner_is_controller": "true"},
        _constant(1, length),
        pod.start,
    )
    yield (
        "kube_pod_info",
        {**ksm, "node": pod.node, "created_by_kind": pod.owner_kind, "created_by_name": pod.owner_name},
        _constant(1, length),
        pod.start,
    )
    pod_labels = {_label_name(key): value for key, value in pod.workload.labels.items()}
    yield (
        "kube_pod_labels",
        {**ksm, _label_name("app.kubernetes.io/name"): pod.workload.name, **pod_labels},
        _constant(1, length),
        pod.start,
    )
    network = {**base, **CADVISOR, "interface": "eth0", "node": pod.node}
    yield "container_network_receive_bytes_total", network, _counter(pod.network_rx_bytes_per_s * step_s, []), pod.start
    yield (
        "container_network_transmit_bytes_total",
        network,
        _counter(pod.network_rx_bytes_per_s * step_s / 2, []),
        pod.start,
    )
    for container in pod.containers:
        spec = container.spec
        ksm_c = {**ksm, "container": spec.name, "node": pod.node}
        cadvisor = {**base, **CADVISOR, "container": spec.name, "node": pod.node, "image": spec.image}
        yield (
            "container_cpu_usage_seconds_total",
            cadvisor,
            _counter(container.cpu_cores * step_s, container.oom_kill_offsets),
            pod.start,
        )
        yield "container_memory_working_set_bytes", cadvisor, container.memory_bytes, pod.start
        if spec.cpu_limit_cores is not None:
            periods = _constant(CFS_PERIODS_PER_S * step_s, length)
            yield "container_cpu_cfs_periods_total", cadvisor, _counter(periods, container.oom_kill_offsets), pod.start
            yield (
                "container_cpu_cfs_throttled_periods_total",
                cadvisor,
                _counter(periods * container.throttled_share, container.oom_kill_offsets),
                pod.start,
            )
        resources = [
            ("kube_pod_container_resource_requests", "cpu", "core", spec.cpu_request_cores),
            ("kube_pod_container_resource_requests", "memory", "byte", spec.memory_request_bytes),
            ("kube_pod_container_resource_limits", "cpu", "core", spec.cpu_limit_cores),
            ("kube_pod_container_resource_limits", "memory", "byte", spec.memory_limit_bytes),
        ]
        for metric, resource, unit, value in resources:
            if value is not None:
                yield metric, {**ksm_c, "resource": resource, "unit": unit}, _constant(value, length), pod.start
        restarts = np.zeros(length)
        for kill in container.oom_kill_offsets:
            restarts[kill:] += 1
        yield "kube_pod_container_status_restarts_total", {**ksm, "container": spec.name}, restarts, pod.start
        if container.oom_kill_offsets:
            first = container.oom_kill_offsets[0]
            reason = {**ksm, "container": spec.name, "reason": "OOMKilled"}
            yield (
                "kube_pod_container_status_last_terminated_reason",
                reason,
                _constant(1, length - first),
                pod.start + first,
            )


def owner_series(scenario: Scenario, all_pods: list[PodHistory], length: int) -> Iterator[Series]:
    """Workload-level series: ReplicaSet and Job owners, HPAs, workload metadata."""
    seen: set[tuple[str, str]] = set()
    for pod in all_pods:
        workload = pod.workload
        key = (workload.namespace, pod.owner_name)
        if key in seen:
            continue
        seen.add(key)
        owner = {"namespace": workload.namespace, **KSM, "owner_is_controller": "true"}
        span = (pod.start, pod.stop)
        if pod.owner_kind == "ReplicaSet":
            labels = {**owner, "replicaset": pod.owner_name, "owner_kind": "Deployment", "owner_name": workload.name}
            yield "kube_replicaset_owner", labels, _constant(1, span[1] - span[0]), span[0]
        elif pod.owner_kind == "Job":
            labels = {**owner, "job_name": pod.owner_name, "owner_kind": "CronJob", "owner_name": workload.name}
            yield "kube_job_owner", labels, _constant(1, span[1] - span[0]), span[0]
    for workload in scenario.workloads:
        if workload.hpa is None:
            continue
        hpa = {"namespace": workload.namespace, "horizontalpodautoscaler": workload.name, **KSM}
        info = {**hpa, "scaletargetref_kind": workload.kind, "scaletargetref_name": workload.name}
        yield "kube_horizontalpodautoscaler_info", info, _constant(1, length), 0
        target = {**hpa, "metric_name": "cpu", "metric_target_type": "utilization"}
        yield (
            "kube_horizontalpodautoscaler_spec_target_metric",
            target,
            _constant(workload.hpa.target_cpu_utilization_pct, length),
            0,
        )
        yield "kube_horizontalpodautoscaler_spec_min_replicas", hpa, _constant(workload.hpa.min_replicas, length), 0
        yield "kube_horizontalpodautoscaler_spec_max_replicas", hpa, _constant(workload.hpa.max_replicas, length), 0


def all_series(scenario: Scenario, end_s: int) -> list[Series]:
    length = len(timeline(scenario, end_s))
    history = pods(scenario, end_s)
    series: list[Series] = []
    for node in scenario.nodes:
        series.extend(node_series(node, length))
    for pod in history:
        series.extend(pod_series(pod, scenario.step_s))
    series.extend(owner_series(scenario, history, length))
    series.sort(key=lambda item: item[0])
    return series


def _format_labels(name: str, labels: Labels) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _write_series(out: TextIO, item: Series, times: np.ndarray) -> int:
    name, labels, values, start = item
    prefix = _format_labels(name, labels)
    stamps = times[start : start + len(values)]
    out.write(
        "".join(
            f"{prefix} {value:.12g} {stamp}\n" for value, stamp in zip(values.tolist(), stamps.tolist(), strict=True)
        )
    )
    return len(values)


def write(scenario: Scenario, end_s: int, directory: Path, shards: int) -> tuple[list[Path], int]:
    """Write the history into ``shards`` OpenMetrics files; returns them and the sample count."""
    times = timeline(scenario, end_s)
    paths = [directory / f"history-{index}.om" for index in range(shards)]
    handles = [path.open("w") for path in paths]
    samples = 0
    try:
        for index, item in enumerate(all_series(scenario, end_s)):
            samples += _write_series(handles[index % shards], item, times)
        for handle in handles:
            handle.write("# EOF\n")
    finally:
        for handle in handles:
            handle.close()
    return paths, samples
