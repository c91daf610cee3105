"""Machine shapes (vCPU, memory, GPUs) of common instance families, for pricing from unit rates and comparing.

A small built-in table, not a full inventory: AWS m5/c5/r5/t3, GCP e2/n1/n2/t2d/a2 and
Azure D*s_v5/E*s_v5. For any other type the caller passes the node's own capacity.
GCP's shared-core e2-micro/small/medium are billed for a fraction of a vCPU, so their
``vcpu`` is that fraction (0.25, 0.5, 1), which is also what they sustain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """What one node of an instance type offers."""

    vcpu: float
    memory_gib: float
    gpus: int = 0
    gpu_model: str | None = None  # as the GPU's price list names it, e.g. "A100", "T4"


def _family(prefix: str, gib_per_vcpu: float, vcpus_by_size: Mapping[str, float]) -> dict[str, Shape]:
    return {f"{prefix}{size}": Shape(vcpu, vcpu * gib_per_vcpu) for size, vcpu in vcpus_by_size.items()}


def _aws() -> dict[str, Shape]:
    sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48}
    sizes |= {"16xlarge": 64, "24xlarge": 96}
    c5_sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "9xlarge": 36, "12xlarge": 48}
    c5_sizes |= {"18xlarge": 72, "24xlarge": 96}
    t3 = {"nano": (2, 0.5), "micro": (2, 1), "small": (2, 2), "medium": (2, 4), "large": (2, 8)}
    t3 |= {"xlarge": (4, 16), "2xlarge": (8, 32)}
    return (
        _family("m5.", 4, sizes)
        | _family("r5.", 8, sizes)
        | _family("c5.", 2, c5_sizes)
        | {f"t3.{size}": Shape(vcpu, memory_gib) for size, (vcpu, memory_gib) in t3.items()}
    )


def _sized(*vcpus: int) -> dict[str, float]:
    return {str(vcpu): vcpu for vcpu in vcpus}


def _gcp() -> dict[str, Shape]:
    n2_sizes = _sized(2, 4, 8, 16, 32, 48, 64, 80, 96, 128)
    n1_sizes = _sized(2, 4, 8, 16, 32, 64, 96)
    table = {"e2-micro": Shape(0.25, 1), "e2-small": Shape(0.5, 2), "e2-medium": Shape(1, 4)}
    table |= _family("e2-standard-", 4, _sized(2, 4, 8, 16, 32))
    table |= _family("e2-highmem-", 8, _sized(2, 4, 8, 16))
    table |= _family("e2-highcpu-", 1, _sized(2, 4, 8, 16, 32))
    table |= _family("n1-standard-", 3.75, _sized(1) | n1_sizes)
    table |= _family("n1-highmem-", 6.5, n1_sizes)
    table |= _family("n1-highcpu-", 0.9, n1_sizes)
    table |= _family("n2-standard-", 4, n2_sizes)
    table |= _family("n2-highmem-", 8, n2_sizes) | {"n2-highmem-128": Shape(128, 864)}  # capped at 864 GiB
    table |= _family("n2-highcpu-", 1, n2_sizes)
    table |= _family("t2d-standard-", 4, _sized(1, 2, 4, 8, 16, 32, 48, 60))
    table |= {f"a2-highgpu-{gpus}g": Shape(12 * gpus, 85 * gpus, gpus, "A100") for gpus in (1, 2, 4, 8)}
    return table


def _azure() -> dict[str, Shape]:
    table = _family("Standard_D", 4, {f"{vcpu}s_v5": vcpu for vcpu in (2, 4, 8, 16, 32, 48, 64, 96)})
    table |= _family("Standard_E", 8, {f"{vcpu}s_v5": vcpu for vcpu in (2, 4, 8, 16, 20, 32, 48, 64)})
    table["Standard_E96s_v5"] = Shape(96, 672)  # not 768: the largest size stops at 672 GiB
    return table


BUILTIN_SHAPES: Mapping[str, Mapping[str, Shape]] = {"aws": _aws(), "gcp": _gcp(), "azure": _azure()}


def shape_of(provider: str, instance_type: str) -> Shape | None:
    """The built-in shape of an instance type, None when the table does not know it."""
    return BUILTIN_SHAPES.get(provider, {}).get(instance_type)


def gcp_family(machine_type: str) -> str:
    """``e2-standard-4`` → ``e2``: the family whose unit rates price it."""
    return machine_type.split("-", 1)[0]
