"""Unit rates for savings, read through the real API server: profile, nodes and catalog ConfigMap.

Whatever nodes the session cluster holds, each one's expected rates are computed
here from its capacity and labels: its price (custom rates × capacity, or the
catalog row, less the discount, or the default rates of its capacity type), split
by OpenCost's ratio of the default unit rates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import Prometheus, custom_profile
from kcost.analyzers.contract import AnalyzerError
from kcost.analyzers.cost.unit_rates import rates_for_profile
from kcost.api.v1alpha1.common import parse_quantity
from kcost.devcluster.cluster import DevCluster
from kcost.kube.client import connect

GIB = 1024**3
# (CPU core-hour, memory GiB-hour, GPU hour) of DESIGN §3: the defaults and the base of the ratio.
BASE = {"on-demand": (0.031611, 0.004237, 0.95), "spot": (0.006655, 0.000892, 0.95)}
# Custom rates in the defaults' own proportions: the ratio split must give them back exactly.
CUSTOM_CPU, CUSTOM_MEMORY = 0.031611 * 1.5, 0.004237 * 1.5
CATALOG = {
    ("us-east-1", "m5.large", "on-demand"): 0.096,
    ("us-east-1", "m5.xlarge", "on-demand"): 0.192,
    ("us-east-1", "m5.xlarge", "spot"): 0.0672,
}
CATALOG_CSV = "provider,region,instance_type,capacity_type,usd_per_hour,as_of\n" + "".join(
    f"aws,{region},{instance_type},{capacity},{price},2026-11-01\n"
    for (region, instance_type, capacity), price in CATALOG.items()
)


class Node:
    def __init__(self, body: dict[str, Any]) -> None:
        labels: dict[str, str] = body["metadata"].get("labels") or {}
        capacity = body["status"]["capacity"]
        self.name: str = body["metadata"]["name"]
        self.cores = parse_quantity(capacity["cpu"])
        self.gib = parse_quantity(capacity["memory"]) / GIB
        self.gpus = parse_quantity(capacity.get("nvidia.com/gpu", "0"))
        spot = (
            labels.get("karpenter.sh/capacity-type") == "spot"
            or labels.get("cloud.google.com/gke-spot") == "true"
            or labels.get("kubernetes.azure.com/scalesetpriority") == "spot"
        )
        self.capacity_type = "spot" if spot else "on-demand"
        self.key = (
            labels.get("topology.kubernetes.io/region", ""),
            labels.get("node.kubernetes.io/instance-type", ""),
            self.capacity_type,
        )

    def default_price(self) -> float:
        cpu, memory, gpu = BASE[self.capacity_type]
        return self.cores * cpu + self.gib * memory + self.gpus * gpu

    def split(self, hourly_price: float) -> tuple[float, float]:
        """OpenCost's default ratio: the base rates scaled to add up to the node's price."""
        cpu, memory, _ = BASE[self.capacity_type]
        scale = hourly_price / self.default_price()
        return cpu * scale, memory * scale


def _nodes(kubectl: Any) -> list[Node]:
    result = kubectl("get", "nodes", "-o", "json")
    assert result.returncode == 0, result.stderr
    return [Node(body) for body in json.loads(result.stdout)["items"]]


def _blend(nodes: list[Node], rates: dict[str, tuple[float, float]]) -> tuple[float, float]:
    cores = sum(n.cores for n in nodes)
    gib = sum(n.gib for n in nodes)
    return (
        sum(rates[n.name][0] * n.cores for n in nodes) / cores,
        sum(rates[n.name][1] * n.gib for n in nodes) / gib,
    )


@pytest.fixture
def kubeconfig(kcost_crds: DevCluster) -> str:
    return str(kcost_crds.require_state().admin_kubeconfig)


@pytest.fixture
def profiles(kcost_crds: DevCluster, kubectl: Any, prometheus: Prometheus) -> Iterator[Any]:
    """Apply ClusterCostProfiles (and the catalog ConfigMap); all deleted afterwards."""
    applied: list[tuple[str, ...]] = []

    def apply(body: dict[str, Any]) -> None:
        result = kubectl("apply", "-f", "-", input_text=json.dumps(body))
        assert result.returncode == 0, result.stderr
        namespace = body["metadata"].get("namespace")
        applied.append((body["kind"].lower(), body["metadata"]["name"], *(("-n", namespace) if namespace else ())))

    yield apply
    for what in applied:
        kubectl("delete", *what, "--ignore-not-found", "--timeout=30s")


async def test_custom_rates_come_back_as_the_unit_rates(
    profiles: Any, kubectl: Any, kubeconfig: str, prometheus: Prometheus
) -> None:
    body = custom_profile("unit-rates-custom", prometheus.url)
    body["spec"]["pricing"]["customRates"] = {"cpuCoreHour": CUSTOM_CPU, "memoryGiBHour": CUSTOM_MEMORY}
    profiles(body)
    nodes = _nodes(kubectl)
    assert nodes, "the session cluster has simulated nodes"
    async with connect(kubeconfig) as kube:
        rates = await rates_for_profile(kube, "unit-rates-custom")
    expected = {n.name: n.split(n.cores * CUSTOM_CPU + n.gib * CUSTOM_MEMORY) for n in nodes}
    assert set(rates.by_node) == set(expected)
    for node in nodes:
        got = rates.by_node[node.name]
        assert (got.cpu_core_hour, got.memory_gib_hour) == pytest.approx(expected[node.name], rel=1e-9), node.name
        if node.capacity_type == "on-demand":
            assert (got.cpu_core_hour, got.memory_gib_hour) == pytest.approx((CUSTOM_CPU, CUSTOM_MEMORY), rel=1e-9)
    blended = _blend(nodes, expected)
    assert (rates.blended.cpu_core_hour, rates.blended.memory_gib_hour) == pytest.approx(blended, rel=1e-9)
    assert rates.source.startswith(f"node prices: {len(nodes)} nodes ("), rates.source
    counts = [part.rsplit(" ", 1) for part in rates.source.split("(", 1)[1].rstrip(")").split(", ")]
    assert all(label.endswith(" custom") for label, _ in counts), rates.source
    assert sum(int(count) for _, count in counts) == len(nodes), rates.source


async def test_catalog_config_map_prices_are_split_with_the_discount(
    profiles: Any, kubectl: Any, kubeconfig: str, prometheus: Prometheus
) -> None:
    profiles(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unit-rates-catalog", "namespace": "default"},
            "data": {"prices.csv": CATALOG_CSV},
        }
    )
    profiles(
        {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "ClusterCostProfile",
            "metadata": {"name": "unit-rates-catalog"},
            "spec": {
                "provider": "aws",
                "region": "us-east-1",
                "pricing": {
                    "source": "catalog",
                    "discountPercent": 20,
                    "catalog": {
                        "configMapRef": {"name": "unit-rates-catalog", "namespace": "default", "key": "prices.csv"}
                    },
                },
                "prometheus": {"url": prometheus.url},
            },
        }
    )
    nodes = _nodes(kubectl)
    catalog_priced = [n for n in nodes if n.key in CATALOG]
    assert catalog_priced, f"some session node is an m5 in us-east-1: {[n.key for n in nodes]}"
    async with connect(kubeconfig) as kube:
        rates = await rates_for_profile(kube, "unit-rates-catalog")
    expected = {n.name: n.split(CATALOG[n.key] * 0.8 if n.key in CATALOG else n.default_price()) for n in nodes}
    for node in nodes:
        got = rates.by_node[node.name]
        assert (got.cpu_core_hour, got.memory_gib_hour) == pytest.approx(expected[node.name], rel=1e-9), node.key
    blended = _blend(nodes, expected)
    assert (rates.blended.cpu_core_hour, rates.blended.memory_gib_hour) == pytest.approx(blended, rel=1e-9)
    assert f"aws catalog {len(catalog_priced)}" in rates.source, rates.source
    assert rates.source.endswith("20% discount"), rates.source
    # A replica on a catalog-priced node costs what that node's split says, not the defaults.
    node = catalog_priced[0]
    cpu, memory = expected[node.name]
    assert rates.monthly_request_cost(1.0, 2 * GIB, 3, [node.name]) == pytest.approx((cpu + 2 * memory) * 3 * 730)


async def test_an_unreadable_catalog_falls_back_to_default_rates(
    profiles: Any, kubectl: Any, kubeconfig: str, prometheus: Prometheus
) -> None:
    body = custom_profile("unit-rates-no-catalog", prometheus.url)
    body["spec"]["pricing"] = {
        "source": "catalog",
        "catalog": {"configMapRef": {"name": "no-such-catalog", "namespace": "default", "key": "prices.csv"}},
    }
    profiles(body)
    nodes = _nodes(kubectl)
    async with connect(kubeconfig) as kube:
        rates = await rates_for_profile(kube, "unit-rates-no-catalog")
    for node in nodes:
        cpu, memory, _ = BASE[node.capacity_type]
        got = rates.by_node[node.name]
        assert (got.cpu_core_hour, got.memory_gib_hour) == pytest.approx((cpu, memory), rel=1e-9), node.name
    assert rates.source == f"node prices: {len(nodes)} nodes (default {len(nodes)})"


async def test_a_missing_profile_is_a_clear_error_naming_it(kubeconfig: str) -> None:
    async with connect(kubeconfig) as kube:
        with pytest.raises(AnalyzerError, match=r"ClusterCostProfile 'unit-rates-missing' not found"):
            await rates_for_profile(kube, "unit-rates-missing")
