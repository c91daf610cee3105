"""What an applied change saved, from measured usage: the arithmetic, kept pure so it is tested without a cluster.

A window's monthly cost follows the cost model (OpenCost): each container costs
max(request, usage) × the unit price of the nodes its pods ran on. Usage is the
workload's samples in the window, pooled over its pods; the mean of max(request,
sample) per container is what one replica costs, times the replicas. Requests are
the ones kcost recorded: ``status.previous`` before, the applied values
(``status.rollout.target``) after.

Regressions compare the window after the change with the same length of time
before it: any OOM kill after, more container restarts than before, or CPU
throttling up by ``THROTTLING_REGRESSION_POINTS`` percentage points or more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.recommendation import Regressions, WorkloadShape

THROTTLING_REGRESSION_POINTS = 10.0
MAX_FOUND = 10


@dataclasses.dataclass(frozen=True)
class ContainerUsage:
    """One container's usage samples in a window, pooled over the workload's pods."""

    cpu_cores: np.ndarray
    memory_bytes: np.ndarray


@dataclasses.dataclass(frozen=True)
class WindowUsage:
    """What Prometheus showed of the workload in one window."""

    containers: Mapping[str, ContainerUsage]
    nodes: Sequence[str] = ()
    oom_kills: int = 0
    restarts: int = 0
    cpu_throttled_percent: float | None = None

    @property
    def empty(self) -> bool:
        return not any(c.cpu_cores.size or c.memory_bytes.size for c in self.containers.values())


# (cpu cores, memory bytes, replicas, nodes) → monthly cost: the cluster's node prices (``ClusterRates``).
MonthlyCost = Callable[[float, float, int, Sequence[str]], float]


def _requested(shape: WorkloadShape, container: str) -> tuple[float, float]:
    for spec in shape.containers:
        if spec.name == container and spec.requests is not None:
            cpu = parse_quantity(spec.requests.cpu) if spec.requests.cpu is not None else 0.0
            memory = parse_quantity(spec.requests.memory) if spec.requests.memory is not None else 0.0
            return cpu, memory
    return 0.0, 0.0


def _mean_at_least(samples: np.ndarray, floor: float) -> float:
    return float(np.maximum(samples, floor).mean()) if samples.size else floor


def monthly_cost(shape: WorkloadShape, replicas: int, usage: WindowUsage, price: MonthlyCost) -> float:
    """The window's monthly cost of the workload: Σ containers of max(request, usage) at its nodes' prices."""
    names = {c.name for c in shape.containers} | set(usage.containers)
    total = 0.0
    for name in sorted(names):
        cpu_request, memory_request = _requested(shape, name)
        seen = usage.containers.get(name)
        cpu = _mean_at_least(seen.cpu_cores, cpu_request) if seen is not None else cpu_request
        memory = _mean_at_least(seen.memory_bytes, memory_request) if seen is not None else memory_request
        total += price(cpu, memory, replicas, usage.nodes)
    return total


def estimate_error_percent(realized_usd: float, estimated_usd: float) -> float | None:
    """How far the measurement is from the estimate, in percent of the estimate (None without an estimate)."""
    if estimated_usd <= 0:
        return None
    return (realized_usd - estimated_usd) / estimated_usd * 100


def regressions(before: WindowUsage, after: WindowUsage) -> Regressions:
    """What got worse after the change; ``found`` says each one plainly (empty: nothing did)."""
    found = []
    if after.oom_kills:
        found.append(f"{after.oom_kills} OOM kill(s) after the change")
    if after.restarts > before.restarts:
        found.append(f"container restarts rose from {before.restarts} to {after.restarts}")
    throttled_before = before.cpu_throttled_percent or 0.0
    if (
        after.cpu_throttled_percent is not None
        and after.cpu_throttled_percent - throttled_before >= THROTTLING_REGRESSION_POINTS
    ):
        found.append(f"CPU throttling rose from {throttled_before:.1f}% to {after.cpu_throttled_percent:.1f}%")
    return Regressions(
        oom_kills=after.oom_kills,
        restarts_before=before.restarts,
        restarts_after=after.restarts,
        cpu_throttled_percent_before=_percent(before.cpu_throttled_percent),
        cpu_throttled_percent_after=_percent(after.cpu_throttled_percent),
        found=found[:MAX_FOUND],
    )


def _percent(value: float | None) -> float | None:
    return None if value is None else round(min(100.0, max(0.0, value)), 2)
