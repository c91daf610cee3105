"""Custom unit rates (``spec.pricing.customRates``) with per-node-pool overrides (``spec.pricing.nodePools``).

A node costs vCPU × rate + memory GiB × rate + GPUs × rate. Its rates come, field by
field, from the first node pool whose ``nodeSelector`` its labels match, then from the
profile's rates, then from the default rates of its capacity type — so a pool can
override only its GPU price, say. The rates are the profile's; kcost treats them as
US dollars like every other price.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcost.analyzers.pricing.model import CapacityType, NodePrice, utc_now
from kcost.analyzers.pricing.rates import DEFAULT_RATES, ResourceRates
from kcost.analyzers.pricing.shapes import Shape
from kcost.api.v1alpha1.profile import NodePoolRates, UnitRates

SOURCE = "custom"


@dataclass(frozen=True)
class CustomPricing:
    """The profile's unit rates and its node pool overrides, in spec order (the first match wins)."""

    rates: UnitRates | None = None
    node_pools: Sequence[NodePoolRates] = ()

    def pool_for(self, labels: Mapping[str, str]) -> NodePoolRates | None:
        """The first pool whose every selector label the node carries."""
        for pool in self.node_pools:
            if all(labels.get(key) == value for key, value in pool.node_selector.items()):
                return pool
        return None

    def rates_for(self, labels: Mapping[str, str], capacity_type: CapacityType) -> tuple[ResourceRates, str]:
        """The node's rates and the source that names them (``custom`` or ``custom:<pool>``)."""
        pool = self.pool_for(labels)
        layers = [layer for layer in (pool.rates if pool else None, self.rates) if layer is not None]
        default = DEFAULT_RATES[capacity_type]

        def pick(name: str, fallback: float) -> float:
            return next((value for layer in layers if (value := getattr(layer, name)) is not None), fallback)

        rates = ResourceRates(
            usd_per_vcpu_hour=pick("cpu_core_hour", default.usd_per_vcpu_hour),
            usd_per_gib_hour=pick("memory_gib_hour", default.usd_per_gib_hour),
            usd_per_gpu_hour=pick("gpu_hour", default.usd_per_gpu_hour),
        )
        return rates, f"{SOURCE}:{pool.name}" if pool else SOURCE

    def price_node(
        self,
        *,
        labels: Mapping[str, str],
        shape: Shape,
        capacity_type: CapacityType,
        provider: str,
        region: str,
        instance_type: str,
        now: datetime.datetime | None = None,
    ) -> NodePrice:
        """The hourly price of one node of ``shape`` (its capacity) at its pool's rates."""
        rates, source = self.rates_for(labels, capacity_type)
        return NodePrice(
            provider, region, instance_type, capacity_type, rates.usd_per_hour(shape), source, now or utc_now()
        )
