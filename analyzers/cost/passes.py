"""What the cost analyzer's two timers share: the profiles a pass covers, and the timer itself."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.kube.client import KubeClient

log = logging.getLogger("kcost.analyzers.cost")


async def valid_profiles(kube: KubeClient) -> list[tuple[dict[str, Any], ClusterCostProfile]]:
    """Every ClusterCostProfile that parses, with its body (Events need it); the operator reports the others."""
    profiles = []
    for body in await kube.list_raw(ClusterCostProfile):
        try:
            profiles.append((body, ClusterCostProfile.model_validate(body)))
        except ValueError:
            continue
    return profiles


async def every(interval: datetime.timedelta, one_pass: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``one_pass`` every ``interval`` until cancelled; a failed pass is logged and the next one tries again."""
    while True:
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s failed; retrying", what, exc_info=True)
        await asyncio.sleep(interval.total_seconds())
