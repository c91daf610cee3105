"""Fleets of simulated nodes: catalog types, and sizing a scenario's fleet so that its pods fit."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kcost.api.units import GIB, MIB
from kcost.devcluster import instance_types
from kcost.devcluster.nodes import nodes_of_type
from kcost.devcluster.scenario import fleet, library, manifests, traces
from kcost.devcluster.scenario.model import ContainerSpec, WorkloadSpec
from kcost.devcluster.state import default_work_dir, dir_flag


def _workload(
    name: str, cpu_cores: float, memory_gib: float, kind: str = "Deployment", replicas: int = 1
) -> WorkloadSpec:
    container = ContainerSpec(cpu_request_cores=cpu_cores, memory_request_bytes=int(memory_gib * GIB))
    return WorkloadSpec.model_validate(
        {"kind": kind, "name": name, "namespace": "t", "replicas": replicas, "containers": [container]}
    )


def test_nodes_of_a_catalog_type_carry_its_capacity_and_cloud_labels() -> None:
    nodes = nodes_of_type(3, "m5.2xlarge")
    assert [node.name for node in nodes] == ["node-m5-2xlarge-0", "node-m5-2xlarge-1", "node-m5-2xlarge-2"]
    assert {(node.cpu_cores, node.memory_bytes) for node in nodes} == {(8, 32 * GIB)}
    assert [node.zone for node in nodes] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    azure = nodes_of_type(1, "Standard_D4s_v5")[0]
    assert (azure.provider, azure.name, azure.region) == ("azure", "node-standard-d4s-v5-0", "eastus")
    assert azure.cloud_labels()["node.kubernetes.io/instance-type"] == "Standard_D4s_v5"


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(
        instance_types.UnknownInstanceTypeError, match=r"unknown instance type 'm9\.huge'; known: .*m5\.large"
    ):
        nodes_of_type(1, "m9.huge")


def test_pods_fit_with_headroom_on_each_added_node() -> None:
    workloads = [_workload("small", 1, 2, replicas=30), _workload("big", 8, 16)]
    nodes = fleet.fit(workloads, nodes_of_type(1, "m5.2xlarge"), node_type="m5.2xlarge", prefix="trace")
    # 38 cores asked; 6.4 usable of each m5.2xlarge's 8, and the 8-core pod needs a larger node of the same family.
    assert nodes[0].name == "node-m5-2xlarge-0"
    assert "m5.4xlarge" in fleet.describe(nodes)
    usable = sum(node.cpu_cores * (1 - fleet.HEADROOM) for node in nodes)
    assert usable >= 38


def test_a_pod_larger_than_the_node_type_gets_a_type_that_holds_it() -> None:
    nodes = fleet.fit([_workload("db", 32, 500)], [], node_type="m5.8xlarge")
    assert [node.instance_type for node in nodes] == ["r5.24xlarge"], "512 GiB of m5 is not enough with headroom"


def test_daemonsets_are_reserved_on_every_node() -> None:
    without = fleet.fit([_workload("app", 5, 1, replicas=4)], [], node_type="m5.2xlarge")
    with_daemon = fleet.fit(
        [_workload("app", 5, 1, replicas=4), _workload("agent", 1.5, 1, kind="DaemonSet")], [], node_type="m5.2xlarge"
    )
    assert [node.instance_type for node in without] == ["m5.2xlarge"] * 4
    # 1.5 cores of daemons leave 4.9 of an m5.2xlarge's usable 6.4: too little for a 5-core pod.
    assert [node.instance_type for node in with_daemon] == ["m5.4xlarge"] * 2


def test_a_pod_no_type_holds_is_named() -> None:
    with pytest.raises(fleet.FleetError, match=r"workload t/huge: a pod requests 500 cores"):
        fleet.fit([_workload("huge", 500, 1)], [])


def test_a_trace_of_real_sized_vms_gets_nodes_for_its_largest_vm(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    header = "trace,vm,ts,cpu_cores,cpu_cores_provisioned,mem_mib,mem_mib_provisioned\n"
    rows = [f"t,{vm},{i * 300},1,2,100,4096\n" for vm in range(10) for i in range(3)]
    rows += [f"t,big,{i * 300},4,32,1000,{512 * 1024}\n" for i in range(3)]
    with gzip.open(path, "wt") as handle:
        handle.write(header + "".join(rows))
    traces.load.cache_clear()
    scenario = library.from_trace(path, vms=11)
    largest = max(scenario.nodes, key=lambda node: node.memory_bytes)
    assert largest.memory_bytes * (1 - fleet.HEADROOM) >= 512 * 1024 * MIB
    assert largest.cpu_cores * (1 - fleet.HEADROOM) >= 32


def test_each_vm_of_a_trace_is_pinned_where_the_fleet_holds_it(tmp_path: Path) -> None:
    # Spread by the scheduler in whatever order pods appear, small VMs could take the room the
    # 512 GiB one needs; pinned to where first-fit-decreasing packed them, every one fits.
    path = tmp_path / "t.csv.gz"
    header = "trace,vm,ts,cpu_cores,cpu_cores_provisioned,mem_mib,mem_mib_provisioned\n"
    rows = [f"t,{vm},{i * 300},1,2,100,{64 * 1024}\n" for vm in range(10) for i in range(3)]
    rows += [f"t,big,{i * 300},4,32,1000,{512 * 1024}\n" for i in range(3)]
    with gzip.open(path, "wt") as handle:
        handle.write(header + "".join(rows))
    traces.load.cache_clear()
    scenario = library.from_trace(path, vms=11)
    nodes = {node.name: node for node in scenario.nodes}
    assert all(workload.node_name in nodes for workload in scenario.workloads)
    for name, node in nodes.items():
        on_it = [w for w in scenario.workloads if w.node_name == name]
        memory = sum(c.memory_request_bytes for w in on_it for c in w.containers)
        cpu = sum(c.cpu_request_cores for w in on_it for c in w.containers)
        assert memory <= node.memory_bytes * (1 - fleet.HEADROOM)
        assert cpu <= node.cpu_cores * (1 - fleet.HEADROOM)
    deployments = [item for item in manifests.manifests(scenario) if item["kind"] == "Deployment"]
    selectors = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["nodeSelector"] for d in deployments}
    big = next(w for w in scenario.workloads if w.name == "vm-big")
    assert selectors["vm-big"] == {"type": "kwok", "kubernetes.io/hostname": big.node_name}


def test_workloads_of_several_pods_are_not_pinned() -> None:
    _, placement = fleet.fit_and_place([_workload("web", 1, 1, replicas=3), _workload("db", 1, 1)], [])
    assert set(placement) == {"t/db"}


def test_manifests_put_the_largest_pods_first() -> None:
    scenario = library.on_nodes(library.smoke(), nodes_of_type(2, "m5.2xlarge"), "m5.2xlarge")
    deployments = [item for item in manifests.manifests(scenario) if item["kind"] in ("Deployment", "StatefulSet")]
    cpus = [
        sum(
            float(c["resources"]["requests"]["cpu"].removesuffix("m"))
            for c in d["spec"]["template"]["spec"]["containers"]
        )
        for d in deployments
    ]
    assert cpus == sorted(cpus, reverse=True)


def test_hints_name_a_folder_other_than_the_default(tmp_path: Path) -> None:
    assert dir_flag(default_work_dir()) == ""
    assert dir_flag(tmp_path / "my cluster") == f" --dir '{tmp_path / 'my cluster'}'"
