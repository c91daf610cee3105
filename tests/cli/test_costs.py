"""`kubectl cost costs` prices nodes with the cost analyzer's own `price_nodes`, at the prices it published."""

from __future__ import annotations

from typing import Any

from kcost.analyzers.cost import analyzer, model
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.cli.kubectl_cost.commands import costs

PROFILE = ClusterCostProfile.model_validate(
    {
        "metadata": {"name": "p"},
        "spec": {
            "provider": "aws",
            "region": "us-east-1",
            "pricing": {"source": "catalog", "discountPercent": 20},
            "prometheus": {"url": "http://127.0.0.1:1"},
        },
        "status": {
            "nodes": [
                {
                    "instanceType": "m5.large",
                    "region": "us-east-1",
                    "capacityType": "on-demand",
                    "count": 1,
                    "hourlyPrice": 0.0768,
                    "priceSource": "catalog",
                }
            ]
        },
    }
)


def _node(name: str, instance_type: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": instance_type}},
        "status": {"capacity": {"cpu": "2", "memory": "8Gi"}},
    }


async def test_published_prices_are_not_discounted_twice() -> None:
    priced, _, _ = await analyzer.price_nodes(
        PROFILE, [_node("a", "m5.large"), _node("b", "x9.huge")], costs.PublishedPrices(PROFILE)
    )
    by_name = {node.name: node for node in priced}
    assert by_name["a"].hourly_price == 0.0768, "the status price already carries the 20% discount"
    default = model.price_node("b", by_name["b"].identity, 2, 8, 0, hourly_price=None, price_source="default")
    assert by_name["b"].hourly_price == default.hourly_price, "a type the analyzer has not priced: default rates"
