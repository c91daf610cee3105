"""Who is calling (TokenReview) and what they may do (SubjectAccessReview), each answer cached briefly
in a bounded LRU; and a token bucket per user.

A cached "no" lasts as long as a "yes": a user granted access waits at most ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from cachetools import TTLCache

from kcost.api.v1alpha1.common import GROUP


class _Unknown(Enum):
    """A token not in the cache (None there means a token known to be invalid)."""

    TOKEN = 0


@dataclass(frozen=True)
class Identity:
    """An authenticated user, as TokenReview names it."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Attributes:
    """What a request does, in RBAC's terms: ``verb`` on ``resource`` (of kcost's group) in ``namespace``."""

    verb: str
    resource: str
    namespace: str = ""  # "": the cluster scope (every namespace, or a cluster-scoped kind)
    name: str = ""
    group: str = GROUP


class Reviews(Protocol):
    """The API server's answers, uncached (``gateway.Gateway`` asks the real one)."""

    async def review_token(self, token: str) -> Identity | None:
        """The token's user, None when the token is not valid."""

    async def review_access(self, identity: Identity, attributes: Attributes) -> bool:
        """Whether RBAC allows ``identity`` to do ``attributes``."""


@dataclass
class Access:
    """``Reviews`` cached for ``ttl_s`` seconds, at most ``max_entries`` answers of each kind."""

    reviews: Reviews
    ttl_s: float = 30.0
    max_entries: int = 10_000
    _tokens: TTLCache[str, Identity | None] = field(init=False)
    _decisions: TTLCache[tuple[Identity, Attributes], bool] = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = TTLCache(self.max_entries, self.ttl_s)
        self._decisions = TTLCache(self.max_entries, self.ttl_s)

    async def identify(self, token: str) -> Identity | None:
        """The user behind a bearer token, None when the API server does not accept it."""
        # Keyed by a digest: the cache never holds a usable token.
        key = hashlib.sha256(token.encode()).hexdigest()
        # One lookup, not `in` then `[]`: each TTLCache access also expires old entries.
        cached = self._tokens.get(key, _Unknown.TOKEN)
        if not isinstance(cached, _Unknown):
            return cached
        identity = await self.reviews.review_token(token)
        self._tokens[key] = identity
        return identity

    async def allows(self, identity: Identity, attributes: Attributes) -> bool:
        """Whether RBAC lets ``identity`` do ``attributes``."""
        key = (identity, attributes)
        cached = self._decisions.get(key)
        if cached is not None:
            return cached
        allowed = await self.reviews.review_access(identity, attributes)
        self._decisions[key] = allowed
        return allowed

    async def visible_namespaces(
        self, identity: Identity, verb: str, resource: str, namespaces: Iterable[str]
    ) -> frozenset[str] | None:
        """The namespaces of ``namespaces`` where ``identity`` may ``verb`` ``resource``; None: all of them
        (allowed at the cluster scope)."""
        if await self.allows(identity, Attributes(verb, resource)):
            return None
        chosen = sorted(set(namespaces))
        answers = await asyncio.gather(*(self.allows(identity, Attributes(verb, resource, ns)) for ns in chosen))
        return frozenset(ns for ns, allowed in zip(chosen, answers, strict=True) if allowed)


@dataclass
class RateLimiter:
    """A token bucket per user: ``rate_per_s`` requests a second on average, bursts up to ``burst``."""

    rate_per_s: float
    burst: float
    max_users: int = 10_000
    _buckets: TTLCache[str, tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        # A bucket unused for the time it takes to refill is full again: forgetting it changes nothing.
        self._buckets = TTLCache(self.max_users, max(self.burst / self.rate_per_s, 1.0))

    def wait_s(self, user: str, now_s: float | None = None) -> float:
        """0 when ``user`` may make a request now (and takes a token), else the seconds until one is available."""
        now = time.monotonic() if now_s is None else now_s
        tokens, since = self._buckets.get(user, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.rate_per_s)
        if tokens < 1.0:
            self._buckets[user] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s
        self._buckets[user] = (tokens - 1.0, now)
        return 0.0
