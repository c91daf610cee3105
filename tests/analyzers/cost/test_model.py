from __future__ import annotations

import pytest

from kcost.analyzers.cost import model

GIB = model.GIB


def test_opencost_spec_example_split() -> None:
    # A node of 1 GPU, 1 CPU and 1 GB priced at 35 with base prices 30 (GPU), 30 (CPU), 10 (RAM)
    # splits into 15, 15 and 5: the ratios stay, the sum is the node's price.
    rates = model.split_node_price(35, cpu_cores=1, memory_gib=1, gpus=1, base=model.UnitRates(30, 10, 30))
    assert (rates.gpu_hour, rates.cpu_core_hour, rates.memory_gib_hour) == pytest.approx((15, 15, 5))


def test_split_with_the_default_ratio() -> None:
    # m5.large: 2 vCPU, 8 GiB at $0.096/h.
    rates = model.split_node_price(0.096, 2, 8, 0, model.DEFAULT_ON_DEMAND)
    assert 2 * rates.cpu_core_hour + 8 * rates.memory_gib_hour == pytest.approx(0.096)
    assert rates.cpu_core_hour / rates.memory_gib_hour == pytest.approx(0.031611 / 0.004237)
    with pytest.raises(ValueError, match="cannot split"):
        model.split_node_price(1.0, 0, 0, 0, model.DEFAULT_ON_DEMAND)


def test_hand_computed_allocation_with_idle() -> None:
    identity = model.NodeIdentity("onprem", "dc1", "box", "on-demand")
    # 4 cores at $1/core-h and 16 GiB at $0.25/GiB-h: node price 8, ratio 4:1 by construction.
    node = model.PricedNode("n1", 8.0, 4, 16, 0, model.UnitRates(1.0, 0.25, 0.0), identity, "custom")
    web = model.ContainerUse(
        "shop",
        "web-1",
        "app",
        "n1",
        "Deployment",
        "web",
        {"team": "a"},
        cpu_request_cores=1.0,
        cpu_usage_cores=0.5,
        memory_request_bytes=2 * GIB,
        memory_usage_bytes=3 * GIB,
    )
    batch = model.ContainerUse(
        "jobs",
        "etl-1",
        "main",
        "n1",
        "CronJob",
        "etl",
        {},
        cpu_request_cores=0.5,
        cpu_usage_cores=1.5,
        memory_request_bytes=1 * GIB,
    )
    stray = model.ContainerUse("x", "p", "c", "unknown-node")
    allocation = model.allocate([node], [web, batch, stray], hours=2)
    # web: max(1, .5)=1 core -> 1*1*2 = 2; max(2, 3)=3 GiB -> 3*.25*2 = 1.5; total 3.5
    # etl: max(.5, 1.5)=1.5 cores -> 3; 1 GiB -> .5; total 3.5
    assert [c.total for c in allocation.containers] == pytest.approx([3.5, 3.5])
    assert allocation.total == pytest.approx(16.0)
    assert allocation.idle == pytest.approx(9.0)
    assert allocation.allocated + allocation.idle == pytest.approx(allocation.total)
    assert allocation.unpriced_containers == 1
    assert allocation.by("namespace") == pytest.approx({"shop": 3.5, "jobs": 3.5})
    assert allocation.by("workload") == pytest.approx({"shop/Deployment/web": 3.5, "jobs/CronJob/etl": 3.5})
    assert allocation.by("label=team") == pytest.approx({"a": 3.5, "__unallocated__": 3.5})
    with pytest.raises(ValueError, match="cannot group by"):
        allocation.by("colour")


def test_overcommitted_node_has_no_negative_idle() -> None:
    identity = model.NodeIdentity("aws", "us-east-1", "m5.large", "on-demand")
    node = model.price_node("n", identity, 2, 8, 0, hourly_price=0.096, price_source="catalog")
    hog = model.ContainerUse("a", "p", "c", "n", cpu_usage_cores=4, memory_usage_bytes=16 * GIB)
    allocation = model.allocate([node], [hog])
    assert allocation.idle == 0.0


def test_unpriced_nodes_fall_back_to_default_rates() -> None:
    spot = model.NodeIdentity("gcp", "us-central1", "e2-standard-4", "spot")
    node = model.price_node("n", spot, 4, 16, 0, hourly_price=None, price_source="live")
    assert node.price_source == "default"
    assert node.hourly_price == pytest.approx(4 * 0.006655 + 16 * 0.000892)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {
                "karpenter.sh/capacity-type": "spot",
                "eks.amazonaws.com/capacityType": "SPOT",
                "node.kubernetes.io/instance-type": "m5.large",
                "topology.kubernetes.io/region": "us-east-1",
            },
            model.NodeIdentity("aws", "us-east-1", "m5.large", "spot"),
        ),
        (
            {"cloud.google.com/gke-spot": "true", "node.kubernetes.io/instance-type": "e2-standard-4"},
            model.NodeIdentity("gcp", "", "e2-standard-4", "spot"),
        ),
        (
            {
                "kubernetes.azure.com/scalesetpriority": "regular",
                "node.kubernetes.io/instance-type": "Standard_D4s_v5",
                "topology.kubernetes.io/region": "eastus",
            },
            model.NodeIdentity("azure", "eastus", "Standard_D4s_v5", "on-demand"),
        ),
    ],
)
def test_node_identity_from_cloud_labels(labels: dict[str, str], expected: model.NodeIdentity) -> None:
    assert model.node_identity(labels) == expected


@pytest.mark.parametrize(
    ("kind", "name", "labels", "expected"),
    [
        ("ReplicaSet", "web-5d8f7c9b4", {"pod-template-hash": "5d8f7c9b4"}, ("Deployment", "web")),
        # A ReplicaSet of its own: no hash in its name, so no Deployment behind it.
        ("ReplicaSet", "legacy", {"pod-template-hash": "5d8f7c9b4"}, ("ReplicaSet", "legacy")),
        ("ReplicaSet", "web-5d8f7c9b4", {}, ("ReplicaSet", "web-5d8f7c9b4")),
        ("StatefulSet", "db", {"controller-revision-hash": "db-6c"}, ("StatefulSet", "db")),
        ("", "", {}, ("Pod", "debug-pod")),
    ],
)
def test_the_workload_of_a_container(kind: str, name: str, labels: dict[str, str], expected: tuple[str, str]) -> None:
    use = model.ContainerUse("shop", "debug-pod", "c", "n1", kind, name, labels)
    assert model.workload_of(use) == expected
