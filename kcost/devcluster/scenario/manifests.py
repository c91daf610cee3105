"""The scenario's live objects: namespaces, workloads and HPAs, as plain manifests."""

from __future__ import annotations

from typing import Any

from kcost.api.units import MIB
from kcost.devcluster.scenario.model import ContainerSpec, Scenario, WorkloadSpec

Manifest = dict[str, Any]
SCENARIO_LABEL = "kcost.dev/scenario"


def cpu_quantity(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def memory_quantity(size_bytes: int) -> str:
    mib = size_bytes / MIB
    return f"{round(mib)}Mi" if mib == round(mib) else str(size_bytes)


def _container(spec: ContainerSpec) -> Manifest:
    requests = {"cpu": cpu_quantity(spec.cpu_request_cores), "memory": memory_quantity(spec.memory_request_bytes)}
    limits: dict[str, str] = {}
    if spec.cpu_limit_cores is not None:
        limits["cpu"] = cpu_quantity(spec.cpu_limit_cores)
    if spec.memory_limit_bytes is not None:
        limits["memory"] = memory_quantity(spec.memory_limit_bytes)
    resources: Manifest = {"requests": requests}
    if limits:
        resources["limits"] = limits
    return {"name": spec.name, "image": spec.image, "resources": resources}


def _pod_template(workload: WorkloadSpec, restart_policy: str = "Always") -> Manifest:
    labels = {"app.kubernetes.io/name": workload.name, **workload.labels}
    # Only the simulated nodes can run pods; a pinned workload only its own node.
    selector = {"type": "kwok"} | ({"kubernetes.io/hostname": workload.node_name} if workload.node_name else {})
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [_container(spec) for spec in workload.containers],
            "nodeSelector": selector,
            "terminationGracePeriodSeconds": 0,
        },
    }


def _metadata(scenario: Scenario, workload: WorkloadSpec) -> Manifest:
    labels = {"app.kubernetes.io/name": workload.name, SCENARIO_LABEL: scenario.name, **workload.labels}
    return {"name": workload.name, "namespace": workload.namespace, "labels": labels}


def workload_manifests(scenario: Scenario, workload: WorkloadSpec) -> list[Manifest]:
    selector = {"matchLabels": {"app.kubernetes.io/name": workload.name}}
    metadata = _metadata(scenario, workload)
    template = _pod_template(workload)
    if workload.kind == "Deployment":
        spec: Manifest = {"replicas": workload.replicas, "selector": selector, "template": template}
        objects = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}]
    elif workload.kind == "StatefulSet":
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {"clusterIP": "None", "selector": selector["matchLabels"], "ports": [{"port": 80}]},
        }
        spec = {"replicas": workload.replicas, "serviceName": workload.name, "selector": selector, "template": template}
        objects = [service, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata, "spec": spec}]
    elif workload.kind == "DaemonSet":
        objects = [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": metadata,
                "spec": {"selector": selector, "template": template},
            }
        ]
    else:
        job_template = {"spec": {"template": _pod_template(workload, "OnFailure"), "backoffLimit": 0}}
        objects = [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": metadata,
                "spec": {
                    "schedule": workload.schedule,
                    "jobTemplate": job_template,
                    "successfulJobsHistoryLimit": 1,
                    "failedJobsHistoryLimit": 1,
                    "concurrencyPolicy": "Forbid",
                },
            }
        ]
    if workload.hpa is not None:
        objects.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": metadata,
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload.kind, "name": workload.name},
                    "minReplicas": workload.hpa.min_replicas,
                    "maxReplicas": workload.hpa.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": workload.hpa.target_cpu_utilization_pct,
                                },
                            },
                        }
                    ],
                },
            }
        )
    return objects


def _pod_cpu_and_memory(workload: WorkloadSpec) -> tuple[float, int]:
    return (
        sum(container.cpu_request_cores for container in workload.containers),
        sum(container.memory_request_bytes for container in workload.containers),
    )


def manifests(scenario: Scenario) -> list[Manifest]:
    """Namespaces first, then every workload's objects, largest pods first."""
    namespaces: list[Manifest] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {SCENARIO_LABEL: scenario.name}}}
        for name in scenario.namespaces
    ]
    # Largest pods first: the scheduler places them while the nodes are still empty, as the fleet was sized.
    by_size = sorted(scenario.workloads, key=_pod_cpu_and_memory, reverse=True)
    workloads = [item for workload in by_size for item in workload_manifests(scenario, workload)]
    return namespaces + workloads
