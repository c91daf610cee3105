"""Canary replica arithmetic: shares per step, availability floors."""

from __future__ import annotations

import pytest

from kcost.operator.rollout import plan


@pytest.mark.parametrize(
    ("replicas", "percent", "original", "canary"),
    [(5, 20, 4, 1), (5, 50, 2, 3), (5, 100, 0, 5), (1, 20, 0, 1), (10, 25, 7, 3), (0, 50, 0, 0)],
)
def test_canary_split(replicas: int, percent: int, original: int, canary: int) -> None:
    assert plan.canary_split(replicas, percent) == plan.Split(original=original, canary=canary)


def test_the_stricter_floor_wins() -> None:
    assert plan.min_available(5, pdb_min_available=4, max_unavailable="25%") == 4
    assert plan.min_available(5, pdb_min_available="50%", max_unavailable=0) == 5
    assert plan.min_available(5, pdb_min_available="50%", max_unavailable=None) == 3
    assert plan.min_available(4, pdb_min_available=None, max_unavailable="25%") == 3
    assert plan.min_available(4, pdb_min_available=None, max_unavailable=None) == 0


def test_scaling_the_original_down_waits_for_the_canary() -> None:
    # 5 replicas, PDB minAvailable 4: moving one pod needs the canary pod available first.
    assert plan.may_scale_down_original(available_original=5, available_canary=0, to_original=4, floor=4)
    assert not plan.may_scale_down_original(available_original=5, available_canary=0, to_original=3, floor=4)
    assert plan.may_scale_down_original(available_original=5, available_canary=1, to_original=4, floor=4)
