"""Pods of a scenario and their usage over time, as numpy arrays.

Everything here is a pure function of the scenario and the end time, seeded per
(workload, pod, container), so tests can recompute what was written to Prometheus.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from croniter import croniter

from kcost.devcluster.scenario import traces
from kcost.devcluster.scenario.model import ContainerSpec, Scenario, UsagePattern, WorkloadSpec

GENERATOR_VERSION = 1
# CFS enforces limits in 100 ms periods.
CFS_PERIODS_PER_S = 10


@dataclass(frozen=True)
class ContainerHistory:
    """One container's samples over its pod's lifetime."""

    spec: ContainerSpec
    cpu_cores: np.ndarray
    memory_bytes: np.ndarray
    throttled_share: np.ndarray
    oom_kill_offsets: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PodHistory:
    """One pod: where it ran, who owned it, and samples ``[start, stop)`` of the timeline."""

    workload: WorkloadSpec
    name: str
    node: str
    owner_kind: str
    owner_name: str
    start: int
    stop: int
    containers: list[ContainerHistory]
    network_rx_bytes_per_s: np.ndarray


def timeline(scenario: Scenario, end_s: int) -> np.ndarray:
    """Sample timestamps (Unix seconds), oldest first, the last one at ``end_s``."""
    count = int(scenario.days * 86400 // scenario.step_s)
    return end_s - scenario.step_s * np.arange(count - 1, -1, -1, dtype=np.int64)


def _rng(scenario: Scenario, *parts: str) -> np.random.Generator:
    digest = hashlib.sha256("/".join((str(scenario.seed), *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _suffix(scenario: Scenario, length: int, *parts: str) -> str:
    # Kubernetes' random name suffixes avoid vowels and look-alike digits.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    rng = _rng(scenario, "name", *parts)
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), length))


@dataclass(frozen=True)
class PodSlot:
    """Where and when one pod of a workload lives; ``node`` is None where the scheduler picks."""

    name: str
    owner_kind: str
    owner_name: str
    start: int
    stop: int
    node: str | None = None


def pods(scenario: Scenario, end_s: int) -> list[PodHistory]:
    """Every pod the scenario's history contains, in a stable order."""
    times = timeline(scenario, end_s)
    result: list[PodHistory] = []
    node_names = [node.name for node in scenario.nodes]
    placement = 0
    for workload in scenario.workloads:
        for slot in _pod_slots(scenario, workload, times, node_names):
            node = slot.node
            if node is None:
                node = node_names[placement % len(node_names)]
                placement += 1
            result.append(_pod_history(scenario, workload, times, slot, node))
    return result


def replicaset_name(scenario: Scenario, workload: WorkloadSpec, generation: int) -> str:
    return f"{workload.name}-{_suffix(scenario, 10, workload.namespace, workload.name, 'rs', str(generation))}"


def job_name(workload: WorkloadSpec, scheduled_s: int) -> str:
    # The CronJob controller names jobs after the scheduled time in minutes.
    return f"{workload.name}-{scheduled_s // 60}"


def _pod_slots(scenario: Scenario, workload: WorkloadSpec, times: np.ndarray, node_names: list[str]) -> list[PodSlot]:
    count = len(times)
    ns, wl = workload.namespace, workload.name
    if workload.kind == "Deployment":
        cut = int(count * workload.rollout_at_fraction) if workload.rollout_at_fraction else 0
        generations = [(0, cut, count)] if not cut else [(0, 0, cut), (1, cut, count)]
        slots = []
        for generation, start, stop in generations:
            rs = replicaset_name(scenario, workload, generation)
            for replica in range(workload.replicas):
                pod = f"{rs}-{_suffix(scenario, 5, ns, wl, str(generation), str(replica))}"
                slots.append(PodSlot(pod, "ReplicaSet", rs, start, stop))
        return slots
    if workload.kind == "StatefulSet":
        return [PodSlot(f"{wl}-{i}", "StatefulSet", wl, 0, count) for i in range(workload.replicas)]
    if workload.kind == "DaemonSet":
        return [
            PodSlot(f"{wl}-{_suffix(scenario, 5, ns, wl, node)}", "DaemonSet", wl, 0, count, node)
            for node in node_names
        ]
    # CronJob: one pod per scheduled run inside the window.
    step = scenario.step_s
    run_samples = max(1, workload.run_minutes * 60 // step)
    first = datetime.fromtimestamp(int(times[0]) - 1, UTC)
    schedule = croniter(workload.schedule, first)
    slots = []
    while (scheduled := int(schedule.get_next(float))) <= int(times[-1]):
        start = int(np.searchsorted(times, scheduled))
        job = job_name(workload, scheduled)
        pod = f"{job}-{_suffix(scenario, 5, ns, job)}"
        slots.append(PodSlot(pod, "Job", job, start, min(count, start + run_samples)))
    return slots


def relative_level(pattern: UsagePattern, rng: np.random.Generator, times: np.ndarray, step_s: int) -> np.ndarray:
    """Relative level over time (mean about 1) for CPU and traffic."""
    n = len(times)
    noise = rng.normal(0.0, 0.05, n)
    if pattern is UsagePattern.DIURNAL:
        hour = (times % 86400) / 3600.0
        # Peak mid-afternoon UTC, trough at night; weekends lighter.
        daily = 1.0 + 0.7 * np.sin(2 * math.pi * (hour - 9.0) / 24.0)
        weekend = np.where(((times // 86400) + 4) % 7 >= 5, 0.6, 1.0)
        diurnal: np.ndarray = np.clip(daily * weekend + noise, 0.02, None)
        return diurnal
    if pattern is UsagePattern.BURSTY:
        level = np.full(n, 0.6) + noise
        burst_len = max(1, 600 // step_s)
        for begin in np.flatnonzero(rng.random(n) < 0.01 / burst_len):
            level[begin : begin + burst_len] *= rng.uniform(3.0, 5.0)
        return np.clip(level, 0.02, None)
    if pattern is UsagePattern.IDLE:
        return np.clip(0.02 + 0.005 * rng.standard_normal(n), 0.0, None)
    return np.clip(1.0 + noise, 0.02, None)


def _container_history(
    scenario: Scenario, workload: WorkloadSpec, pod: str, spec: ContainerSpec, *, window: np.ndarray, shape: np.ndarray
) -> ContainerHistory:
    rng = _rng(scenario, workload.namespace, pod, spec.name)
    if spec.trace is not None:
        cpu_raw, memory = traces.resample(spec.trace, window)
    else:
        cpu_raw = spec.cpu_usage_cores * shape
        memory = spec.memory_usage_bytes * np.clip(1.0 + rng.normal(0.0, 0.02, len(window)), 0.5, None)
        if workload.pattern is UsagePattern.DIURNAL:
            memory = memory * (0.8 + 0.2 * shape / max(float(shape.mean()), 1e-9))
    if spec.cpu_spike_last_hours and len(window):
        spiking = window > window[-1] - spec.cpu_spike_last_hours * 3600
        cpu_raw = np.where(spiking, cpu_raw * spec.cpu_spike_factor, cpu_raw)
    cpu = cpu_raw if spec.cpu_limit_cores is None else np.minimum(cpu_raw, spec.cpu_limit_cores)
    throttled = np.where(cpu_raw > 0, np.clip((cpu_raw - cpu) / np.maximum(cpu_raw, 1e-12), 0.0, 1.0), 0.0)
    kills: list[int] = []
    if spec.memory_leak_bytes_per_hour and spec.memory_limit_bytes is not None:
        memory, kills = _leak(memory, spec.memory_leak_bytes_per_hour, spec.memory_limit_bytes, scenario.step_s)
    return ContainerHistory(spec, cpu, memory, throttled, kills)


def _leak(base: np.ndarray, bytes_per_hour: int, limit_bytes: int, step_s: int) -> tuple[np.ndarray, list[int]]:
    """Memory that grows until the limit, where the kernel OOM-kills and it starts over."""
    growth_per_sample = bytes_per_hour * step_s / 3600.0
    memory = np.empty_like(base)
    kills: list[int] = []
    since_restart = 0
    for i, level in enumerate(base):
        value = level + growth_per_sample * since_restart
        if value >= limit_bytes:
            kills.append(i)
            since_restart = 0
            value = level
        memory[i] = value
        since_restart += 1
    return memory, kills


def _pod_history(scenario: Scenario, workload: WorkloadSpec, times: np.ndarray, slot: PodSlot, node: str) -> PodHistory:
    window = times[slot.start : slot.stop]
    shape = relative_level(
        workload.pattern, _rng(scenario, workload.namespace, slot.name, "shape"), window, scenario.step_s
    )
    containers = [
        _container_history(scenario, workload, slot.name, spec, window=window, shape=shape)
        for spec in workload.containers
    ]
    traffic = shape if workload.pattern is not UsagePattern.IDLE else np.zeros_like(shape)
    return PodHistory(
        workload,
        slot.name,
        node,
        slot.owner_kind,
        slot.owner_name,
        slot.start,
        slot.stop,
        containers,
        workload.network_bytes_per_s * traffic,
    )
