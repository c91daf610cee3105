"""How big a proposed change is, and the change a policy's constraints allow.

A policy's floors (``minCpu``, ``minMemory``) raise what is proposed; its
``maxReductionPercent`` caps one cut, so a larger cut reaches its target over
successive runs, each starting from the values the previous one applied.
"""

from __future__ import annotations

from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.policy import Constraints
from kcost.api.v1alpha1.recommendation import ContainerResources, ResourceValues, WorkloadShape

RESOURCES = ("cpu", "memory")


def _requests(shape: WorkloadShape) -> dict[tuple[str, str], float]:
    values: dict[tuple[str, str], float] = {}
    for container in shape.containers:
        for resource in RESOURCES:
            quantity = getattr(container.requests, resource, None) if container.requests else None
            if quantity is not None:
                values[container.name, resource] = parse_quantity(quantity)
    return values


def change_percent(current: WorkloadShape, proposed: WorkloadShape) -> float:
    """The largest relative change of any container's request, or of replicas, in percent."""
    before, after = _requests(current), _requests(proposed)
    percents = [abs(after[key] - old) / old * 100 for key, old in before.items() if key in after and old > 0]
    if proposed.replicas is not None and current.replicas:
        percents.append(abs(proposed.replicas - current.replicas) / current.replicas * 100)
    return max(percents, default=0.0)


def _format(resource: str, value: float) -> str:
    if resource == "cpu":
        return f"{max(1, round(value * 1000))}m"
    return f"{max(1, round(value / 2**20))}Mi"


def constrained(
    current: WorkloadShape, proposed: WorkloadShape, constraints: Constraints
) -> tuple[WorkloadShape, list[str]]:
    """``proposed`` with the policy's floors and per-change cap applied, and a note per value changed.

    Limits follow their request: a limit below the request it was raised to is raised too.
    """
    before = _requests(current)
    floors = {
        "cpu": parse_quantity(constraints.min_cpu) if constraints.min_cpu else 0.0,
        "memory": parse_quantity(constraints.min_memory) if constraints.min_memory else 0.0,
    }
    keep_share = 1 - constraints.max_reduction_percent / 100
    notes: list[str] = []
    containers: list[ContainerResources] = []
    for container in proposed.containers:
        requests = (container.requests or ResourceValues()).model_copy()
        limits = container.limits.model_copy() if container.limits else None
        for resource in RESOURCES:
            text = getattr(requests, resource)
            if text is None:
                continue
            value = parse_quantity(text)
            old = before.get((container.name, resource))
            allowed = max(value, floors[resource], old * keep_share if old else 0.0)
            if allowed > value:
                why = "floor" if allowed == floors[resource] else "maxReductionPercent"
                new_text = _format(resource, allowed)
                notes.append(f"{container.name} {resource} request {text} → {new_text} ({why})")
                setattr(requests, resource, new_text)
                limit = getattr(limits, resource, None) if limits else None
                if limits is not None and limit is not None and parse_quantity(limit) < allowed:
                    setattr(limits, resource, new_text)
        containers.append(container.model_copy(update={"requests": requests, "limits": limits}))
    return proposed.model_copy(update={"containers": containers}), notes
