"""Azure VM prices from the Retail Prices API (no credentials needed).

``GET {base}/api/retail/prices?$filter=serviceName eq 'Virtual Machines' and
armRegionName eq '<region>' and priceType eq 'Consumption'``, following
``NextPageLink`` (only to the same host: a page must not send us elsewhere). Each item
has ``armSkuName``, ``retailPrice`` per ``unitOfMeasure`` ('1 Hour') in
``currencyCode``; spot meters have a ``skuName`` ending in " Spot". Windows meters and
the retired "Low Priority" ones are skipped.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from kcost.analyzers.pricing.cache import TtlCache
from kcost.analyzers.pricing.checks import hours_in_unit, positive_price, require_usd
from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import (
    AMBIGUOUS,
    MALFORMED,
    MISSING_FIELD,
    ON_DEMAND,
    SPOT,
    CapacityType,
    JunkRowError,
    NodePrice,
    PriceSheet,
    Rejection,
    utc_now,
)
from kcost.analyzers.pricing.transport import RetryPolicy, endpoint_of, get_json, with_retries

SOURCE = "azure-retail-prices"
DEFAULT_BASE_URL = "https://prices.azure.com"
_REGION = re.compile(r"^[a-z0-9]+$")


def retail_filter(region: str) -> str:
    """The OData ``$filter`` for Linux-or-Windows VM consumption meters of one region."""
    if not _REGION.match(region):
        # The region goes into an OData expression: refuse anything that could change its meaning.
        raise PricingError(f"Azure region {region!r}: expected an ARM region name such as 'eastus'")
    return f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and priceType eq 'Consumption'"


@dataclass(frozen=True)
class RetailPrice:
    instance_type: str
    capacity_type: CapacityType
    usd_per_hour: float
    primary_meter: bool


def parse_item(item: Mapping[str, Any]) -> RetailPrice | None:
    """One item → its price; None for meters kcost skips (Windows, Low Priority, dev/test, volume tiers)."""
    sku_name, product, meter = (str(item.get(name) or "") for name in ("skuName", "productName", "meterName"))
    if item.get("type", "Consumption") != "Consumption" or "Windows" in product:
        return None
    if "Low Priority" in sku_name or "Low Priority" in meter:
        return None
    if isinstance(minimum := item.get("tierMinimumUnits"), int | float) and minimum > 0:
        return None  # a volume tier above the first; the hourly list price is the first tier
    instance_type = item.get("armSkuName")
    if not isinstance(instance_type, str) or not instance_type:
        raise JunkRowError(MISSING_FIELD, "armSkuName is missing")
    require_usd(item.get("currencyCode"), "currencyCode")
    hours = hours_in_unit(item.get("unitOfMeasure"), "unitOfMeasure")
    usd_per_hour = positive_price(item.get("retailPrice"), "retailPrice") / hours
    capacity_type = SPOT if sku_name.endswith(" Spot") else ON_DEMAND
    return RetailPrice(instance_type, capacity_type, usd_per_hour, item.get("isPrimaryMeterRegion") is not False)


def parse_items(
    items: Iterable[object], region: str, fetched_at: datetime.datetime
) -> tuple[list[NodePrice], list[Rejection], int]:
    """Every item of every page → prices (primary meters preferred), rejections, and the skipped count."""
    chosen: dict[tuple[str, CapacityType], RetailPrice] = {}
    rejected: list[Rejection] = []
    skipped = 0
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            rejected.append(Rejection(f"Items[{index}]", MALFORMED, f"an item is a {type(item).__name__}"))
            continue
        row = f"meter {item.get('meterId', '?')} ({item.get('armSkuName', '?')} {item.get('skuName', '?')})"
        try:
            price = parse_item(item)
        except JunkRowError as error:
            rejected.append(Rejection(row, error.reason, error.detail))
            continue
        if price is None:
            skipped += 1
            continue
        kept = chosen.get((price.instance_type, price.capacity_type))
        if kept is None or (price.primary_meter and not kept.primary_meter):
            # The same VM can also be billed under another region's meter: the primary one wins.
            skipped += kept is not None
            chosen[price.instance_type, price.capacity_type] = price
        elif price.primary_meter == kept.primary_meter and price.usd_per_hour != kept.usd_per_hour:
            detail = f"already priced at {kept.usd_per_hour} by another meter, this one says {price.usd_per_hour}"
            rejected.append(Rejection(row, AMBIGUOUS, detail))
        else:
            skipped += 1
    prices = [
        NodePrice("azure", region, price.instance_type, price.capacity_type, price.usd_per_hour, SOURCE, fetched_at)
        for price in chosen.values()
    ]
    return prices, rejected, skipped


@dataclass
class AzureRetailPriceSource:
    """Linux VM prices (on-demand and spot) of one Azure region, cached for ``ttl_s``."""

    base_url: str = DEFAULT_BASE_URL
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ttl_s: float = 6 * 3600.0
    max_pages: int = 1000
    now: Callable[[], datetime.datetime] = utc_now
    _cache: TtlCache[str, PriceSheet] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = TtlCache(self.ttl_s)

    @property
    def provider(self) -> str:
        return "azure"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/retail/prices"

    async def fetch(self, region: str) -> PriceSheet:
        """Every Linux VM price of ``region``; cached, retried, junk rejected."""
        return await self._cache.get_or_load(region, functools.partial(self._fetch, region))

    async def _fetch(self, region: str) -> PriceSheet:
        fetched_at = self.now()
        items: list[object] = []
        url: URL | None = URL(self.endpoint).with_query({"$filter": retail_filter(region)})
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session:
            for page in range(1, self.max_pages + 1):
                assert url is not None  # the loop ends when there is no next page
                body = await with_retries(functools.partial(self._page, session, url, page), self.retry)
                items.extend(body["Items"])
                url = self._next_page(body.get("NextPageLink"), page)
                if url is None:
                    break
            else:
                raise PricingError(f"{self.endpoint}: still paging after {self.max_pages} pages")
        prices, rejected, skipped = parse_items(items, region, fetched_at)
        return PriceSheet.build(SOURCE, prices, rejected, skipped)

    async def _page(self, session: aiohttp.ClientSession, url: URL, page: int) -> Mapping[str, Any]:
        body = await get_json(session, url)
        if not isinstance(body, Mapping) or not isinstance(body.get("Items"), list):
            raise PricingError(f"{endpoint_of(url)} page {page}: expected an object with an Items list")
        return body

    def _next_page(self, link: object, page: int) -> URL | None:
        if not link:
            return None
        next_url, base = URL(str(link)), URL(self.base_url)
        if (next_url.scheme, next_url.host) != (base.scheme, base.host):
            raise PricingError(f"{self.endpoint} page {page}: NextPageLink points to {next_url.host}, not {base.host}")
        return next_url
