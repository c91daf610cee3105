"""An OpenCost-compatible cost model.

- A node's hourly price comes from its instance type, region and capacity type.
- It is split into CPU, RAM and GPU unit prices by the default price ratio: the
  base unit rates keep their proportions and are scaled so that they add up to
  the node's price (OpenCost spec, appendix A).
- A container costs max(request, usage) × unit price of its node, per resource.
- Idle = node cost − what is allocated on it (never negative).
All money is in the profile's currency per hour unless a name says otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Re-exported: the cost model's users (kubectl cost) read them here.
from kcost.api.units import GIB as GIB  # noqa: PLC0414
from kcost.api.units import HOURS_PER_MONTH as HOURS_PER_MONTH  # noqa: PLC0414
from kcost.history.grouping import UNALLOCATED

CapacityType = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class UnitRates:
    """Price of one unit of each resource for one hour."""

    cpu_core_hour: float
    memory_gib_hour: float
    gpu_hour: float = 0.95


# GCP us-central1 list prices, the defaults OpenCost uses.
DEFAULT_ON_DEMAND = UnitRates(cpu_core_hour=0.031611, memory_gib_hour=0.004237, gpu_hour=0.95)
DEFAULT_SPOT = UnitRates(cpu_core_hour=0.006655, memory_gib_hour=0.000892, gpu_hour=0.95)
STORAGE_GIB_MONTH = 0.04
EGRESS_INTERNET_GB = 0.12
EGRESS_ZONE_GB = 0.01


def default_rates(capacity_type: CapacityType) -> UnitRates:
    return DEFAULT_SPOT if capacity_type == "spot" else DEFAULT_ON_DEMAND


@dataclass(frozen=True)
class NodeIdentity:
    """What prices a node: read from its well-known labels."""

    provider: str
    region: str
    instance_type: str
    capacity_type: CapacityType


def node_identity(labels: Mapping[str, str], provider_hint: str = "", region_hint: str = "") -> NodeIdentity:
    """Instance type, region and capacity type from the labels each cloud sets."""
    spot = (
        labels.get("karpenter.sh/capacity-type") == "spot"
        or labels.get("eks.amazonaws.com/capacityType") == "SPOT"
        or labels.get("cloud.google.com/gke-spot") == "true"
        or labels.get("cloud.google.com/gke-preemptible") == "true"
        or labels.get("kubernetes.azure.com/scalesetpriority") == "spot"
    )
    # The node's own labels win over the profile's provider: a cluster can span clouds.
    provider = provider_hint
    if any(key.startswith(("eks.amazonaws.com/", "karpenter.k8s.aws/")) for key in labels):
        provider = "aws"
    elif any(key.startswith("cloud.google.com/") for key in labels):
        provider = "gcp"
    elif any(key.startswith("kubernetes.azure.com/") for key in labels):
        provider = "azure"
    return NodeIdentity(
        provider=provider,
        region=labels.get("topology.kubernetes.io/region", region_hint),
        instance_type=labels.get(
            "node.kubernetes.io/instance-type", labels.get("beta.kubernetes.io/instance-type", "")
        ),
        capacity_type="spot" if spot else "on-demand",
    )


def split_node_price(
    hourly_price: float, cpu_cores: float, memory_gib: float, gpus: float, base: UnitRates
) -> UnitRates:
    """Unit prices that keep ``base``'s ratios and add up to the node's price.

    E.g. a node of 1 GPU, 1 CPU and 1 GiB at 35 with base rates 30, 30 and 10 splits
    into 15 + 15 + 5 (scale 35 / 70).
    """
    base_total = cpu_cores * base.cpu_core_hour + memory_gib * base.memory_gib_hour + gpus * base.gpu_hour
    if hourly_price < 0 or base_total <= 0:
        raise ValueError(f"cannot split a node price of {hourly_price} over {cpu_cores} cores and {memory_gib} GiB")
    scale = hourly_price / base_total
    return UnitRates(base.cpu_core_hour * scale, base.memory_gib_hour * scale, base.gpu_hour * scale)


@dataclass(frozen=True)
class PricedNode:
    name: str
    hourly_price: float
    cpu_cores: float
    memory_gib: float
    gpus: float
    rates: UnitRates
    identity: NodeIdentity
    price_source: str = "default"


def price_node(
    name: str,
    identity: NodeIdentity,
    cpu_cores: float,
    memory_gib: float,
    gpus: float,
    *,
    hourly_price: float | None,
    price_source: str,
) -> PricedNode:
    """A node with its unit rates; without a known price it is priced at the default rates."""
    base = default_rates(identity.capacity_type)
    if hourly_price is None:
        hourly_price = cpu_cores * base.cpu_core_hour + memory_gib * base.memory_gib_hour + gpus * base.gpu_hour
        price_source = "default"
    rates = split_node_price(hourly_price, cpu_cores, memory_gib, gpus, base)
    return PricedNode(name, hourly_price, cpu_cores, memory_gib, gpus, rates, identity, price_source)


@dataclass(frozen=True)
class ContainerUse:
    """One container's requests and usage over the period (averages)."""

    namespace: str
    pod: str
    container: str
    node: str
    workload_kind: str = ""
    workload_name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu_request_cores: float = 0.0
    cpu_usage_cores: float = 0.0
    memory_request_bytes: float = 0.0
    memory_usage_bytes: float = 0.0
    gpu_request: float = 0.0


@dataclass(frozen=True)
class ContainerCost:
    use: ContainerUse
    cpu: float
    memory: float
    gpu: float

    @property
    def total(self) -> float:
        return self.cpu + self.memory + self.gpu


@dataclass
class Allocation:
    """Costs for ``hours`` of running: per container, per node idle, and totals."""

    hours: float
    containers: list[ContainerCost]
    idle_by_node: dict[str, float]
    node_cost: dict[str, float]
    unpriced_containers: int = 0

    @property
    def allocated(self) -> float:
        return sum(c.total for c in self.containers)

    @property
    def idle(self) -> float:
        return sum(self.idle_by_node.values())

    @property
    def total(self) -> float:
        return sum(self.node_cost.values())

    def by(self, key: str) -> dict[str, float]:
        """Cost by ``namespace``, ``workload`` (namespace/kind/name), ``node`` or ``label=KEY``."""
        grouped: dict[str, float] = defaultdict(float)
        for cost in self.containers:
            grouped[group_key(cost.use, key)] += cost.total
        return dict(grouped)


def group_key(use: ContainerUse, key: str) -> str:
    """The group ``use`` falls in for ``key``: namespace, workload, node or label=KEY.

    Workloads read ``namespace/Kind/name`` and a pod without the label falls in
    ``__unallocated__``, as the history store's groups do.
    """
    if key == "namespace":
        return use.namespace
    if key == "node":
        return use.node
    if key == "workload":
        kind, name = workload_of(use)
        return f"{use.namespace}/{kind}/{name}"
    if key.startswith("label="):
        return use.labels.get(key.removeprefix("label="), UNALLOCATED)
    raise ValueError(f"cannot group by {key!r}; expected namespace, workload, node or label=KEY")


def workload_of(use: ContainerUse) -> tuple[str, str]:
    """The kind and name of the workload running ``use``: its pod's controller, the pod itself without one.

    A ReplicaSet a Deployment made counts as that Deployment: the Deployment controller
    names it ``<deployment>-<pod-template-hash>`` and labels its pods with the hash, so a
    rollout's old and new ReplicaSets add up to one workload.
    """
    if not use.workload_kind:
        return "Pod", use.pod
    template_hash = use.labels.get("pod-template-hash")
    if use.workload_kind == "ReplicaSet" and template_hash and use.workload_name.endswith(f"-{template_hash}"):
        return "Deployment", use.workload_name.removesuffix(f"-{template_hash}")
    return use.workload_kind, use.workload_name or use.pod


def allocate(nodes: Iterable[PricedNode], containers: Iterable[ContainerUse], hours: float = 1.0) -> Allocation:
    """Allocate node costs to containers over ``hours``; what is left on each node is idle."""
    by_name = {node.name: node for node in nodes}
    costs: list[ContainerCost] = []
    allocated: dict[str, float] = defaultdict(float)
    unpriced = 0
    for use in containers:
        node = by_name.get(use.node)
        if node is None:
            unpriced += 1
            continue
        cpu = max(use.cpu_request_cores, use.cpu_usage_cores) * node.rates.cpu_core_hour * hours
        memory = max(use.memory_request_bytes, use.memory_usage_bytes) / GIB * node.rates.memory_gib_hour * hours
        gpu = use.gpu_request * node.rates.gpu_hour * hours
        costs.append(ContainerCost(use, cpu, memory, gpu))
        allocated[node.name] += cpu + memory + gpu
    node_cost = {name: node.hourly_price * hours for name, node in by_name.items()}
    idle = {name: max(0.0, total - allocated.get(name, 0.0)) for name, total in node_cost.items()}
    return Allocation(hours, costs, idle, node_cost, unpriced)


def monthly_request_cost(
    cpu_cores: float, memory_bytes: float, replicas: int, rates: UnitRates = DEFAULT_ON_DEMAND
) -> float:
    """What requests of ``cpu_cores`` and ``memory_bytes`` per replica cost per month at ``rates``."""
    return (cpu_cores * rates.cpu_core_hour + memory_bytes / GIB * rates.memory_gib_hour) * replicas * HOURS_PER_MONTH


def monthly(hourly: float) -> float:
    return hourly * HOURS_PER_MONTH
