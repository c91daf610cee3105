from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.analyzers.cost import analyzer, checks, model
from kcost.api.v1alpha1.common import ConditionStatus
from kcost.api.v1alpha1.profile import ClusterCostProfile

T0 = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)


class TablePricer:
    def __init__(self, prices: dict[tuple[str, str], analyzer.PriceQuote]) -> None:
        self.prices = prices

    async def price(self, identity: model.NodeIdentity, *_: Any) -> analyzer.PriceQuote | None:
        return self.prices.get((identity.instance_type, identity.capacity_type))


def _node(
    name: str, instance_type: str, capacity_type: str = "on-demand", cpu: str = "2", memory: str = "8Gi"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "node.kubernetes.io/instance-type": instance_type,
                "topology.kubernetes.io/region": "us-east-1",
                "karpenter.sh/capacity-type": capacity_type,
            },
        },
        "status": {"capacity": {"cpu": cpu, "memory": memory}},
    }


def _profile(**spec: Any) -> ClusterCostProfile:
    return ClusterCostProfile.model_validate(
        {"metadata": {"name": "p"}, "spec": {"provider": "aws", "prometheus": {"url": "http://p"}, **spec}}
    )


async def test_nodes_are_priced_with_discount_and_grouped_by_type() -> None:
    quote = analyzer.PriceQuote(0.096, "catalog", T0)
    pricer = TablePricer({("m5.large", "on-demand"): quote})
    nodes = [_node("a", "m5.large"), _node("b", "m5.large"), _node("c", "m5.large", "spot"), _node("d", "x", cpu="0")]
    priced, inventory, findings = await analyzer.price_nodes(_profile(pricing={"discountPercent": 25}), nodes, pricer)
    assert [n.name for n in priced] == ["a", "b", "c"]
    assert priced[0].hourly_price == pytest.approx(0.072), "a 25% discount applies to list prices"
    on_demand = next(n for n in inventory if n.capacity_type == "on-demand")
    assert (on_demand.count, on_demand.price_source, on_demand.priced_at) == (2, "catalog", T0)
    spot = next(n for n in inventory if n.capacity_type == "spot")
    assert spot.price_source == "default"
    assert "no price for m5.large (spot, us-east-1): default unit rates used" in findings
    assert "node d reports no CPU or memory capacity: cannot price it" in findings


def test_containers_of_running_pods_with_owners() -> None:
    pods = [
        {
            "metadata": {
                "namespace": "shop",
                "name": "web-1",
                "labels": {"team": "a"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d", "controller": True}],
            },
            "spec": {
                "nodeName": "a",
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}}],
            },
            "status": {"phase": "Running"},
        },
        {
            "metadata": {"namespace": "shop", "name": "done"},
            "spec": {"nodeName": "a", "containers": [{"name": "x"}]},
            "status": {"phase": "Succeeded"},
        },
        {"metadata": {"namespace": "shop", "name": "pending"}, "spec": {"containers": [{"name": "x"}]}, "status": {}},
    ]
    uses = analyzer.containers_of(pods)
    assert len(uses) == 1
    assert (uses[0].cpu_request_cores, uses[0].memory_request_bytes, uses[0].workload_kind) == (
        0.25,
        2**30,
        "ReplicaSet",
    )


def test_budget_thresholds() -> None:
    profile = _profile(budget={"monthly": 1000, "alertThresholdsPercent": [50, 80, 100]})
    assert analyzer.budget_condition(_profile(), 10, 20) is None
    within = analyzer.budget_condition(profile, 100, 400)
    assert within is not None
    assert within[0] is ConditionStatus.TRUE
    crossed = analyzer.budget_condition(profile, 500, 850)
    assert crossed is not None
    assert crossed[:2] == (ConditionStatus.FALSE, "Above80Percent")
    assert crossed[2] == "projected 850.00 USD this month (500.00 so far) is 85% of the 1,000.00 budget (threshold 80%)"


def test_daily_rows_add_up_to_the_day() -> None:
    identity = model.NodeIdentity("aws", "us-east-1", "m5.large", "on-demand")
    node = model.price_node("a", identity, 2, 8, 0, hourly_price=0.1, price_source="catalog")
    use = model.ContainerUse("shop", "p", "c", "a", cpu_request_cores=1, memory_request_bytes=4 * model.GIB)
    allocation = model.allocate([node], [use])
    rows = analyzer.daily_rows(allocation)
    assert rows["shop"]["total"] + rows["__idle__"]["total"] == pytest.approx(0.1 * 24)
    assert rows["shop"]["cpu"] == pytest.approx(allocation.containers[0].cpu * 24)


def test_storage_is_priced_per_bound_claim_and_usage_raises_allocation() -> None:
    claims = [
        {"metadata": {"namespace": "db"}, "status": {"phase": "Bound", "capacity": {"storage": "100Gi"}}},
        {"metadata": {"namespace": "db"}, "status": {"phase": "Pending", "capacity": {"storage": "1Ti"}}},
    ]
    hourly = analyzer.storage_hourly(claims, usd_per_gib_month=0.04)
    assert hourly == pytest.approx({"db": 100 * 0.04 / 730})
    use = model.ContainerUse("shop", "p", "c", "n", cpu_request_cores=0.5, memory_request_bytes=model.GIB)
    busy = analyzer.with_usage(use, {("shop", "p", "c"): (2.0, 0.5 * model.GIB)})
    assert (busy.cpu_usage_cores, busy.memory_usage_bytes) == (2.0, 0.5 * model.GIB)
    identity = model.NodeIdentity("aws", "us-east-1", "m5.large", "on-demand")
    node = model.price_node("n", identity, 4, 16, 0, hourly_price=1.0, price_source="catalog")
    assert model.allocate([node], [busy]).containers[0].cpu > model.allocate([node], [use]).containers[0].cpu
    rows = analyzer.breakdown(model.allocate([node], [use]), storage_hourly_total=0.25)
    assert rows.storage == 0.25
    assert rows.total == pytest.approx(1.25)


async def test_pricing_in_another_currency_is_refused_with_a_reason() -> None:
    euros = _profile(
        pricing={"source": "custom", "currency": "EUR", "customRates": {"cpuCoreHour": 0.03, "memoryGiBHour": 0.004}}
    )
    status, reason, message = await checks.check_pricing(None, euros)  # type: ignore[arg-type]  # custom rates read no object
    assert (status, reason) == (ConditionStatus.FALSE, "UnsupportedCurrency")
    assert "spec.pricing.currency is 'EUR'" in message
    assert "USD only" in message
    dollars = _profile(pricing={"source": "custom", "customRates": {"cpuCoreHour": 0.03, "memoryGiBHour": 0.004}})
    assert (await checks.check_pricing(None, dollars))[0] is ConditionStatus.TRUE  # type: ignore[arg-type]
