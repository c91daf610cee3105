"""What a scenario is made of: nodes, namespaces, workloads, and how each one uses resources."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from kcost.api.units import GIB, MIB
from kcost.devcluster.nodes import NodeSpec


class UsagePattern(StrEnum):
    """Shapes of usage over time; see ``usage.py`` for the formulas."""

    STEADY = "steady"
    DIURNAL = "diurnal"
    BURSTY = "bursty"
    IDLE = "idle"
    MEMORY_LEAK = "memory-leak"
    BATCH = "batch"


WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "CronJob"]


class TraceRef(BaseModel):
    """One series (``vm``) of a usage trace file in the schema of ../shared/data/traces."""

    path: str
    vm: str
    file_sha256: str = Field(description="content of the file, so the history cache notices edits")


class ContainerSpec(BaseModel):
    """One container: what it asks for and what it really uses."""

    name: str = "app"
    image: str = "registry.k8s.io/pause:3.10"
    cpu_request_cores: float = Field(0.5, gt=0)
    memory_request_bytes: int = Field(512 * MIB, gt=0)
    cpu_limit_cores: float | None = Field(None, gt=0)
    memory_limit_bytes: int | None = Field(None, gt=0)
    cpu_usage_cores: float = Field(0.1, ge=0, description="typical (mean) CPU use")
    memory_usage_bytes: int = Field(128 * MIB, ge=0, description="typical working set")
    memory_leak_bytes_per_hour: int = Field(0, ge=0, description="growth until the limit kills it (memory-leak)")
    trace: TraceRef | None = Field(None, description="replay a recorded VM's usage instead of a pattern")
    cpu_spike_last_hours: float = Field(
        0, ge=0, description="an injected anomaly: CPU use × cpu_spike_factor over the history's last hours"
    )
    cpu_spike_factor: float = Field(5.0, gt=0, description="how much the injected spike multiplies CPU use")

    @model_validator(mode="after")
    def _leak_needs_limit(self) -> Self:
        if self.memory_leak_bytes_per_hour and self.memory_limit_bytes is None:
            raise ValueError(f"container {self.name!r}: a memory leak needs memory_limit_bytes to be OOM-killed at")
        return self


class HPASpec(BaseModel):
    """A HorizontalPodAutoscaler on CPU utilization."""

    min_replicas: int = Field(2, ge=1)
    max_replicas: int = Field(10, ge=1)
    target_cpu_utilization_pct: int = Field(70, gt=0, le=100)


class WorkloadSpec(BaseModel):
    """One workload and its pods' behaviour."""

    kind: WorkloadKind = "Deployment"
    name: str
    namespace: str
    replicas: int = Field(1, ge=0, description="pods; ignored for DaemonSets (one per node)")
    pattern: UsagePattern = UsagePattern.STEADY
    containers: list[ContainerSpec] = Field(default_factory=lambda: [ContainerSpec()], min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    node_name: str | None = Field(None, description="its pods run on this node (where the fleet sizing packed it)")
    hpa: HPASpec | None = None
    network_bytes_per_s: float = Field(20_000.0, ge=0, description="received per pod; sent is half")
    schedule: str = Field("0 */6 * * *", description="CronJob schedule (batch)")
    run_minutes: int = Field(45, gt=0, description="how long each batch run lasts")
    rollout_at_fraction: float | None = Field(
        None, gt=0, lt=1, description="a rollout replaces all pods at this point of the window"
    )

    @model_validator(mode="after")
    def _replicas_within_hpa(self) -> Self:
        if self.hpa and not self.hpa.min_replicas <= self.replicas <= self.hpa.max_replicas:
            raise ValueError(
                f"workload {self.namespace}/{self.name}: replicas {self.replicas} outside the HPA's "
                f"{self.hpa.min_replicas}..{self.hpa.max_replicas}"
            )
        return self


class Scenario(BaseModel):
    """A seeded cluster story. The same scenario always produces the same objects and history."""

    name: str
    seed: int = 42
    days: float = Field(14, gt=0, le=60)
    step_s: int = Field(60, ge=10, le=900, description="sample interval of the history")
    nodes: list[NodeSpec]
    workloads: list[WorkloadSpec]

    @property
    def namespaces(self) -> list[str]:
        return sorted({workload.namespace for workload in self.workloads})

    @model_validator(mode="after")
    def _fits_the_nodes(self) -> Self:
        names = [workload.namespace + "/" + workload.name for workload in self.workloads]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"scenario {self.name!r}: workloads defined twice: {', '.join(duplicates)}")
        cpu = memory = 0.0
        for workload in self.workloads:
            pods = (
                len(self.nodes)
                if workload.kind == "DaemonSet"
                else 1
                if workload.kind == "CronJob"
                else workload.replicas
            )
            cpu += pods * sum(c.cpu_request_cores for c in workload.containers)
            memory += pods * sum(c.memory_request_bytes for c in workload.containers)
        cpu_capacity = sum(node.cpu_cores for node in self.nodes)
        memory_capacity = sum(node.memory_bytes for node in self.nodes)
        if cpu > cpu_capacity or memory > memory_capacity:
            raise ValueError(
                f"scenario {self.name!r}: workloads request {cpu:.1f} cores and {memory / GIB:.1f} GiB, but the nodes "
                f"have {cpu_capacity} cores and {memory_capacity / GIB:.1f} GiB; add nodes or shrink requests"
            )
        return self
