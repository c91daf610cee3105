"""Cheapest instance types for a shape, per provider, region and capacity type."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from kcost.analyzers.pricing.catalog import load_catalog
from kcost.analyzers.pricing.compare import cheapest_matching
from kcost.analyzers.pricing.model import NodePrice

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)


async def test_cheapest_fits_from_the_shared_price_list(pricing_data: Path) -> None:
    sheet = await load_catalog(pricing_data / "cloud-instance-prices.csv.gz")

    groups = cheapest_matching(sheet.prices.values(), vcpu=4, memory_gib=16, per_group=2)

    best = {
        (g.provider, g.region, g.capacity_type): [(o.instance_type, o.usd_per_hour) for o in g.offers] for g in groups
    }
    assert best[("aws", "us-east-1", "on-demand")] == [("t3.xlarge", 0.1664), ("m5.xlarge", 0.192)]
    assert best[("gcp", "us-central1", "on-demand")] == [("e2-standard-4", 0.13402), ("t2d-standard-4", 0.169)]
    assert best[("gcp", "us-central1", "spot")] == [("e2-standard-4", 0.04021), ("t2d-standard-4", 0.0409)]
    assert best[("azure", "eastus", "on-demand")] == [("Standard_D4s_v5", 0.192), ("Standard_E4s_v5", 0.252)]
    assert all(o.shape.vcpu >= 4 and o.shape.memory_gib >= 16 for g in groups for o in g.offers)


async def test_gpu_shapes_only_match_machines_with_enough_gpus(pricing_data: Path) -> None:
    sheet = await load_catalog(pricing_data / "cloud-instance-prices.csv.gz")
    on_demand, spot = cheapest_matching(sheet.prices.values(), vcpu=16, memory_gib=100, gpus=2)
    assert [(g.provider, g.region, g.capacity_type) for g in (on_demand, spot)] == [
        ("gcp", "us-central1", "on-demand"),
        ("gcp", "us-central1", "spot"),
    ]
    assert [o.instance_type for o in on_demand.offers] == ["a2-highgpu-2g", "a2-highgpu-4g", "a2-highgpu-8g"]
    assert spot.offers[0].usd_per_hour == pytest.approx(2.204031)


def test_unknown_types_are_left_out_and_ties_prefer_the_smaller_machine() -> None:
    prices = [
        NodePrice("aws", "eu-west-1", "m5.2xlarge", "on-demand", 0.2, "test", NOW),
        NodePrice("aws", "eu-west-1", "m5.xlarge", "on-demand", 0.2, "test", NOW),
        NodePrice("aws", "eu-west-1", "z1d.large", "on-demand", 0.01, "test", NOW),
    ]
    (group,) = cheapest_matching(prices, vcpu=2, memory_gib=8)
    assert [o.instance_type for o in group.offers] == ["m5.xlarge", "m5.2xlarge"]


def test_a_nonsense_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="vcpu > 0"):
        cheapest_matching([], vcpu=0, memory_gib=4)
