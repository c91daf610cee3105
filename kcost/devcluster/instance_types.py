"""Instance types a simulated node can be: their provider, capacity and placement.

The price catalog (../shared/data/pricing) names instance types but not their sizes;
the capacities come from the pricing's built-in shape table (m5/c5/r5/t3, e2/n1/n2,
D*s_v5/E*s_v5), limited to whole vCPUs and no GPUs, as nodes here have neither
fractions of a core nor devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from kcost.analyzers.pricing import shapes

Provider = Literal["aws", "gcp", "azure", "onprem"]

# Region and zones each provider's simulated nodes are placed in; nodes rotate over the zones.
PLACEMENT: dict[Provider, tuple[str, tuple[str, ...]]] = {
    "aws": ("us-east-1", ("us-east-1a", "us-east-1b", "us-east-1c")),
    "gcp": ("us-central1", ("us-central1-a", "us-central1-b", "us-central1-c")),
    "azure": ("eastus", ("eastus-1", "eastus-2", "eastus-3")),
}


@dataclass(frozen=True)
class InstanceType:
    """One instance type's name, provider and capacity."""

    name: str
    provider: Provider
    cpu_cores: int
    memory_gib: float

    @property
    def family(self) -> str:
        """``m5`` of ``m5.large``, ``e2`` of ``e2-standard-4``, ``Standard_D`` of ``Standard_D4s_v5``."""
        if self.provider == "aws":
            return self.name.split(".")[0]
        if self.provider == "gcp":
            return shapes.gcp_family(self.name)
        return re.sub(r"\d+s_v5$", "", self.name)


CATALOG: dict[str, InstanceType] = {
    name: InstanceType(name, cast(Provider, provider), int(shape.vcpu), shape.memory_gib)
    for provider, table in shapes.BUILTIN_SHAPES.items()
    for name, shape in table.items()
    if shape.vcpu == int(shape.vcpu) and not shape.gpus
}


class UnknownInstanceTypeError(KeyError):
    """The instance type is not in ``CATALOG``; the message lists the known ones."""

    def __str__(self) -> str:
        return f"unknown instance type {self.args[0]!r}; known: {', '.join(CATALOG)}"


def lookup(name: str) -> InstanceType:
    """The catalog entry of ``name``; raises ``UnknownInstanceTypeError``."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownInstanceTypeError(name) from None
