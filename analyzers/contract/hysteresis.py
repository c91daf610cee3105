"""Hysteresis: a change too small to be worth a rollout is not proposed, nor replaces an open proposal.

The band is the governing OptimizationPolicy's ``spec.hysteresis`` (defaults: 10% and
1 USD a month). A change is inside it when no request or limit moves by
``minChangePercent`` of its value, or when the monthly cost moves by less than
``minMonthlySavingsUsd``: either way it would roll pods out for next to nothing. The same
test keeps an open proposal as it is when a later run differs from it only inside the
band, so a recommendation does not move with every run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kcost.api import matching
from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.policy import Hysteresis, OptimizationPolicy
from kcost.api.v1alpha1.recommendation import ContainerResources, ResourceValues, WorkloadShape

RESOURCES = ("cpu", "memory")


def band_for(policies: list[OptimizationPolicy], workload: matching.Workload) -> Hysteresis:
    """The governing policy's band; the defaults without one (or while policies conflict)."""
    governing = matching.governing(policies, workload)
    return governing.policy.spec.hysteresis if governing.policy is not None else Hysteresis()


def largest_change_percent(before: WorkloadShape, after: WorkloadShape) -> float:
    """The biggest move of one value, in % of its value before; infinite when a value appears or goes away."""
    largest = 0.0
    for old, new in _value_pairs(before, after):
        if old == new:
            continue
        if old is None or new is None or old == 0:
            return float("inf")
        largest = max(largest, abs(new - old) / old * 100)
    return largest


def inside_band(before: WorkloadShape, after: WorkloadShape, monthly_change_usd: float, band: Hysteresis) -> bool:
    """``after`` differs from ``before`` too little to be proposed (see the module docstring)."""
    return (
        largest_change_percent(before, after) < band.min_change_percent
        or abs(monthly_change_usd) < band.min_monthly_savings_usd
    )


def _value_pairs(before: WorkloadShape, after: WorkloadShape) -> Iterator[tuple[float | None, float | None]]:
    old_containers = {c.name: c for c in before.containers}
    for container in after.containers:
        old = old_containers.get(container.name, ContainerResources(name=container.name))
        for old_values, new_values in (
            (_values(old.requests), _values(container.requests)),
            (_values(old.limits), _values(container.limits)),
        ):
            for resource in RESOURCES:
                yield old_values.get(resource), new_values.get(resource)
    if after.replicas is not None:
        yield (None if before.replicas is None else float(before.replicas)), float(after.replicas)


def _values(values: ResourceValues | None) -> Mapping[str, float | None]:
    if values is None:
        return {}
    given = {"cpu": values.cpu, "memory": values.memory}
    return {resource: None if quantity is None else parse_quantity(quantity) for resource, quantity in given.items()}
