"""The fallback chain: tier order, what each answer says about its source and age, persistence."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kcost.analyzers.pricing.chain import PriceChain, Tier
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import NOT_POSITIVE, NodePrice, PriceKey, PriceSheet, Rejection
from kcost.analyzers.pricing.rates import DEFAULT_RATES
from kcost.analyzers.pricing.shapes import Shape
from kcost.analyzers.pricing.store import InMemoryPriceStore, JsonFilePriceStore

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
LIVE_KEY = PriceKey("aws", "us-east-1", "m5.xlarge", "on-demand")
STORED_KEY = PriceKey("aws", "us-east-1", "m5.large", "on-demand")
CATALOG_KEY = PriceKey("aws", "us-east-1", "r5.large", "on-demand")
SHAPED_KEY = PriceKey("aws", "us-east-1", "c5.xlarge", "spot")
UNKNOWN_KEY = PriceKey("aws", "us-east-1", "x9.mystery", "on-demand")


def node_price(key: PriceKey, usd_per_hour: float, source: str, fetched_at: datetime.datetime) -> NodePrice:
    return NodePrice(key.provider, key.region, key.instance_type, key.capacity_type, usd_per_hour, source, fetched_at)


@dataclass
class FakeLive:
    sheet: PriceSheet = field(default_factory=lambda: PriceSheet("aws-pricing-api"))
    error: PricingError | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def provider(self) -> str:
        return "aws"

    async def fetch(self, region: str) -> PriceSheet:
        self.calls.append(region)
        if self.error is not None:
            raise self.error
        return self.sheet


class BrokenStore:
    async def load(self) -> list[NodePrice]:
        raise PricingError("price store /var/lib/kcost/prices.json: unreadable (Expecting value)")

    async def save(self, prices: Sequence[NodePrice]) -> None:
        raise PricingError("price store /var/lib/kcost/prices.json: cannot write (Read-only file system)")


def live_sheet() -> PriceSheet:
    fetched = NOW - datetime.timedelta(seconds=90)
    return PriceSheet.build("aws", [node_price(LIVE_KEY, 0.192, "aws-pricing-api", fetched)])


def catalog() -> PriceSheet:
    as_of = datetime.datetime(2026, 7, 20, 13, 44, 30, tzinfo=datetime.UTC)
    return PriceSheet.build(
        "catalog:prices.csv",
        [
            node_price(CATALOG_KEY, 0.126, "catalog:prices.csv", as_of),
            node_price(LIVE_KEY, 0.2, "catalog:prices.csv", as_of),
        ],
    )


async def test_each_key_is_priced_by_the_first_tier_that_knows_it() -> None:
    three_days_ago = NOW - datetime.timedelta(days=3)
    store = InMemoryPriceStore([node_price(STORED_KEY, 0.096, "aws-pricing-api", three_days_ago)])
    chain = PriceChain(live=[FakeLive(live_sheet())], store=store, catalog=catalog(), now=lambda: NOW)

    live, stored, listed, shaped, unknown = await chain.resolve(
        [LIVE_KEY, STORED_KEY, CATALOG_KEY, SHAPED_KEY, UNKNOWN_KEY, LIVE_KEY]
    )

    assert (live.tier, live.usd_per_hour, live.source, live.age_s) == (Tier.LIVE, 0.192, "aws-pricing-api", 90)
    assert live.notes == ()
    assert (stored.tier, stored.usd_per_hour, stored.age_s) == (Tier.LAST_KNOWN, 0.096, 3 * 86400)
    assert stored.notes == ("live aws: no price for it",)
    assert (listed.tier, listed.usd_per_hour, listed.source) == (Tier.CATALOG, 0.126, "catalog:prices.csv")
    assert listed.fetched_at == datetime.datetime(2026, 7, 20, 13, 44, 30, tzinfo=datetime.UTC)
    assert listed.age_s == pytest.approx((NOW - listed.fetched_at).total_seconds())
    assert listed.notes == ("live aws: no price for it", "last known: none stored")
    spot = DEFAULT_RATES["spot"]
    assert shaped.tier is Tier.DEFAULT_RATES
    assert shaped.usd_per_hour == pytest.approx(4 * spot.usd_per_vcpu_hour + 8 * spot.usd_per_gib_hour)
    assert (shaped.source, shaped.fetched_at, shaped.age_s) == ("default-rates", None, None)
    assert shaped.notes[-1] == "catalog: no row for it"
    assert (unknown.tier, unknown.usd_per_hour) == (Tier.UNPRICED, None)
    assert unknown.notes[-1] == "default rates: the shape of the type is unknown"


async def test_an_outage_falls_back_to_the_last_known_price_and_says_why() -> None:
    week_ago = NOW - datetime.timedelta(days=7)
    store = InMemoryPriceStore([node_price(LIVE_KEY, 0.19, "aws-pricing-api", week_ago)])
    outage = PricingUnavailable("http://pricing get_products: HTTP 503 (gave up after 4 attempts)")
    chain = PriceChain(live=[FakeLive(error=outage)], store=store, catalog=catalog(), now=lambda: NOW)

    resolved = await chain.price(LIVE_KEY)

    assert (resolved.tier, resolved.usd_per_hour, resolved.source) == (Tier.LAST_KNOWN, 0.19, "aws-pricing-api")
    assert resolved.age_s == 7 * 86400
    assert resolved.notes == ("live: http://pricing get_products: HTTP 503 (gave up after 4 attempts)",)


async def test_without_a_store_an_outage_falls_to_the_catalog_then_the_default_rates() -> None:
    outage = PricingUnavailable("down")
    chain = PriceChain(live=[FakeLive(error=outage)], catalog=catalog(), now=lambda: NOW)
    listed, shaped = await chain.resolve([LIVE_KEY, PriceKey("aws", "us-east-1", "m5.2xlarge", "on-demand")])
    assert (listed.tier, listed.usd_per_hour) == (Tier.CATALOG, 0.2)
    on_demand = DEFAULT_RATES["on-demand"]
    assert shaped.tier is Tier.DEFAULT_RATES
    assert shaped.usd_per_hour == pytest.approx(8 * on_demand.usd_per_vcpu_hour + 32 * on_demand.usd_per_gib_hour)
    assert shaped.notes == ("live: down", "last known: none stored", "catalog: no row for it")


async def test_the_node_shape_prices_types_the_table_does_not_know() -> None:
    chain = PriceChain(now=lambda: NOW)
    resolved = await chain.price(UNKNOWN_KEY, Shape(vcpu=3, memory_gib=10, gpus=1))
    on_demand = DEFAULT_RATES["on-demand"]
    expected = 3 * on_demand.usd_per_vcpu_hour + 10 * on_demand.usd_per_gib_hour + on_demand.usd_per_gpu_hour
    assert resolved.tier is Tier.DEFAULT_RATES
    assert resolved.usd_per_hour == pytest.approx(expected)
    assert resolved.notes[0] == "live: no price API configured for aws"
    assert resolved.notes[2] == "catalog: none configured"


async def test_a_rejected_row_is_named_when_the_live_price_is_missing() -> None:
    sheet = PriceSheet.build(
        "aws",
        [],
        [Rejection("sku ZERO (m5.xlarge)", NOT_POSITIVE, "pricePerUnit.USD is '0.0'; a list price must be above zero")],
    )
    chain = PriceChain(live=[FakeLive(sheet)], catalog=catalog(), now=lambda: NOW)
    resolved = await chain.price(LIVE_KEY)
    assert resolved.tier is Tier.CATALOG
    assert resolved.notes[0] == (
        "live aws: rejected sku ZERO (m5.xlarge): ZeroOrNegativePrice: pricePerUnit.USD is '0.0'; "
        "a list price must be above zero"
    )


async def test_live_prices_are_persisted_and_a_restart_does_not_refetch(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    first_live = FakeLive(live_sheet())
    await PriceChain(live=[first_live], store=JsonFilePriceStore(path), now=lambda: NOW).price(LIVE_KEY)
    assert first_live.calls == ["us-east-1"]

    # A new process: the stored price is fresh, so the API is not called.
    restarted = FakeLive(error=PricingUnavailable("must not be called"))
    later = NOW + datetime.timedelta(hours=1)
    chain = PriceChain(live=[restarted], store=JsonFilePriceStore(path), now=lambda: later)
    resolved = await chain.price(LIVE_KEY)
    assert (resolved.tier, resolved.usd_per_hour, resolved.source) == (Tier.LIVE, 0.192, "aws-pricing-api")
    assert resolved.age_s == 3600 + 90
    assert restarted.calls == []

    # Past the reuse window the API is asked again; it fails, so the stored price is the last known one.
    much_later = NOW + datetime.timedelta(hours=7)
    chain = PriceChain(live=[restarted], store=JsonFilePriceStore(path), now=lambda: much_later)
    resolved = await chain.price(LIVE_KEY)
    assert resolved.tier is Tier.LAST_KNOWN
    assert restarted.calls == ["us-east-1"]


async def test_a_broken_store_is_reported_not_fatal() -> None:
    chain = PriceChain(live=[FakeLive(live_sheet())], store=BrokenStore(), catalog=catalog(), now=lambda: NOW)
    live, listed = await chain.resolve([LIVE_KEY, CATALOG_KEY])
    assert (live.tier, listed.tier) == (Tier.LIVE, Tier.CATALOG)
    assert live.notes == (
        "last known: price store /var/lib/kcost/prices.json: unreadable (Expecting value)",
        "last known: price store /var/lib/kcost/prices.json: cannot write (Read-only file system)",
    )
