"""The cost analyzer's timers: which profiles a pass covers, and a failed pass not stopping the timer."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, cast

import pytest

from kcost.analyzers.cost import passes
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.kube.client import KubeClient

VALID = {
    "apiVersion": "optimizer.kcost.dev/v1alpha1",
    "kind": "ClusterCostProfile",
    "metadata": {"name": "prod"},
    "spec": {"provider": "aws", "prometheus": {"url": "http://prometheus:9090"}},
}
# A string where the spec expects an object: the operator reports it; the analyzer's passes skip it.
INVALID = {**VALID, "metadata": {"name": "broken"}, "spec": {"provider": "aws", "prometheus": "nowhere"}}


class ListingKube:
    async def list_raw(self, kind: type[Any]) -> list[dict[str, Any]]:
        assert kind is ClusterCostProfile
        return [INVALID, VALID]


async def test_a_pass_covers_the_profiles_that_parse_and_keeps_their_bodies() -> None:
    profiles = await passes.valid_profiles(cast(KubeClient, ListingKube()))
    assert [(body["metadata"]["name"], profile.name) for body, profile in profiles] == [("prod", "prod")]


async def test_a_failed_pass_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    third = asyncio.Event()

    async def one_pass() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the API server is away")
        if calls == 3:
            third.set()

    timer = asyncio.create_task(passes.every(datetime.timedelta(0), one_pass, "test pass"))
    await asyncio.wait_for(third.wait(), timeout=10)
    timer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await timer
    assert "test pass failed; retrying" in caplog.text
