"""Built-in scenarios, and scenarios made from a usage trace file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kcost.api.units import GIB, MIB
from kcost.devcluster.nodes import NodeSpec, default_nodes
from kcost.devcluster.scenario import fleet, traces
from kcost.devcluster.scenario.model import (
    ContainerSpec,
    HPASpec,
    Scenario,
    TraceRef,
    UsagePattern,
    WorkloadSpec,
)


def _app(
    namespace: str,
    name: str,
    *,
    cpu_req: float,
    mem_req_mib: int,
    cpu_use: float,
    mem_use_mib: int,
    pattern: UsagePattern = UsagePattern.STEADY,
    replicas: int = 2,
    team: str = "",
    cpu_spike_last_hours: float = 0,
    **extra: object,
) -> WorkloadSpec:
    container = ContainerSpec(
        cpu_request_cores=cpu_req,
        memory_request_bytes=mem_req_mib * MIB,
        memory_limit_bytes=mem_req_mib * MIB,
        cpu_usage_cores=cpu_use,
        memory_usage_bytes=mem_use_mib * MIB,
        cpu_spike_last_hours=cpu_spike_last_hours,
    )
    labels = {"team": team} if team else {}
    return WorkloadSpec.model_validate(
        {
            "name": name,
            "namespace": namespace,
            "replicas": replicas,
            "pattern": pattern,
            "containers": [container],
            "labels": labels,
            **extra,
        }
    )


# The demo's workload whose CPU use spikes over the history's last hours (namespace, kind, name).
DEMO_ANOMALOUS = ("data", "Deployment", "kafka-connect")
DEMO_SPIKE_HOURS = 4.0


def smoke() -> Scenario:
    """Small and quick: every workload kind and usage pattern once, two days at 60 s."""
    leak = ContainerSpec(
        name="worker",
        cpu_request_cores=0.2,
        memory_request_bytes=256 * MIB,
        memory_limit_bytes=512 * MIB,
        cpu_usage_cores=0.1,
        memory_usage_bytes=200 * MIB,
        memory_leak_bytes_per_hour=40 * MIB,
    )
    return Scenario(
        name="smoke",
        seed=7,
        days=2,
        step_s=60,
        nodes=default_nodes()[:2],
        workloads=[
            _app("shop", "web", cpu_req=0.5, mem_req_mib=512, cpu_use=0.1, mem_use_mib=150, team="storefront"),
            _app(
                "shop",
                "api",
                cpu_req=0.25,
                mem_req_mib=256,
                cpu_use=0.2,
                mem_use_mib=180,
                replicas=2,
                pattern=UsagePattern.DIURNAL,
                team="storefront",
                hpa=HPASpec(min_replicas=2, max_replicas=4),
                rollout_at_fraction=0.5,
            ),
            _app(
                "shop",
                "search",
                cpu_req=0.2,
                mem_req_mib=256,
                cpu_use=0.05,
                mem_use_mib=120,
                replicas=1,
                pattern=UsagePattern.BURSTY,
                kind="StatefulSet",
            ),
            WorkloadSpec(
                name="leaky", namespace="jobs", replicas=1, pattern=UsagePattern.MEMORY_LEAK, containers=[leak]
            ),
            _app(
                "jobs",
                "nightly-report",
                cpu_req=0.5,
                mem_req_mib=512,
                cpu_use=0.4,
                mem_use_mib=300,
                replicas=1,
                pattern=UsagePattern.BATCH,
                kind="CronJob",
                schedule="0 */6 * * *",
                run_minutes=30,
            ),
            _app("platform", "log-agent", cpu_req=0.05, mem_req_mib=64, cpu_use=0.02, mem_use_mib=40, kind="DaemonSet"),
            _app(
                "sandbox",
                "old-prototype",
                cpu_req=0.25,
                mem_req_mib=256,
                cpu_use=0.05,
                mem_use_mib=60,
                replicas=1,
                pattern=UsagePattern.IDLE,
            ),
        ],
    )


def demo() -> Scenario:
    """A realistic small company cluster: a few dozen workloads over 14 days, one of them anomalous now
    (``DEMO_ANOMALOUS``)."""
    nodes = [
        *default_nodes(),
        NodeSpec(
            name="ip-10-0-2-22", instance_type="m5.2xlarge", zone="us-east-1b", cpu_cores=8, memory_bytes=32 * GIB
        ),
        NodeSpec(
            name="ip-10-0-3-32",
            instance_type="m5.2xlarge",
            zone="us-east-1c",
            capacity_type="spot",
            cpu_cores=8,
            memory_bytes=32 * GIB,
        ),
    ]
    d, s, b, i = UsagePattern.DIURNAL, UsagePattern.STEADY, UsagePattern.BURSTY, UsagePattern.IDLE
    workloads = [
        # storefront: over-provisioned web tier that follows the day
        _app(
            "shop",
            "frontend",
            cpu_req=1.0,
            mem_req_mib=1024,
            cpu_use=0.15,
            mem_use_mib=300,
            replicas=3,
            pattern=d,
            team="storefront",
        ),
        _app(
            "shop",
            "checkout",
            cpu_req=0.5,
            mem_req_mib=768,
            cpu_use=0.12,
            mem_use_mib=250,
            replicas=2,
            pattern=d,
            team="storefront",
        ),
        _app(
            "shop",
            "cart",
            cpu_req=0.5,
            mem_req_mib=512,
            cpu_use=0.3,
            mem_use_mib=380,
            replicas=2,
            pattern=d,
            team="storefront",
            hpa=HPASpec(min_replicas=2, max_replicas=6, target_cpu_utilization_pct=60),
        ),
        _app(
            "shop",
            "catalog",
            cpu_req=0.5,
            mem_req_mib=1024,
            cpu_use=0.08,
            mem_use_mib=400,
            replicas=2,
            pattern=s,
            team="storefront",
            rollout_at_fraction=0.6,
        ),
        _app(
            "shop",
            "search",
            cpu_req=1.0,
            mem_req_mib=2048,
            cpu_use=0.2,
            mem_use_mib=900,
            replicas=2,
            pattern=b,
            team="storefront",
            kind="StatefulSet",
        ),
        _app(
            "shop",
            "recommendations",
            cpu_req=0.5,
            mem_req_mib=1024,
            cpu_use=0.25,
            mem_use_mib=600,
            replicas=1,
            pattern=b,
            team="storefront",
        ),
        _app(
            "shop",
            "redis",
            cpu_req=0.25,
            mem_req_mib=1024,
            cpu_use=0.05,
            mem_use_mib=200,
            replicas=1,
            pattern=s,
            team="storefront",
            kind="StatefulSet",
        ),
        # payments: well sized already, must not get worse
        _app(
            "payments",
            "gateway",
            cpu_req=0.25,
            mem_req_mib=256,
            cpu_use=0.18,
            mem_use_mib=200,
            replicas=2,
            pattern=d,
            team="payments",
        ),
        _app(
            "payments",
            "ledger",
            cpu_req=0.5,
            mem_req_mib=1024,
            cpu_use=0.35,
            mem_use_mib=800,
            replicas=2,
            pattern=s,
            team="payments",
            kind="StatefulSet",
        ),
        _app(
            "payments",
            "fraud-scorer",
            cpu_req=1.0,
            mem_req_mib=2048,
            cpu_use=0.3,
            mem_use_mib=700,
            replicas=1,
            pattern=b,
            team="payments",
        ),
        _app(
            "payments",
            "webhooks",
            cpu_req=0.1,
            mem_req_mib=128,
            cpu_use=0.02,
            mem_use_mib=60,
            replicas=1,
            pattern=s,
            team="payments",
        ),
        # data: batch jobs and a leaking consumer
        _app(
            "data",
            "etl-hourly",
            cpu_req=1.0,
            mem_req_mib=2048,
            cpu_use=0.6,
            mem_use_mib=900,
            replicas=1,
            pattern=UsagePattern.BATCH,
            kind="CronJob",
            schedule="0 * * * *",
            run_minutes=20,
            team="data",
        ),
        _app(
            "data",
            "nightly-rollup",
            cpu_req=2.0,
            mem_req_mib=4096,
            cpu_use=1.2,
            mem_use_mib=2500,
            replicas=1,
            pattern=UsagePattern.BATCH,
            kind="CronJob",
            schedule="30 2 * * *",
            run_minutes=90,
            team="data",
        ),
        WorkloadSpec(
            name="events-consumer",
            namespace="data",
            replicas=1,
            pattern=UsagePattern.MEMORY_LEAK,
            labels={"team": "data"},
            containers=[
                ContainerSpec(
                    name="consumer",
                    cpu_request_cores=0.25,
                    memory_request_bytes=384 * MIB,
                    memory_limit_bytes=512 * MIB,
                    cpu_usage_cores=0.15,
                    memory_usage_bytes=250 * MIB,
                    memory_leak_bytes_per_hour=12 * MIB,
                )
            ],
        ),
        # an injected anomaly: its CPU use jumps fivefold over the last hours of the history, so the
        # analysis flags it and an auto-apply policy holds its change
        _app(
            "data",
            "kafka-connect",
            cpu_req=0.5,
            mem_req_mib=1536,
            cpu_use=0.1,
            mem_use_mib=700,
            replicas=1,
            pattern=s,
            team="data",
            cpu_spike_last_hours=DEMO_SPIKE_HOURS,
        ),
        # platform: node agents and shared services
        _app(
            "platform",
            "log-agent",
            cpu_req=0.1,
            mem_req_mib=128,
            cpu_use=0.03,
            mem_use_mib=70,
            kind="DaemonSet",
            pattern=s,
            team="platform",
        ),
        _app(
            "platform",
            "node-exporter",
            cpu_req=0.05,
            mem_req_mib=64,
            cpu_use=0.01,
            mem_use_mib=25,
            kind="DaemonSet",
            pattern=s,
            team="platform",
        ),
        _app(
            "platform",
            "ingress",
            cpu_req=0.5,
            mem_req_mib=512,
            cpu_use=0.1,
            mem_use_mib=180,
            replicas=2,
            pattern=d,
            team="platform",
        ),
        _app(
            "platform",
            "cert-manager",
            cpu_req=0.1,
            mem_req_mib=256,
            cpu_use=0.005,
            mem_use_mib=60,
            replicas=1,
            pattern=s,
            team="platform",
        ),
        # forgotten things
        _app(
            "ml",
            "notebook-alice",
            cpu_req=1.0,
            mem_req_mib=4096,
            cpu_use=0.1,
            mem_use_mib=600,
            replicas=1,
            pattern=i,
            team="ml",
        ),
        _app(
            "ml",
            "model-server-v1",
            cpu_req=0.5,
            mem_req_mib=2048,
            cpu_use=0.1,
            mem_use_mib=900,
            replicas=1,
            pattern=i,
            team="ml",
        ),
        _app(
            "staging",
            "frontend",
            cpu_req=0.5,
            mem_req_mib=512,
            cpu_use=0.05,
            mem_use_mib=150,
            replicas=1,
            pattern=i,
            team="storefront",
        ),
        _app(
            "staging",
            "checkout",
            cpu_req=0.25,
            mem_req_mib=512,
            cpu_use=0.05,
            mem_use_mib=120,
            replicas=1,
            pattern=i,
            team="storefront",
        ),
    ]
    return Scenario(name="demo", seed=2026, days=14, step_s=120, nodes=nodes, workloads=workloads)


BUILT_IN: dict[str, Callable[[], Scenario]] = {"smoke": smoke, "demo": demo}


def from_trace(
    path: Path,
    *,
    vms: int = 20,
    days: float = 14,
    step_s: int = 300,
    namespace: str = "traces",
    nodes: Sequence[NodeSpec] = (),
    node_type: str = fleet.DEFAULT_NODE_TYPE,
) -> Scenario:
    """One Deployment per VM (the first ``vms`` of the file), replaying its recorded usage.

    Requests are the VM's median provisioned size; the fleet is ``nodes`` plus nodes of
    ``node_type`` (or larger, for a VM too large for it) added until every VM fits with headroom.
    """
    series = traces.load(path)
    digest = traces.file_sha256(path)
    workloads = []
    for vm in list(series)[:vms]:
        vm_series = series[vm]
        cpu_cores = max(0.01, float(np.median(vm_series.cpu_cores_provisioned)))
        memory_bytes = max(16 * MIB, int(np.median(vm_series.mem_mib_provisioned) * MIB))
        container = ContainerSpec(
            cpu_request_cores=cpu_cores,
            memory_request_bytes=memory_bytes,
            trace=TraceRef(path=str(path.resolve()), vm=vm, file_sha256=digest),
        )
        workloads.append(WorkloadSpec(name=f"vm-{vm}", namespace=namespace, replicas=1, containers=[container]))
    fitted, placement = fleet.fit_and_place(workloads, nodes, node_type=node_type, prefix="trace")
    pinned = [w.model_copy(update={"node_name": placement.get(f"{w.namespace}/{w.name}")}) for w in workloads]
    return Scenario(
        name=f"trace-{path.stem.split('.')[0]}",
        seed=1,
        days=days,
        step_s=step_s,
        nodes=fitted,
        workloads=pinned,
    )


def on_nodes(scenario: Scenario, nodes: Sequence[NodeSpec], node_type: str = fleet.DEFAULT_NODE_TYPE) -> Scenario:
    """``scenario`` on the fleet ``nodes`` instead of its own, with nodes added until its pods fit."""
    sized = fleet.fit(scenario.workloads, nodes, node_type=node_type, prefix="extra")
    return Scenario.model_validate({**scenario.model_dump(), "nodes": sized})
