"""Last known prices: in memory and in a JSON file."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import NodePrice
from kcost.analyzers.pricing.store import InMemoryPriceStore, JsonFilePriceStore

FETCHED = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
PRICES = [
    NodePrice("aws", "us-east-1", "m5.xlarge", "on-demand", 0.192, "aws-pricing-api", FETCHED),
    NodePrice("aws", "us-east-1", "m5.xlarge", "spot", 0.07, "aws-spot-price-history", FETCHED),
]


async def test_in_memory_round_trip() -> None:
    store = InMemoryPriceStore()
    assert await store.load() == []
    await store.save(PRICES)
    assert await store.load() == PRICES


async def test_json_file_round_trip(tmp_path: Path) -> None:
    store = JsonFilePriceStore(tmp_path / "state" / "prices.json")
    assert await store.load() == []  # nothing saved yet is not an error
    await store.save(PRICES)
    assert await JsonFilePriceStore(tmp_path / "state" / "prices.json").load() == PRICES
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["prices.json"]  # no temporary left behind


async def test_damaged_entries_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    await JsonFilePriceStore(path).save(PRICES[:1])
    good = json.loads(path.read_text())
    good["prices"] += [
        {**good["prices"][0], "usd_per_hour": 0},
        {**good["prices"][0], "usd_per_hour": "NaN"},
        {**good["prices"][0], "capacity_type": "reserved"},
        {**good["prices"][0], "fetched_at": "2026-11-25T12:00:00"},  # no time zone
        {"provider": "aws"},
    ]
    path.write_text(json.dumps(good))
    store = JsonFilePriceStore(path)

    assert await store.load() == PRICES[:1]
    assert store.dropped == 5


async def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{ half a file")
    with pytest.raises(PricingError, match=f"price store {path}: unreadable"):
        await JsonFilePriceStore(path).load()
    path.write_text("[]")
    with pytest.raises(PricingError, match="expected an object with a prices list"):
        await JsonFilePriceStore(path).load()
