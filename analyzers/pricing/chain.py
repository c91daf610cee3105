"""The fallback chain: live price API → last known price → catalog → default unit rates.

Every answer says which tier priced it, which source, and how old the price is, and
carries notes on why the earlier tiers did not answer — that is what status shows.
Live prices are persisted in a ``PriceStore``: within ``reuse_stored_s`` they are served
from it without calling the API again (a restart does not refetch); past that they
are still the "last known" price when the API fails.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import CapacityType, NodePrice, PriceKey, PriceSheet, utc_now
from kcost.analyzers.pricing.rates import DEFAULT_RATES, DEFAULT_RATES_SOURCE, ResourceRates
from kcost.analyzers.pricing.shapes import Shape, shape_of
from kcost.analyzers.pricing.store import InMemoryPriceStore, PriceStore

log = logging.getLogger("kcost.analyzers.pricing")


class Tier(StrEnum):
    """Which step of the chain priced a node type."""

    LIVE = "live"  # the price API, now or within reuse_stored_s
    LAST_KNOWN = "last-known"  # the price API failed: its last answer, however old
    CATALOG = "catalog"
    DEFAULT_RATES = "default-rates"  # the type's shape at the default unit rates
    UNPRICED = "unpriced"


class LiveSource(Protocol):
    """A price API for one provider (``AwsPriceSource``, ``GcpPriceSource``, ``AzureRetailPriceSource``)."""

    @property
    def provider(self) -> str: ...

    async def fetch(self, region: str) -> PriceSheet: ...


@dataclass(frozen=True)
class ResolvedPrice:
    """The price the chain settled on for one key, and how it got there."""

    key: PriceKey
    tier: Tier
    usd_per_hour: float | None
    source: str
    fetched_at: datetime.datetime | None
    age_s: float | None
    notes: tuple[str, ...] = ()  # why each earlier tier did not answer


Region = tuple[str, str]  # (provider, region)


def _mentions(row: str, instance_type: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(instance_type)}(?![\w.-])", row) is not None


def _missing_from_sheet(sheet: PriceSheet, key: PriceKey) -> str:
    rejections = [str(r) for r in sheet.rejected if _mentions(r.row, key.instance_type)]
    if rejections:
        return f"live {sheet.source}: rejected {rejections[0]}"
    return f"live {sheet.source}: no price for it"


def _from_price(key: PriceKey, tier: Tier, price: NodePrice, now: datetime.datetime, notes: list[str]) -> ResolvedPrice:
    age_s = max(0.0, (now - price.fetched_at).total_seconds())
    return ResolvedPrice(key, tier, price.usd_per_hour, price.source, price.fetched_at, age_s, tuple(notes))


@dataclass(frozen=True)
class _Round:
    """What one ``resolve`` learned before pricing each key."""

    now: datetime.datetime
    stored: Mapping[PriceKey, NodePrice]
    sheets: Mapping[Region, PriceSheet]
    errors: Mapping[Region, str]
    reused: frozenset[Region]
    notes: tuple[str, ...]


@dataclass
class PriceChain:
    """Prices node types, falling back tier by tier; see the module docstring."""

    live: Sequence[LiveSource] = ()
    store: PriceStore = field(default_factory=InMemoryPriceStore)
    catalog: PriceSheet | None = None
    default_rates: Mapping[CapacityType, ResourceRates] = field(default_factory=lambda: DEFAULT_RATES)
    reuse_stored_s: float = 6 * 3600.0
    now: Callable[[], datetime.datetime] = utc_now

    async def price(self, key: PriceKey, shape: Shape | None = None) -> ResolvedPrice:
        """One key; ``shape`` (the node's capacity) lets the default rates price unknown types."""
        (resolved,) = await self.resolve([key], {key: shape} if shape else None)
        return resolved

    async def resolve(
        self, keys: Iterable[PriceKey], shapes: Mapping[PriceKey, Shape] | None = None
    ) -> list[ResolvedPrice]:
        """Every key priced by the first tier that can, in the order given (duplicates once)."""
        wanted = list(dict.fromkeys(keys))
        now = self.now()
        general_notes: list[str] = []
        stored = await self._load_stored(general_notes)
        sheets, errors, reused = await self._fetch_live(wanted, stored, now)
        if sheets:
            await self._remember(stored, sheets.values(), general_notes)
        known = _Round(now, stored, sheets, errors, frozenset(reused), tuple(general_notes))
        return [self._resolve_one(key, known, (shapes or {}).get(key)) for key in wanted]

    def _fresh(self, price: NodePrice | None, now: datetime.datetime) -> bool:
        return price is not None and (now - price.fetched_at).total_seconds() < self.reuse_stored_s

    async def _fetch_live(
        self, keys: Sequence[PriceKey], stored: Mapping[PriceKey, NodePrice], now: datetime.datetime
    ) -> tuple[dict[Region, PriceSheet], dict[Region, str], set[Region]]:
        """Sheets and errors by region; regions served from fresh stored prices are not fetched."""
        sources = {source.provider: source for source in self.live}
        by_region: dict[Region, list[PriceKey]] = defaultdict(list)
        for key in keys:
            if key.provider in sources:
                by_region[key.provider, key.region].append(key)
        reused = {region for region, group in by_region.items() if all(self._fresh(stored.get(k), now) for k in group)}
        to_fetch = [region for region in by_region if region not in reused]
        results = await asyncio.gather(
            *(sources[provider].fetch(region) for provider, region in to_fetch), return_exceptions=True
        )
        sheets: dict[Region, PriceSheet] = {}
        errors: dict[Region, str] = {}
        for region, result in zip(to_fetch, results, strict=True):
            if isinstance(result, PricingError):
                log.warning("live prices for %s/%s unavailable: %s", *region, result)
                errors[region] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                sheets[region] = result
        return sheets, errors, reused

    async def _load_stored(self, notes: list[str]) -> dict[PriceKey, NodePrice]:
        try:
            return {price.key: price for price in await self.store.load()}
        except PricingError as error:
            notes.append(f"last known: {error}")
            return {}

    async def _remember(
        self, stored: dict[PriceKey, NodePrice], sheets: Iterable[PriceSheet], notes: list[str]
    ) -> None:
        for sheet in sheets:
            stored.update(sheet.prices)
        try:
            await self.store.save(list(stored.values()))
        except PricingError as error:
            notes.append(f"last known: {error}")

    def _resolve_one(self, key: PriceKey, known: _Round, shape: Shape | None) -> ResolvedPrice:
        region: Region = (key.provider, key.region)
        notes = list(known.notes)
        sheet = known.sheets.get(region)
        if sheet is not None and (live := sheet.get(key)) is not None:
            return _from_price(key, Tier.LIVE, live, known.now, notes)
        if region in known.reused:
            return _from_price(key, Tier.LIVE, known.stored[key], known.now, notes)
        if sheet is not None:
            notes.append(_missing_from_sheet(sheet, key))
        elif region in known.errors:
            notes.append(f"live: {known.errors[region]}")
        else:
            notes.append(f"live: no price API configured for {key.provider}")
        if (last := known.stored.get(key)) is not None:
            return _from_price(key, Tier.LAST_KNOWN, last, known.now, notes)
        notes.append("last known: none stored")
        if self.catalog is not None and (listed := self.catalog.get(key)) is not None:
            return _from_price(key, Tier.CATALOG, listed, known.now, notes)
        notes.append(f"catalog: {'no row for it' if self.catalog is not None else 'none configured'}")
        shape = shape or shape_of(key.provider, key.instance_type)
        if shape is None:
            notes.append("default rates: the shape of the type is unknown")
            return ResolvedPrice(key, Tier.UNPRICED, None, "", None, None, tuple(notes))
        usd_per_hour = self.default_rates[key.capacity_type].usd_per_hour(shape)
        return ResolvedPrice(key, Tier.DEFAULT_RATES, usd_per_hour, DEFAULT_RATES_SOURCE, None, None, tuple(notes))
