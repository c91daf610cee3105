"""Stand-ins for the API server's reviews and writes, and sample objects: for unit tests and bench/api.py."""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kcost.api.v1alpha1.common import Resource
from kcost.statusapi.auth import Access, Attributes, Identity, RateLimiter
from kcost.statusapi.cache import Caches
from kcost.statusapi.costs import HistoryReader
from kcost.statusapi.state import State

REPO = Path(__file__).resolve().parents[2]
PLURALS = ("clustercostprofiles", "analyses", "optimizationrecommendations", "optimizationpolicies")
Body = dict[str, Any]


def sample(kind: str) -> Body:
    """The sample manifest of ``kind`` (config/samples)."""
    text = (REPO / "config" / "samples" / f"optimizer_v1alpha1_{kind.lower()}.yaml").read_text()
    body: Body = yaml.safe_load(text)
    return body


def recommendation(namespace: str, name: str, savings: float = 10.0, phase: str | None = "Proposed") -> Body:
    """A recommendation like the sample, in ``namespace``, saving ``savings`` a month."""
    body = copy.deepcopy(sample("OptimizationRecommendation"))
    body["metadata"] = {"namespace": namespace, "name": name}
    body["spec"]["estimatedMonthlySavings"] = savings
    if phase:
        body["status"] = {"phase": phase}
    return body


@dataclass
class FakeReviews:
    """Tokens map to users; ``grants`` lists (user, verb, resource, namespace) RBAC allows ("" = cluster-wide)."""

    tokens: dict[str, Identity] = field(default_factory=dict)
    grants: set[tuple[str, str, str, str]] = field(default_factory=set)
    calls: int = 0

    async def review_token(self, token: str) -> Identity | None:
        self.calls += 1
        return self.tokens.get(token)

    async def review_access(self, identity: Identity, attributes: Attributes) -> bool:
        self.calls += 1
        for namespace in {"", attributes.namespace}:
            if (identity.user, attributes.verb, attributes.resource, namespace) in self.grants:
                return True
        return False


@dataclass
class FakeWrites:
    """Records writes; a merge patch is applied to the last body the test gave for the object."""

    objects: dict[tuple[str, str], Body] = field(default_factory=dict)
    made: list[tuple[str, Identity, Body]] = field(default_factory=list)

    async def create(self, identity: Identity, kind: type[Resource], body: Body) -> Body:
        self.made.append(("create", identity, body))
        created = {"apiVersion": "optimizer.kcost.dev/v1alpha1", "kind": kind.crd.kind, **copy.deepcopy(body)}
        created["metadata"].setdefault("name", created["metadata"].get("generateName", "x") + "abcde")
        return created

    async def merge_patch(
        self, identity: Identity, kind: type[Resource], name: str, namespace: str | None, patch: Body
    ) -> Body:
        self.made.append(("patch", identity, patch))
        body = copy.deepcopy(self.objects[(namespace or "", name)])
        body["spec"]["approval"].update(patch["spec"]["approval"])
        body["spec"]["approval"]["approvedBy"] = identity.user
        body["spec"]["approval"]["approvedAt"] = datetime.datetime.now(datetime.UTC).isoformat()
        return body


def state(
    reviews: FakeReviews,
    writes: FakeWrites | None = None,
    store: Any = None,
    rate: float = 1000.0,
    burst: float | None = None,
) -> State:
    """A status API state over fakes, its caches marked filled; ``burst`` defaults to ``rate``."""
    caches = Caches()
    for cache in caches.kinds.values():
        cache.synced = True
    return State(
        caches=caches,
        access=Access(reviews, ttl_s=30),
        writes=writes or FakeWrites(),
        history=HistoryReader(store) if store is not None else None,
        limiter=RateLimiter(rate, rate if burst is None else burst),
    )
