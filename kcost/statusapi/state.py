"""What every handler of one status API process shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from kcost.api.v1alpha1.common import Resource
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.statusapi.auth import Access, Identity, RateLimiter
from kcost.statusapi.cache import Caches
from kcost.statusapi.costs import HistoryReader
from kcost.statusapi.pagination import SortedIndex

Body = dict[str, Any]


class Writes(Protocol):
    """Writes made as the calling user (``gateway.Gateway``)."""

    async def create(self, identity: Identity, kind: type[Resource], body: Body) -> Body:
        """Create ``body`` as ``identity``."""

    async def merge_patch(
        self, identity: Identity, kind: type[Resource], name: str, namespace: str | None, patch: Body
    ) -> Body:
        """Merge-patch one object as ``identity``; the object after it."""


@dataclass
class State:
    """The caches, the access reviews, the writer, the history (None: not configured) and the rate limits."""

    caches: Caches
    access: Access
    writes: Writes
    history: HistoryReader | None
    limiter: RateLimiter
    recommendations: SortedIndex = field(init=False)

    def __post_init__(self) -> None:
        self.recommendations = SortedIndex(self.caches.of(OptimizationRecommendation))


STATE = web.AppKey("kcost_state", State)
IDENTITY = web.RequestKey("kcost_identity", Identity)


def state_of(request: web.Request) -> State:
    """The process's shared state."""
    return request.app[STATE]


def identity_of(request: web.Request) -> Identity:
    """The caller, set once their token was reviewed."""
    identity: Identity = request[IDENTITY]
    return identity
