"""Custom unit rates and node pool overrides."""

from __future__ import annotations

import datetime

import pytest

from kcost.analyzers.pricing.custom import CustomPricing
from kcost.analyzers.pricing.rates import DEFAULT_RATES
from kcost.analyzers.pricing.shapes import Shape
from kcost.api.v1alpha1.profile import NodePoolRates, UnitRates

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)


def pricing() -> CustomPricing:
    return CustomPricing(
        rates=UnitRates(cpu_core_hour=0.02, memory_gib_hour=0.003),
        node_pools=[
            NodePoolRates.model_validate(
                {"name": "gpu-boxes", "nodeSelector": {"hardware": "dgx"}, "rates": {"gpuHour": 2.5}}
            ),
            NodePoolRates.model_validate(
                {
                    "name": "old-racks",
                    "nodeSelector": {"rack": "r1", "tier": "old"},
                    "rates": {"cpuCoreHour": 0.01, "memoryGiBHour": 0.001},
                }
            ),
            NodePoolRates.model_validate(
                {"name": "shadowed", "nodeSelector": {"rack": "r1"}, "rates": {"cpuCoreHour": 9.0}}
            ),
        ],
    )


def price(labels: dict[str, str], shape: Shape) -> tuple[float, str]:
    node = pricing().price_node(
        labels=labels,
        shape=shape,
        capacity_type="on-demand",
        provider="onprem",
        region="dc1",
        instance_type="",
        now=NOW,
    )
    return node.usd_per_hour, node.source


def test_profile_rates_price_a_node_without_a_pool() -> None:
    usd_per_hour, source = price({"rack": "r2"}, Shape(4, 16))
    assert usd_per_hour == pytest.approx(4 * 0.02 + 16 * 0.003)
    assert source == "custom"


def test_a_pool_overrides_only_the_rates_it_sets() -> None:
    # CPU and memory from the profile, the GPU from the pool.
    usd_per_hour, source = price({"hardware": "dgx"}, Shape(8, 64, gpus=2))
    assert usd_per_hour == pytest.approx(8 * 0.02 + 64 * 0.003 + 2 * 2.5)
    assert source == "custom:gpu-boxes"


def test_the_first_matching_pool_wins_and_needs_every_selector_label() -> None:
    usd_per_hour, source = price({"rack": "r1", "tier": "old"}, Shape(2, 8))
    assert usd_per_hour == pytest.approx(2 * 0.01 + 8 * 0.001)
    assert source == "custom:old-racks"
    usd_per_hour, source = price({"rack": "r1"}, Shape(2, 8))
    assert usd_per_hour == pytest.approx(2 * 9.0 + 8 * 0.003)
    assert source == "custom:shadowed"


def test_unset_rates_fall_back_to_the_defaults_of_the_capacity_type() -> None:
    bare = CustomPricing(rates=UnitRates(cpu_core_hour=0.02))
    on_demand, spot = DEFAULT_RATES["on-demand"], DEFAULT_RATES["spot"]
    rates, source = bare.rates_for({}, "on-demand")
    assert (rates.usd_per_vcpu_hour, rates.usd_per_gib_hour, rates.usd_per_gpu_hour) == (
        0.02,
        on_demand.usd_per_gib_hour,
        on_demand.usd_per_gpu_hour,
    )
    assert source == "custom"
    assert bare.rates_for({}, "spot")[0].usd_per_gib_hour == spot.usd_per_gib_hour
    assert CustomPricing().rates_for({}, "spot")[0] == spot
