"""Simulated nodes: Node objects that kwok keeps Ready, labelled like real cloud nodes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from kcost.api.units import GIB
from kcost.devcluster import instance_types
from kcost.devcluster.instance_types import Provider

CapacityType = Literal["on-demand", "spot"]


class NodeSpec(BaseModel):
    """One simulated node, with the labels a cost model reads."""

    name: str
    provider: Provider = "aws"
    instance_type: str = "m5.large"
    region: str = "us-east-1"
    zone: str = "us-east-1a"
    capacity_type: CapacityType = "on-demand"
    cpu_cores: int = Field(2, gt=0)
    memory_bytes: int = Field(8 * GIB, gt=0)
    max_pods: int = Field(110, gt=0)
    labels: dict[str, str] = Field(default_factory=dict, description="extra labels, e.g. a node pool")

    def cloud_labels(self) -> dict[str, str]:
        """The well-known labels plus each provider's own capacity-type label."""
        labels = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": self.name,
            "node.kubernetes.io/instance-type": self.instance_type,
            "topology.kubernetes.io/region": self.region,
            "topology.kubernetes.io/zone": self.zone,
            "type": "kwok",
        }
        spot = self.capacity_type == "spot"
        if self.provider == "aws":
            labels["karpenter.sh/capacity-type"] = self.capacity_type
            labels["eks.amazonaws.com/capacityType"] = "SPOT" if spot else "ON_DEMAND"
        elif self.provider == "gcp":
            labels["cloud.google.com/gke-nodepool"] = "default-pool"
            labels["cloud.google.com/machine-family"] = self.instance_type.split("-")[0]
            if spot:
                labels["cloud.google.com/gke-spot"] = "true"
        elif self.provider == "azure":
            labels["kubernetes.azure.com/scalesetpriority"] = "spot" if spot else "regular"
        return {**labels, **self.labels}


def node_manifest(node: NodeSpec) -> dict[str, Any]:
    """The Node object; the annotation hands it to kwok."""
    resources = {"cpu": str(node.cpu_cores), "memory": str(node.memory_bytes), "pods": str(node.max_pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": node.cloud_labels(),
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": resources},
    }


def nodes_of_type(count: int, instance_type: str, *, prefix: str = "node", first: int = 0) -> list[NodeSpec]:
    """``count`` on-demand nodes of a catalog type, spread over its provider's zones.

    Named ``<prefix>-<type>-<n>`` from ``n = first``; raises
    ``instance_types.UnknownInstanceTypeError`` for a type not in the catalog.
    """
    shape = instance_types.lookup(instance_type)
    region, zones = instance_types.PLACEMENT[shape.provider]
    # Node names are DNS labels: no dots, underscores or capitals.
    slug = instance_type.lower().replace(".", "-").replace("_", "-")
    return [
        NodeSpec(
            name=f"{prefix}-{slug}-{n}",
            provider=shape.provider,
            instance_type=instance_type,
            region=region,
            zone=zones[n % len(zones)],
            cpu_cores=shape.cpu_cores,
            memory_bytes=int(shape.memory_gib * GIB),
        )
        for n in range(first, first + count)
    ]


def default_nodes() -> list[NodeSpec]:
    """A small AWS fleet: on-demand m5 nodes in two zones and one spot node."""
    return [
        NodeSpec(name="ip-10-0-1-11", zone="us-east-1a"),
        NodeSpec(name="ip-10-0-2-12", zone="us-east-1b"),
        NodeSpec(name="ip-10-0-1-21", instance_type="m5.xlarge", zone="us-east-1a", cpu_cores=4, memory_bytes=16 * GIB),
        NodeSpec(
            name="ip-10-0-3-31",
            instance_type="m5.xlarge",
            zone="us-east-1c",
            capacity_type="spot",
            cpu_cores=4,
            memory_bytes=16 * GIB,
        ),
    ]


def mixed_cloud_nodes() -> list[NodeSpec]:
    """One node of each provider's common general-purpose type, for pricing tests."""
    return [
        NodeSpec(name="aws-m5-large", zone="us-east-1a"),
        NodeSpec(name="aws-m5-large-spot", zone="us-east-1b", capacity_type="spot"),
        NodeSpec(
            name="gcp-e2-standard-4",
            provider="gcp",
            instance_type="e2-standard-4",
            region="us-central1",
            zone="us-central1-a",
            cpu_cores=4,
            memory_bytes=16 * GIB,
        ),
        NodeSpec(
            name="azure-d4s-v5",
            provider="azure",
            instance_type="Standard_D4s_v5",
            region="eastus",
            zone="eastus-1",
            cpu_cores=4,
            memory_bytes=16 * GIB,
        ),
    ]
