"""The uninstall hook waits for what only the operator can finish, then says what is left."""

from __future__ import annotations

from typing import Any

import pytest

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import Resource
from kcost.api.v1alpha1.recommendation import ROLLOUT_FINALIZER, OptimizationRecommendation
from kcost.cli import uninstall


class FakeKube:
    """Lists from a table; each listing of recommendations is one look at a rollback in progress."""

    def __init__(self, analyses: list[str], rolling_back_looks: int) -> None:
        self.analyses = analyses
        self.rolling_back_looks = rolling_back_looks
        self.deleted: list[str] = []

    async def list_raw(self, kind: type[Resource]) -> list[dict[str, Any]]:
        if kind is Analysis:
            return [{"metadata": {"name": name}} for name in self.analyses]
        if kind is OptimizationRecommendation:
            if self.rolling_back_looks <= 0:
                return [{"metadata": {"name": "done", "namespace": "shop", "finalizers": []}}]
            self.rolling_back_looks -= 1
            return [{"metadata": {"name": "web", "namespace": "shop", "finalizers": [ROLLOUT_FINALIZER]}}]
        return []

    async def delete(self, kind: type[Resource], name: str, namespace: str | None) -> None:
        self.deleted.append(name)
        self.analyses.remove(name)


async def test_a_recommendation_rolling_back_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uninstall, "POLL_S", 0.0)
    kube = FakeKube(["nightly"], rolling_back_looks=3)
    assert await uninstall.delete_all(kube, timeout_s=30) == 1  # type: ignore[arg-type]
    assert kube.deleted == ["nightly"]
    assert kube.rolling_back_looks == 0, "returned while a rollout still held its finalizer"


async def test_a_rollback_that_never_ends_is_named_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uninstall, "POLL_S", 0.0)
    kube = FakeKube([], rolling_back_looks=10**9)
    with pytest.raises(uninstall.ObjectsLeftError, match=f"OptimizationRecommendation/shop/web.*{ROLLOUT_FINALIZER}"):
        await uninstall.delete_all(kube, timeout_s=0.05)  # type: ignore[arg-type]
