"""Unit rates from real node prices: the OpenCost ratio split, blended by capacity, per node and by default.

Expected numbers are computed here from the node prices and the default unit rates
(DESIGN §3), not through the cost model's own split.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.analyzers.contract import AnalyzerError
from kcost.analyzers.cost import model
from kcost.analyzers.cost.analyzer import PriceQuote
from kcost.analyzers.cost.unit_rates import ClusterRates, cluster_rates, rates_for_profile
from kcost.api.v1alpha1.profile import ClusterCostProfile

T0 = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
GIB = 1024**3
HOURS_PER_MONTH = 730
# (CPU core-hour, memory GiB-hour) of DESIGN §3, the base of OpenCost's ratio.
BASE = {"on-demand": (0.031611, 0.004237), "spot": (0.006655, 0.000892)}
PRICES = {("m5.large", "on-demand"): 0.096, ("m5.xlarge", "on-demand"): 0.192, ("m5.xlarge", "spot"): 0.0672}


class TablePricer:
    def __init__(self, prices: dict[tuple[str, str], float], source: str = "catalog") -> None:
        self.prices = prices
        self.source = source
        self.calls = 0

    async def price(self, identity: model.NodeIdentity, *_: Any) -> PriceQuote | None:
        self.calls += 1
        price = self.prices.get((identity.instance_type, identity.capacity_type))
        return PriceQuote(price, self.source, T0) if price is not None else None


class FakeKube:
    """Just what listing nodes and reading a profile call."""

    def __init__(self, nodes: list[dict[str, Any]], profiles: dict[str, dict[str, Any]] | None = None) -> None:
        self._nodes = nodes
        self._profiles = profiles or {}

    async def nodes(self) -> list[dict[str, Any]]:
        return self._nodes

    async def get_raw(self, kind: type, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self._profiles.get(name)


def _kube(nodes: list[dict[str, Any]], profiles: dict[str, dict[str, Any]] | None = None) -> Any:
    return FakeKube(nodes, profiles)


def _node(name: str, instance_type: str, cores: int, gib: int, capacity_type: str = "on-demand") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "node.kubernetes.io/instance-type": instance_type,
                "topology.kubernetes.io/region": "us-east-1",
                "karpenter.sh/capacity-type": capacity_type,
            },
        },
        "status": {"capacity": {"cpu": str(cores), "memory": f"{gib}Gi"}},
    }


FLEET = [
    _node("small", "m5.large", 2, 8),
    _node("large", "m5.xlarge", 4, 16),
    _node("large-spot", "m5.xlarge", 4, 16, "spot"),
]
SHAPES = {"small": (2, 8, "m5.large", "on-demand"), "large": (4, 16, "m5.xlarge", "on-demand")}
SHAPES["large-spot"] = (4, 16, "m5.xlarge", "spot")


def _body(name: str = "p", **pricing: Any) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": name},
        "spec": {"provider": "aws", "region": "us-east-1", "pricing": pricing, "prometheus": {"url": "http://p"}},
    }


def _profile(**pricing: Any) -> ClusterCostProfile:
    return ClusterCostProfile.model_validate(_body(**pricing))


def _split(node: str, discount: float = 0.0) -> tuple[float, float]:
    """OpenCost's ratio: the base rates scaled so that capacity × rate adds up to the node's price."""
    cores, gib, instance_type, capacity_type = SHAPES[node]
    price = PRICES[instance_type, capacity_type] * (1 - discount)
    base_cpu, base_memory = BASE[capacity_type]
    scale = price / (cores * base_cpu + gib * base_memory)
    return base_cpu * scale, base_memory * scale


async def test_blended_rates_are_the_capacity_weighted_split_of_real_prices() -> None:
    rates = await cluster_rates(_kube(FLEET), _profile(), TablePricer(PRICES))
    cores = {name: shape[0] for name, shape in SHAPES.items()}
    gib = {name: shape[1] for name, shape in SHAPES.items()}
    expected_cpu = sum(_split(n)[0] * cores[n] for n in SHAPES) / sum(cores.values())
    expected_memory = sum(_split(n)[1] * gib[n] for n in SHAPES) / sum(gib.values())
    assert rates.blended.cpu_core_hour == pytest.approx(expected_cpu, rel=1e-9)
    assert rates.blended.memory_gib_hour == pytest.approx(expected_memory, rel=1e-9)
    # Blended rates times the cluster's capacity give back what the nodes cost.
    total = sum(cores.values()) * rates.blended.cpu_core_hour + sum(gib.values()) * rates.blended.memory_gib_hour
    assert total == pytest.approx(0.096 + 0.192 + 0.0672, rel=1e-9)
    assert rates.source == "node prices: 3 nodes (aws catalog 3)"
    # Real prices, not the defaults: m5 on-demand is dearer per core than GCP us-central1 list.
    assert rates.blended.cpu_core_hour != pytest.approx(model.DEFAULT_ON_DEMAND.cpu_core_hour, rel=1e-3)


async def test_per_node_rates_and_monthly_cost_on_those_nodes() -> None:
    rates = await cluster_rates(_kube(FLEET), _profile(), TablePricer(PRICES))
    for name in SHAPES:
        assert (rates.by_node[name].cpu_core_hour, rates.by_node[name].memory_gib_hour) == pytest.approx(_split(name))
    cpu, memory = _split("large")
    expected = (0.5 * cpu + 2 * memory) * 3 * HOURS_PER_MONTH
    assert rates.monthly_request_cost(0.5, 2 * GIB, 3, nodes=["large"]) == pytest.approx(expected)
    # Replicas on two nodes: the mean of their rates.
    mean_cpu = (_split("small")[0] + _split("large-spot")[0]) / 2
    mean_memory = (_split("small")[1] + _split("large-spot")[1]) / 2
    assert rates.monthly_request_cost(1.0, GIB, 2, nodes=["small", "large-spot"]) == pytest.approx(
        (mean_cpu + mean_memory) * 2 * HOURS_PER_MONTH
    )


async def test_unknown_nodes_fall_back_to_the_blend() -> None:
    rates = await cluster_rates(_kube(FLEET), _profile(), TablePricer(PRICES))
    blended = (0.25 * rates.blended.cpu_core_hour + 0.5 * rates.blended.memory_gib_hour) * 4 * HOURS_PER_MONTH
    assert rates.monthly_request_cost(0.25, GIB / 2, 4) == pytest.approx(blended)
    assert rates.monthly_request_cost(0.25, GIB / 2, 4, nodes=["gone-node"]) == pytest.approx(blended)
    # An unknown node among known ones is ignored rather than blended in.
    assert rates.rates_for(["gone-node", "large"]) == rates.by_node["large"]


async def test_no_nodes_gives_the_default_rates_and_says_so() -> None:
    pricer = TablePricer(PRICES)
    rates = await cluster_rates(_kube([]), _profile(), pricer)
    assert rates.blended == model.UnitRates(0.031611, 0.004237, 0.95)
    assert rates.by_node == {}
    assert rates.source == "default unit rates: no nodes"
    assert pricer.calls == 0
    assert rates.monthly_request_cost(1.0, GIB, 1, nodes=["x"]) == pytest.approx((0.031611 + 0.004237) * 730)


async def test_nodes_without_capacity_give_the_default_rates() -> None:
    kube = _kube([_node("broken", "m5.large", 0, 8)])
    rates = await cluster_rates(kube, _profile(), TablePricer(PRICES))
    assert rates.blended == model.DEFAULT_ON_DEMAND
    assert rates.source == "default unit rates: no priced node (1 without capacity)"


async def test_the_profile_discount_lowers_every_rate() -> None:
    kube = _kube(FLEET)
    rates = await cluster_rates(kube, _profile(discountPercent=25), TablePricer(PRICES))
    for name in SHAPES:
        assert rates.by_node[name].cpu_core_hour == pytest.approx(_split(name, 0.25)[0])
        assert rates.by_node[name].memory_gib_hour == pytest.approx(_split(name, 0.25)[1])
    undiscounted = await cluster_rates(kube, _profile(), TablePricer(PRICES))
    assert rates.blended.cpu_core_hour == pytest.approx(undiscounted.blended.cpu_core_hour * 0.75)
    assert rates.source == "node prices: 3 nodes (aws catalog 3), 25% discount"


async def test_a_spot_node_is_cheaper_than_the_same_type_on_demand() -> None:
    rates = await cluster_rates(_kube(FLEET), _profile(), TablePricer(PRICES))
    spot, on_demand = rates.by_node["large-spot"], rates.by_node["large"]
    assert spot.cpu_core_hour < on_demand.cpu_core_hour
    assert spot.memory_gib_hour < on_demand.memory_gib_hour
    assert rates.monthly_request_cost(1, GIB, 1, ["large-spot"]) < rates.monthly_request_cost(1, GIB, 1, ["large"])


async def test_an_unpriced_type_uses_its_capacity_types_default_rates() -> None:
    prices = {("m5.large", "on-demand"): 0.096}
    rates = await cluster_rates(_kube(FLEET), _profile(), TablePricer(prices))
    assert rates.by_node["large"].cpu_core_hour == pytest.approx(0.031611)
    assert rates.by_node["large-spot"].memory_gib_hour == pytest.approx(0.000892)
    assert rates.by_node["small"].cpu_core_hour == pytest.approx(_split("small")[0])
    assert rates.source == "node prices: 3 nodes (default 2, aws catalog 1)"


async def test_rates_for_profile_reads_the_profile_and_uses_the_factory() -> None:
    kube = _kube(FLEET, {"p": _body(discountPercent=10)})
    seen: list[str] = []

    async def factory(profile: ClusterCostProfile) -> TablePricer:
        seen.append(profile.name)
        return TablePricer(PRICES, source="live")

    rates = await rates_for_profile(kube, "p", factory)
    assert seen == ["p"]
    assert rates.by_node["small"].cpu_core_hour == pytest.approx(_split("small", 0.10)[0])
    assert rates.source == "node prices: 3 nodes (aws live 3), 10% discount"


async def test_a_missing_profile_is_an_error_naming_it() -> None:
    with pytest.raises(AnalyzerError, match="ClusterCostProfile 'nope' not found"):
        await rates_for_profile(_kube(FLEET), "nope")


async def test_a_pricer_that_cannot_be_built_falls_back_to_default_rates() -> None:
    kube = _kube(FLEET, {"p": _body()})

    async def broken(profile: ClusterCostProfile) -> TablePricer:
        raise RuntimeError("catalog volume not mounted")

    rates = await rates_for_profile(kube, "p", broken)
    assert rates.by_node["large"] == model.DEFAULT_ON_DEMAND
    assert rates.by_node["large-spot"] == model.DEFAULT_SPOT
    assert rates.source.startswith("default unit rates, pricing failed (RuntimeError: catalog volume not mounted)")


def test_default_cluster_rates_price_like_the_old_defaults() -> None:
    rates = ClusterRates.defaults("no profile")
    assert rates.source == "default unit rates: no profile"
    assert rates.monthly_request_cost(0.5, 3 * GIB, 2) == pytest.approx(model.monthly_request_cost(0.5, 3 * GIB, 2))


async def test_a_profile_in_another_currency_is_refused_naming_the_field() -> None:
    kube = _kube(FLEET, {"p": _body(currency="EUR")})
    with pytest.raises(AnalyzerError) as refused:
        await rates_for_profile(kube, "p", lambda profile: TablePricer(PRICES))  # type: ignore[arg-type,return-value]
    assert "ClusterCostProfile p: spec.pricing.currency is 'EUR'" in str(refused.value)
    assert "USD only" in str(refused.value)
