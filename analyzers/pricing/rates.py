"""Unit rates (per vCPU-hour, GiB-hour, GPU-hour) and the defaults used when nothing better is known."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kcost.analyzers.pricing.model import ON_DEMAND, SPOT, CapacityType
from kcost.analyzers.pricing.shapes import Shape


@dataclass(frozen=True)
class ResourceRates:
    """US dollars for one unit of each resource for one hour."""

    usd_per_vcpu_hour: float
    usd_per_gib_hour: float
    usd_per_gpu_hour: float

    def usd_per_hour(self, shape: Shape) -> float:
        """What a node of this shape costs per hour at these rates."""
        return (
            shape.vcpu * self.usd_per_vcpu_hour
            + shape.memory_gib * self.usd_per_gib_hour
            + shape.gpus * self.usd_per_gpu_hour
        )


# GCP us-central1 list prices, the defaults OpenCost uses. The GPU rate has no spot
# variant in that list, so spot GPUs are priced like on-demand ones (an overestimate).
DEFAULT_RATES: Mapping[CapacityType, ResourceRates] = {
    ON_DEMAND: ResourceRates(usd_per_vcpu_hour=0.031611, usd_per_gib_hour=0.004237, usd_per_gpu_hour=0.95),
    SPOT: ResourceRates(usd_per_vcpu_hour=0.006655, usd_per_gib_hour=0.000892, usd_per_gpu_hour=0.95),
}
DEFAULT_RATES_SOURCE = "default-rates"
