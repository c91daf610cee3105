"""Generated history in the real Prometheus matches the scenario's definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e.conftest import Prometheus
from kcost.api.units import MIB
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.scenario import library, loader, traces, usage
from kcost.devcluster.scenario.model import Scenario


def _pod(scenario: Scenario, end_s: int, workload: str) -> usage.PodHistory:
    return next(pod for pod in usage.pods(scenario, end_s) if pod.workload.name == workload)


def _at(scenario: Scenario, end_s: int, pod: usage.PodHistory, offset: int) -> float:
    return float(usage.timeline(scenario, end_s)[pod.start + offset])


def test_memory_samples_equal_the_generated_values(prometheus: Prometheus, smoke: Scenario, smoke_end_s: int) -> None:
    pod = _pod(smoke, smoke_end_s, "web")
    expected = pod.containers[0].memory_bytes
    for offset in (0, 1, len(expected) // 2, len(expected) - 1):
        got = prometheus.scalar(
            f'container_memory_working_set_bytes{{namespace="shop",pod="{pod.name}",container="app"}}',
            _at(smoke, smoke_end_s, pod, offset),
        )
        assert got == pytest.approx(expected[offset], rel=1e-9)


def test_cpu_counter_increments_equal_the_generated_usage(
    prometheus: Prometheus, smoke: Scenario, smoke_end_s: int
) -> None:
    pod = _pod(smoke, smoke_end_s, "web")
    cpu = pod.containers[0].cpu_cores
    selector = f'container_cpu_usage_seconds_total{{namespace="shop",pod="{pod.name}",container="app"}}'
    for offset in (1, 100, len(cpu) - 1):
        now = prometheus.scalar(selector, _at(smoke, smoke_end_s, pod, offset))
        before = prometheus.scalar(selector, _at(smoke, smoke_end_s, pod, offset - 1))
        assert (now - before) / smoke.step_s == pytest.approx(cpu[offset], rel=1e-6, abs=1e-9)
    assert 0.05 < float(np.mean(cpu)) < 0.15, "steady web uses about its 0.1 cores"


def test_requests_limits_and_owners_match_the_spec(prometheus: Prometheus, smoke: Scenario, smoke_end_s: int) -> None:
    web = next(w for w in smoke.workloads if w.name == "web")
    requests = prometheus.query(
        'kube_pod_container_resource_requests{namespace="shop",resource="cpu",pod=~"web-.*"}', smoke_end_s
    )
    assert len(requests) == web.replicas
    assert {float(r["value"][1]) for r in requests} == {web.containers[0].cpu_request_cores}
    limits = prometheus.query(
        'kube_pod_container_resource_limits{namespace="shop",resource="memory",pod=~"web-.*"}', smoke_end_s
    )
    assert {float(r["value"][1]) for r in limits} == {float(web.containers[0].memory_limit_bytes or 0)}
    # Pods resolve to their Deployment through the ReplicaSet owner series, across the rollout.
    owners = prometheus.query(
        'count by (owner_name) (kube_pod_owner{namespace="shop",owner_kind="ReplicaSet"}'
        " * on (namespace, owner_name) group_left () label_replace("
        '  max_over_time(kube_replicaset_owner{owner_name="api"}[3d]), "owner_name", "$1", "replicaset", "(.*)"))',
        smoke_end_s,
    )
    assert len(owners) == 1, "only the current ReplicaSet of api has pods at the end"
    replicasets = prometheus.query(
        'count_over_time(kube_replicaset_owner{namespace="shop",owner_name="api"}[3d])', smoke_end_s
    )
    assert len(replicasets) == 2, "the api rollout left an old and a new ReplicaSet"


def test_memory_leak_is_oom_killed_with_counter_resets(
    prometheus: Prometheus, smoke: Scenario, smoke_end_s: int
) -> None:
    pod = _pod(smoke, smoke_end_s, "leaky")
    container = pod.containers[0]
    assert container.oom_kill_offsets, "the leaking worker must hit its limit within two days"
    assert float(container.memory_bytes.max()) < float(container.spec.memory_limit_bytes or 0)
    selector = f'{{namespace="jobs",pod="{pod.name}",container="worker"}}'
    reason = prometheus.query(f"kube_pod_container_status_last_terminated_reason{selector}", smoke_end_s)
    assert len(reason) == 1
    assert reason[0]["metric"]["reason"] == "OOMKilled"
    restarts = prometheus.scalar(f"kube_pod_container_status_restarts_total{selector}", smoke_end_s)
    assert restarts == len(container.oom_kill_offsets)
    resets = prometheus.scalar(f"resets(container_cpu_usage_seconds_total{selector}[3d])", smoke_end_s)
    assert resets == len(container.oom_kill_offsets)


def test_batch_runs_idle_nodes_and_hpa(prometheus: Prometheus, smoke: Scenario, smoke_end_s: int) -> None:
    runs = prometheus.query(
        'count_over_time(kube_job_owner{namespace="jobs",owner_name="nightly-report"}[3d])', smoke_end_s
    )
    expected_runs = [p for p in usage.pods(smoke, smoke_end_s) if p.workload.name == "nightly-report"]
    assert len(runs) == len(expected_runs) == int(smoke.days * 24 / 6)
    idle = prometheus.scalar(
        'max_over_time(rate(container_network_receive_bytes_total{namespace="sandbox"}[5m])[2d:5m])', smoke_end_s
    )
    assert idle == 0.0
    node = prometheus.query('kube_node_labels{label_node_kubernetes_io_instance_type="m5.large"}', smoke_end_s)
    assert {n["metric"]["node"] for n in node} == {n.name for n in smoke.nodes if n.instance_type == "m5.large"}
    target = prometheus.scalar(
        'kube_horizontalpodautoscaler_spec_target_metric{horizontalpodautoscaler="api"}', smoke_end_s
    )
    assert target == 70


def test_live_objects_match_the_scenario(kubectl: Any, smoke: Scenario, smoke_end_s: int) -> None:
    assert smoke_end_s % loader.END_ALIGNMENT_S == 0
    deployments = json.loads(kubectl("get", "deployments", "-n", "shop", "-o", "json").stdout)["items"]
    web = next(d for d in deployments if d["metadata"]["name"] == "web")
    assert web["status"]["readyReplicas"] == 2
    resources = web["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
    kinds = kubectl("get", "statefulsets,daemonsets,cronjobs,hpa", "-A", "-o", "name").stdout.split()
    assert {
        "statefulset.apps/search",
        "daemonset.apps/log-agent",
        "cronjob.batch/nightly-report",
        "horizontalpodautoscaler.autoscaling/api",
    } <= set(kinds)


def test_reloading_keeps_the_same_history(dev_cluster: DevCluster, smoke: Scenario, smoke_end_s: int) -> None:
    assert loader.load(dev_cluster, smoke, wait=False) == smoke_end_s


def test_trace_file_replays_into_prometheus(dev_cluster: DevCluster, prometheus: Prometheus, shared_data: Path) -> None:
    path = shared_data / "traces" / "bitbrains-rnd-2013-07-vm001-150.csv.gz"
    scenario = library.from_trace(path, vms=3, days=2, step_s=300, namespace="e2e-traces")
    end = loader.load(dev_cluster, scenario)
    series = traces.load(path)
    for workload in scenario.workloads:
        vm = series[workload.name.removeprefix("vm-")]
        pod = _pod(scenario, end, workload.name)
        got = prometheus.scalar(f'container_memory_working_set_bytes{{namespace="e2e-traces",pod="{pod.name}"}}', end)
        assert got == pytest.approx(vm.mem_mib[-1] * MIB, rel=1e-9), "the trace's last sample lands at the end"
        request = prometheus.scalar(
            f'kube_pod_container_resource_requests{{namespace="e2e-traces",pod="{pod.name}",resource="cpu"}}', end
        )
        assert request == pytest.approx(float(np.median(vm.cpu_cores_provisioned)))
