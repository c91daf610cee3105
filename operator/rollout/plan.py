"""Replica arithmetic of a Deployment canary, kept pure so every step can be checked without a cluster.

The canary is a copy of the Deployment with the new resources and the same selector
labels, so its Services send it traffic. A step moves a share of the pods to it
*surge first*: the canary is scaled up and must be available before the original is
scaled down by the same count, so the workload never has fewer available pods than it
had — and never fewer than its PodDisruptionBudget's ``minAvailable``.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Split:
    """Desired replicas of the original and the canary at one step."""

    original: int
    canary: int


def canary_split(replicas: int, percent: int) -> Split:
    """``percent`` of ``replicas`` on the canary, rounded up and at least one pod while below 100%."""
    if replicas <= 0:
        return Split(original=0, canary=0)
    canary = min(replicas, max(1, math.ceil(replicas * percent / 100)))
    return Split(original=replicas - canary, canary=canary)


def min_available(replicas: int, pdb_min_available: int | str | None, max_unavailable: int | str | None) -> int:
    """The fewest available pods allowed at any moment: the stricter of the PDB and the Deployment's strategy.

    Both accept an absolute count or a percentage of ``replicas`` (``"25%"``), as Kubernetes does:
    ``minAvailable`` percentages round up, ``maxUnavailable`` percentages round down.
    """
    floors = [0]
    if pdb_min_available is not None:
        floors.append(_resolve(pdb_min_available, replicas, round_up=True))
    if max_unavailable is not None:
        floors.append(replicas - _resolve(max_unavailable, replicas, round_up=False))
    return max(floors)


def _resolve(value: int | str, replicas: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        return int(text)
    share = replicas * float(text[:-1]) / 100
    return math.ceil(share) if round_up else math.floor(share)


def may_scale_down_original(available_original: int, available_canary: int, to_original: int, floor: int) -> bool:
    """Scaling the original down to ``to_original`` keeps at least ``floor`` pods available."""
    return min(available_original, to_original) + available_canary >= floor
