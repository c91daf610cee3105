"""The small shared pieces: junk checks, the TTL cache, shapes, price sheets."""

from __future__ import annotations

import asyncio
import datetime
import math

import pytest

from kcost.analyzers.pricing.cache import TtlCache
from kcost.analyzers.pricing.checks import hours_in_unit, positive_price, require_usd
from kcost.analyzers.pricing.model import (
    DUPLICATE,
    MISSING_FIELD,
    NOT_A_NUMBER,
    NOT_HOURLY,
    NOT_POSITIVE,
    WRONG_CURRENCY,
    JunkRowError,
    NodePrice,
    PriceSheet,
)
from kcost.analyzers.pricing.shapes import Shape, shape_of

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)


@pytest.mark.parametrize(("value", "expected"), [("0.1920000000", 0.192), (2, 2.0), (0.5, 0.5), ("1e-3", 0.001)])
def test_positive_prices(value: object, expected: float) -> None:
    assert positive_price(value, "price") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, MISSING_FIELD),
        ("", MISSING_FIELD),
        ("0.0000000000", NOT_POSITIVE),
        (-1, NOT_POSITIVE),
        ("NaN", NOT_A_NUMBER),
        (math.inf, NOT_A_NUMBER),
        ("cheap", NOT_A_NUMBER),
        (True, NOT_A_NUMBER),
        ({"USD": "1"}, NOT_A_NUMBER),
    ],
)
def test_junk_prices(value: object, reason: str) -> None:
    with pytest.raises(JunkRowError) as caught:
        positive_price(value, "pricePerUnit.USD")
    assert caught.value.reason == reason
    assert "pricePerUnit.USD" in caught.value.detail


@pytest.mark.parametrize(("unit", "hours"), [("Hrs", 1), ("1 Hour", 1), ("h", 1), ("100 Hours", 100), ("1/Hour", 1)])
def test_hourly_units(unit: str, hours: float) -> None:
    assert hours_in_unit(unit, "unit") == hours


@pytest.mark.parametrize(
    ("unit", "monthly"), [("Mo", True), ("1/Month", True), ("1 Month", True), ("GB", False), ("", False)]
)
def test_other_units_are_rejected(unit: str, monthly: bool) -> None:
    with pytest.raises(JunkRowError) as caught:
        hours_in_unit(unit, "unitOfMeasure")
    assert caught.value.reason == (NOT_HOURLY if unit else MISSING_FIELD)
    assert ("monthly" in caught.value.detail) is monthly


def test_currency() -> None:
    require_usd("USD", "currencyCode")
    with pytest.raises(JunkRowError, match=WRONG_CURRENCY):
        require_usd("EUR", "currencyCode")
    with pytest.raises(JunkRowError, match=MISSING_FIELD):
        require_usd(None, "currencyCode")


def test_a_node_price_refuses_junk_outright() -> None:
    with pytest.raises(ValueError, match="finite number"):
        NodePrice("aws", "us-east-1", "m5.large", "on-demand", math.nan, "test", NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        NodePrice("aws", "us-east-1", "m5.large", "on-demand", 0.1, "test", NOW.replace(tzinfo=None))


def test_a_sheet_keeps_the_first_price_of_a_key_and_rejects_the_rest() -> None:
    first = NodePrice("aws", "us-east-1", "m5.large", "on-demand", 0.096, "test", NOW)
    second = NodePrice("aws", "us-east-1", "m5.large", "on-demand", 0.1, "test", NOW)
    sheet = PriceSheet.build("test", [first, second])
    assert sheet.get(first.key) is first
    assert sheet.rejection_counts() == {DUPLICATE: 1}


def test_shapes_of_common_types() -> None:
    assert shape_of("aws", "m5.xlarge") == Shape(4, 16)
    assert shape_of("aws", "c5.9xlarge") == Shape(36, 72)
    assert shape_of("aws", "t3.nano") == Shape(2, 0.5)
    assert shape_of("gcp", "e2-standard-4") == Shape(4, 16)
    assert shape_of("gcp", "n2-highmem-128") == Shape(128, 864)
    assert shape_of("gcp", "a2-highgpu-2g") == Shape(24, 170, 2, "A100")
    assert shape_of("azure", "Standard_E8s_v5") == Shape(8, 64)
    assert shape_of("azure", "Standard_D4s_v5") == Shape(4, 16)
    assert shape_of("aws", "Standard_D4s_v5") is None


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


async def test_the_cache_keeps_values_for_the_ttl_and_loads_once_for_concurrent_callers() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(ttl_s=60, clock=clock)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return loads

    assert await asyncio.gather(*(cache.get_or_load("us-east-1", load) for _ in range(5))) == [1] * 5
    clock.now_s = 59
    assert await cache.get_or_load("us-east-1", load) == 1
    clock.now_s = 60
    assert await cache.get_or_load("us-east-1", load) == 2
    cache.invalidate("us-east-1")
    assert await cache.get_or_load("us-east-1", load) == 3


async def test_the_cache_does_not_keep_failures() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=60)

    async def fail() -> int:
        raise RuntimeError("outage")

    async def succeed() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", fail)
    assert await cache.get_or_load("k", succeed) == 7
