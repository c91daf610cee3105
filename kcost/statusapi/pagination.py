"""The recommendation list: filters, a sort, and keyset cursors that stay right while objects change.

A cursor is the sort key of the last item sent, so the next page starts after it even if
objects were added or removed meanwhile. Each order is kept sorted as the watch changes
objects, so a page is a binary search and a short walk, never a sort of every recommendation.
A page once answered is kept, encoded, until the next change: the same page asked again costs
a dictionary lookup.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from cachetools import LRUCache
from sortedcontainers import SortedKeyList

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.statusapi.cache import Entry, KindCache
from kcost.statusapi.problems import bad_parameter
from kcost.statusapi.schemas import RecommendationSort

SortKey = tuple[float | str, ...]
# Distinct pages kept between two changes (filters × sort × limit × cursor asked for).
RENDERED_PAGES = 1024


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
    """The recommendations in each order asked for so far, kept sorted as the cache changes (O(log n) a change)."""

    cache: KindCache
    _orders: dict[RecommendationSort, SortedKeyList] = field(default_factory=dict)
    _namespaces: Counter[str] = field(default_factory=Counter)
    #: Pages as answered, by everything they depend on; emptied on every change.
    rendered: LRUCache[Hashable, bytes] = field(default_factory=lambda: LRUCache(RENDERED_PAGES))
    _namespace_set: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for entry in self.cache.entries():
            self._namespaces[_where(entry)[0]] += 1
        self.cache.listeners.append(self._changed)

    def _changed(self, before: Entry | None, after: Entry | None) -> None:
        self.rendered.clear()
        self._namespace_set = None
        for order in self._orders.values():
            if before is not None:
                order.remove(before)
            if after is not None:
                order.add(after)
        if before is not None:
            self._namespaces[_where(before)[0]] -= 1
            if not self._namespaces[_where(before)[0]]:
                del self._namespaces[_where(before)[0]]
        if after is not None:
            self._namespaces[_where(after)[0]] += 1

    def namespaces(self) -> frozenset[str]:
        """The namespaces that hold recommendations."""
        if self._namespace_set is None:
            self._namespace_set = frozenset(self._namespaces)
        return self._namespace_set

    def order(self, sort: RecommendationSort) -> SortedKeyList:
        """The entries in ``sort`` order."""
        if sort not in self._orders:
            self._orders[sort] = SortedKeyList(self.cache.entries(), key=KEYS[sort])
        return self._orders[sort]

    def page(
        self, filters: Filters, sort: RecommendationSort, limit: int, cursor: str | None
    ) -> tuple[list[Entry], str | None]:
        """Up to ``limit`` matching entries after ``cursor``, and the cursor of the next page (None: the last)."""
        order = self.order(sort)
        start = order.bisect_key_right(decode_cursor(cursor, sort)) if cursor else 0
        found: list[Entry] = []
        for entry in order.islice(start):
            if filters.match(entry):
                if len(found) == limit:
                    return found, encode_cursor(KEYS[sort](found[-1]))
                found.append(entry)
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
