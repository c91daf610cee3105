"""Which policy governs a workload: the most specific one that covers it.

Specificity, from most to least: a workload selector (names the workloads), then the
namespace named in ``namespaces``, then a namespace selector, then a policy covering
every namespace. Two covering policies of equal specificity are a conflict: neither
applies anything to that workload until one of them is changed.

The operator, the admission webhook and the analyzers (a policy's hysteresis) all ask it.
"""

from __future__ import annotations

import dataclasses

from kcost.api.scope import SYSTEM_NAMESPACES
from kcost.api.v1alpha1.policy import OptimizationPolicy


@dataclasses.dataclass(frozen=True)
class Workload:
    """What a policy looks at to decide whether it covers a workload."""

    kind: str
    namespace: str
    name: str
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    namespace_labels: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Governing:
    """The outcome of matching: one policy, a conflict between several, or none."""

    policy: OptimizationPolicy | None = None
    conflicting: tuple[OptimizationPolicy, ...] = ()

    @property
    def conflict(self) -> bool:
        return bool(self.conflicting)

    def describe_conflict(self) -> str:
        names = ", ".join(sorted(p.name for p in self.conflicting))
        return f"policies {names} cover it with equal specificity; make one of them more specific"


def covers(policy: OptimizationPolicy, workload: Workload) -> bool:
    """The policy's namespace and workload selection both include the workload."""
    spec = policy.spec
    if spec.namespaces or spec.namespace_selector is not None:
        named = workload.namespace in spec.namespaces
        selected = spec.namespace_selector is not None and spec.namespace_selector.matches(workload.namespace_labels)
        if not (named or selected):
            return False
    elif workload.namespace in SYSTEM_NAMESPACES:
        return False
    return spec.workload_selector is None or spec.workload_selector.matches(workload.labels)


def specificity(policy: OptimizationPolicy, workload: Workload) -> tuple[int, int, int]:
    """A sortable rank: higher is more specific (only meaningful for a policy that covers the workload)."""
    spec = policy.spec
    by_workload = int(spec.workload_selector is not None)
    by_name = int(workload.namespace in spec.namespaces)
    by_selector = int(not by_name and spec.namespace_selector is not None)
    return by_workload, by_name, by_selector


def governing(policies: list[OptimizationPolicy], workload: Workload) -> Governing:
    """The policy that decides for the workload; equally specific rivals are a conflict."""
    ranked = [(specificity(p, workload), p) for p in policies if covers(p, workload)]
    if not ranked:
        return Governing()
    best = max(rank for rank, _ in ranked)
    winners = tuple(sorted((p for rank, p in ranked if rank == best), key=lambda p: p.name))
    if len(winners) > 1:
        return Governing(conflicting=winners)
    return Governing(policy=winners[0])
