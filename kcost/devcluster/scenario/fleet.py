"""Sizing a scenario's fleet: nodes are added until every pod fits, with headroom."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kcost.api.units import GIB
from kcost.devcluster import instance_types
from kcost.devcluster.nodes import NodeSpec, nodes_of_type
from kcost.devcluster.scenario.model import WorkloadSpec

# The fraction of each node left free: the scheduler spreads pods instead of packing
# them, so a fleet filled to the brim would leave large pods Pending.
HEADROOM = 0.2
DEFAULT_NODE_TYPE = "m5.8xlarge"


class FleetError(ValueError):
    """No instance type of the catalog holds a pod; the message names the workload."""


@dataclass(frozen=True)
class PodRequest:
    """What one pod of a workload asks for."""

    workload: str
    cpu_cores: float
    memory_bytes: float


@dataclass
class _Room:
    """What is left of one node's usable capacity."""

    cpu_cores: float
    memory_bytes: float

    def holds(self, pod: PodRequest) -> bool:
        return pod.cpu_cores <= self.cpu_cores and pod.memory_bytes <= self.memory_bytes

    def take(self, pod: PodRequest) -> None:
        self.cpu_cores -= pod.cpu_cores
        self.memory_bytes -= pod.memory_bytes


def pod_requests(workloads: Sequence[WorkloadSpec]) -> tuple[list[PodRequest], PodRequest]:
    """Every pod that lands on one node, and what the DaemonSets take on each node."""
    pods: list[PodRequest] = []
    daemon_cpu_cores = daemon_memory_bytes = 0.0
    for workload in workloads:
        cpu = sum(container.cpu_request_cores for container in workload.containers)
        memory = sum(container.memory_request_bytes for container in workload.containers)
        if workload.kind == "DaemonSet":
            daemon_cpu_cores += cpu
            daemon_memory_bytes += memory
            continue
        count = 1 if workload.kind == "CronJob" else workload.replicas
        pods += [PodRequest(f"{workload.namespace}/{workload.name}", cpu, memory)] * count
    return pods, PodRequest("daemonsets", daemon_cpu_cores, daemon_memory_bytes)


def fit(
    workloads: Sequence[WorkloadSpec],
    nodes: Sequence[NodeSpec],
    *,
    node_type: str = DEFAULT_NODE_TYPE,
    prefix: str = "extra",
    headroom: float = HEADROOM,
) -> list[NodeSpec]:
    """``nodes``, then as many nodes as the pods need to fit with ``headroom`` free on each node."""
    return fit_and_place(workloads, nodes, node_type=node_type, prefix=prefix, headroom=headroom)[0]


def fit_and_place(
    workloads: Sequence[WorkloadSpec],
    nodes: Sequence[NodeSpec],
    *,
    node_type: str = DEFAULT_NODE_TYPE,
    prefix: str = "extra",
    headroom: float = HEADROOM,
) -> tuple[list[NodeSpec], dict[str, str]]:
    """The fleet (``nodes`` plus what the pods need) and the node each single-pod workload was packed on.

    Added nodes are of ``node_type``, or, for a pod too large for it, of the smallest
    type of the same provider that holds it (its own family first). The placement lets
    a loader pin those pods: the scheduler spreads pods in whatever order the controllers
    create them, which can leave a large pod no node with room although the fleet holds it.
    """
    pods, daemons = pod_requests(workloads)
    preferred = instance_types.lookup(node_type)

    def room(cpu_cores: float, memory_bytes: float) -> _Room:
        usable = 1 - headroom
        return _Room(cpu_cores * usable - daemons.cpu_cores, memory_bytes * usable - daemons.memory_bytes)

    fleet = list(nodes)
    rooms = [room(node.cpu_cores, node.memory_bytes) for node in fleet]
    placed: dict[str, list[str]] = {}
    # Largest first (first-fit decreasing), measured against the preferred type.
    by_size = sorted(
        pods,
        key=lambda pod: pod.cpu_cores / preferred.cpu_cores + pod.memory_bytes / (preferred.memory_gib * GIB),
        reverse=True,
    )
    for pod in by_size:
        index = next((i for i, candidate in enumerate(rooms) if candidate.holds(pod)), None)
        if index is None:
            shape = _smallest_holding(pod, preferred, room, headroom)
            taken = sum(node.instance_type == shape.name for node in fleet[len(nodes) :])
            fleet += nodes_of_type(1, shape.name, prefix=prefix, first=taken)
            rooms.append(room(shape.cpu_cores, shape.memory_gib * GIB))
            index = len(rooms) - 1
        rooms[index].take(pod)
        placed.setdefault(pod.workload, []).append(fleet[index].name)
    return fleet, {workload: names[0] for workload, names in placed.items() if len(names) == 1}


def _smallest_holding(
    pod: PodRequest,
    preferred: instance_types.InstanceType,
    room: Callable[[float, float], _Room],
    headroom: float,
) -> instance_types.InstanceType:
    candidates = sorted(
        (shape for shape in instance_types.CATALOG.values() if shape.provider == preferred.provider),
        key=lambda shape: (shape != preferred, shape.family != preferred.family, shape.cpu_cores, shape.memory_gib),
    )
    for shape in candidates:
        if room(shape.cpu_cores, shape.memory_gib * GIB).holds(pod):
            return shape
    raise FleetError(
        f"workload {pod.workload}: a pod requests {pod.cpu_cores:g} cores and {pod.memory_bytes / GIB:.1f} GiB, "
        f"more than any {preferred.provider} instance type of the catalog holds with {headroom:.0%} headroom"
    )


def describe(nodes: Sequence[NodeSpec]) -> str:
    """``8 × m5.8xlarge, 1 × r5.24xlarge``."""
    counts = Counter(node.instance_type for node in nodes)
    return ", ".join(f"{count} × {instance_type}" for instance_type, count in counts.items())
