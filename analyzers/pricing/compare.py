"""Which instance types fit a shape most cheaply, per provider, region and capacity type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kcost.analyzers.pricing.model import CapacityType, NodePrice
from kcost.analyzers.pricing.shapes import BUILTIN_SHAPES, Shape


@dataclass(frozen=True)
class Offer:
    instance_type: str
    shape: Shape
    usd_per_hour: float
    source: str


@dataclass(frozen=True)
class OfferGroup:
    """The cheapest fitting types of one provider, region and capacity type, cheapest first."""

    provider: str
    region: str
    capacity_type: CapacityType
    offers: tuple[Offer, ...]


def cheapest_matching(
    prices: Iterable[NodePrice],
    *,
    vcpu: float,
    memory_gib: float,
    gpus: int = 0,
    per_group: int = 3,
    shapes: Mapping[str, Mapping[str, Shape]] = BUILTIN_SHAPES,
) -> list[OfferGroup]:
    """The ``per_group`` cheapest types with at least ``vcpu``, ``memory_gib`` and ``gpus``, for each group.

    ``shapes`` maps provider → instance type → shape; prices of types it does not know
    are left out, since whether they fit cannot be told.
    """
    if vcpu <= 0 or memory_gib < 0 or gpus < 0 or per_group < 1:
        raise ValueError(
            f"a shape needs vcpu > 0, memory_gib >= 0, gpus >= 0 and per_group >= 1; "
            f"got vcpu={vcpu}, memory_gib={memory_gib}, gpus={gpus}, per_group={per_group}"
        )
    groups: dict[tuple[str, str, CapacityType], list[Offer]] = defaultdict(list)
    for price in prices:
        shape = shapes.get(price.provider, {}).get(price.instance_type)
        if shape is None or shape.vcpu < vcpu or shape.memory_gib < memory_gib or shape.gpus < gpus:
            continue
        offer = Offer(price.instance_type, shape, price.usd_per_hour, price.source)
        groups[price.provider, price.region, price.capacity_type].append(offer)
    return [
        OfferGroup(provider, region, capacity_type, tuple(sorted(offers, key=_cost_order)[:per_group]))
        for (provider, region, capacity_type), offers in sorted(groups.items())
    ]


def _cost_order(offer: Offer) -> tuple[float, float, str]:
    # Equal prices: the smaller machine first (less to waste), then by name for a stable order.
    return offer.usd_per_hour, offer.shape.vcpu + offer.shape.memory_gib, offer.instance_type
