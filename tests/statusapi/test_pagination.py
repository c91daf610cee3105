"""The recommendation orders follow the watch: changes, deletions and a fresh list re-place entries."""

from __future__ import annotations

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.statusapi.cache import KindCache
from kcost.statusapi.pagination import Filters, SortedIndex
from kcost.statusapi.schemas import RecommendationSort
from tests.statusapi import fakes

SAVINGS = RecommendationSort.SAVINGS_DESC


def _names(index: SortedIndex, sort: RecommendationSort = SAVINGS) -> list[str]:
    found, _ = index.page(Filters(), sort, 100, None)
    return [entry.body["metadata"]["name"] for entry in found]


def test_the_order_follows_changes_and_deletions() -> None:
    cache = KindCache(OptimizationRecommendation)
    index = SortedIndex(cache)
    for name, savings in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        cache.observe("ADDED", fakes.recommendation("shop", name, savings))
    assert _names(index) == ["c", "b", "a"]
    cache.observe("MODIFIED", fakes.recommendation("shop", "a", 9.0))
    assert _names(index) == ["a", "c", "b"]
    assert _names(index, RecommendationSort.SAVINGS) == ["b", "c", "a"]
    cache.observe("DELETED", fakes.recommendation("shop", "c", 3.0))
    assert _names(index) == ["a", "b"]
    assert _names(index, RecommendationSort.SAVINGS) == ["b", "a"]
    assert index.namespaces() == {"shop"}
    cache.replace([fakes.recommendation("bank", "z", 5.0)])
    assert _names(index) == ["z"]
    assert index.namespaces() == {"bank"}


def test_a_cursor_resumes_after_its_item_even_when_items_were_added_before_it() -> None:
    cache = KindCache(OptimizationRecommendation)
    index = SortedIndex(cache)
    for n in range(6):
        cache.observe("ADDED", fakes.recommendation("shop", f"r{n}", float(n)))
    first, cursor = index.page(Filters(), SAVINGS, 3, None)
    assert [e.body["metadata"]["name"] for e in first] == ["r5", "r4", "r3"]
    cache.observe("ADDED", fakes.recommendation("shop", "big", 100.0))
    rest, cursor = index.page(Filters(), SAVINGS, 3, cursor)
    assert [e.body["metadata"]["name"] for e in rest] == ["r2", "r1", "r0"]
    assert cursor is None


def test_a_fresh_list_reports_what_changed_since_the_last_state() -> None:
    cache = KindCache(OptimizationRecommendation)
    for name in ("kept", "changed", "removed"):
        cache.observe("ADDED", fakes.recommendation("shop", name, 1.0))
    changes = cache.replace(
        [
            fakes.recommendation("shop", "kept", 1.0),
            fakes.recommendation("shop", "changed", 2.0),
            fakes.recommendation("shop", "new", 1.0),
        ]
    )
    assert sorted((c.type, c.body["metadata"]["name"]) for c in changes) == [
        ("ADDED", "new"),
        ("DELETED", "removed"),
        ("MODIFIED", "changed"),
    ]
