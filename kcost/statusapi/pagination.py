"""The recommendation list: filters, a sort, and keyset cursors that stay right while objects change.

A cursor is the sort key of the last item sent, so the next page starts after it even if
objects were added or removed meanwhile. Sorted orders are kept per cache version, so a
page is a binary search and a short walk, not a sort of every recommendation.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.statusapi.cache import Entry, KindCache
from kcost.statusapi.problems import bad_parameter
from kcost.statusapi.schemas import RecommendationSort

SortKey = tuple[float | str, ...]


def _rec(entry: Entry) -> OptimizationRecommendation:
    model = entry.model
    assert isinstance(model, OptimizationRecommendation)
    return model


def _where(entry: Entry) -> tuple[str, str]:
    return (_rec(entry).namespace or "", _rec(entry).name)


KEYS: dict[RecommendationSort, Callable[[Entry], SortKey]] = {
    RecommendationSort.SAVINGS_DESC: lambda e: (-_rec(e).spec.estimated_monthly_savings, *_where(e)),
    RecommendationSort.SAVINGS: lambda e: (_rec(e).spec.estimated_monthly_savings, *_where(e)),
    RecommendationSort.CONFIDENCE_DESC: lambda e: (-_rec(e).spec.confidence, *_where(e)),
    RecommendationSort.CONFIDENCE: lambda e: (_rec(e).spec.confidence, *_where(e)),
    RecommendationSort.NAME: _where,
}


@dataclass(frozen=True)
class Filters:
    """What a caller asked for; ``visible`` None means every namespace."""

    namespace: str | None = None
    type: str | None = None
    phase: str | None = None
    min_savings: float = 0.0
    visible: frozenset[str] | None = None

    def match(self, entry: Entry) -> bool:
        """Whether ``entry`` passes every filter."""
        rec = _rec(entry)
        namespace = rec.namespace or ""
        return (
            (self.visible is None or namespace in self.visible)
            and (self.namespace is None or namespace == self.namespace)
            and (self.type is None or rec.spec.type == self.type)
            and (self.phase is None or (rec.status.phase or "") == self.phase)
            and rec.spec.estimated_monthly_savings >= self.min_savings
        )


@dataclass
class SortedIndex:
    """The recommendations in each order, rebuilt lazily when the cache changes."""

    cache: KindCache
    _orders: dict[RecommendationSort, tuple[int, list[SortKey], list[Entry]]] = field(default_factory=dict)
    _namespaces: tuple[int, frozenset[str]] = (-1, frozenset())

    def namespaces(self) -> frozenset[str]:
        """The namespaces that hold recommendations."""
        if self._namespaces[0] != self.cache.version:
            present = frozenset(_rec(entry).namespace or "" for entry in self.cache.entries())
            self._namespaces = (self.cache.version, present)
        return self._namespaces[1]

    def order(self, sort: RecommendationSort) -> tuple[list[SortKey], list[Entry]]:
        """Sort keys and entries, in ``sort`` order."""
        known = self._orders.get(sort)
        if known is None or known[0] != self.cache.version:
            key = KEYS[sort]
            keyed = sorted(((key(entry), entry) for entry in self.cache.entries()), key=lambda pair: pair[0])
            known = (self.cache.version, [k for k, _ in keyed], [e for _, e in keyed])
            self._orders[sort] = known
        return known[1], known[2]

    def page(
        self, filters: Filters, sort: RecommendationSort, limit: int, cursor: str | None
    ) -> tuple[list[Entry], str | None]:
        """Up to ``limit`` matching entries after ``cursor``, and the cursor of the next page (None: the last)."""
        keys, entries = self.order(sort)
        start = bisect.bisect_right(keys, decode_cursor(cursor, sort)) if cursor else 0
        found: list[Entry] = []
        for index in range(start, len(entries)):
            if filters.match(entries[index]):
                if len(found) == limit:
                    return found, encode_cursor(KEYS[sort](found[-1]))
                found.append(entries[index])
        return found, None


def encode_cursor(key: SortKey) -> str:
    """An opaque cursor for the item with sort key ``key``."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: RecommendationSort) -> SortKey:
    """The sort key in ``cursor``; a 422 naming ``cursor`` when it is not one of ``sort``'s."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_parameter("cursor", "not a cursor this API issued; send nextCursor unchanged") from None
    numeric = sort is not RecommendationSort.NAME
    shape_ok = (
        isinstance(key, list)
        and len(key) == 2 + numeric
        and all(isinstance(part, str) for part in key[numeric:])
        and (not numeric or (isinstance(key[0], int | float) and not isinstance(key[0], bool)))
    )
    if not shape_ok:
        raise bad_parameter("cursor", f"not a cursor of sort={sort.value}; send the same sort as for the first page")
    return tuple(key)
