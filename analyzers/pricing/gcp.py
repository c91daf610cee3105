"""GCP prices from the Cloud Billing Catalog: Compute Engine unit rates, then machine types from their shapes.

This talks to the REST API (``GET {base}/v1/services/6F81-5844-456A/skus``, paged with
``pageToken``/``nextPageToken``) with aiohttp rather than the ``google-cloud-billing``
gRPC client: it stays async without a thread, and a local HTTP server can stand in for
it in contract tests.

Compute Engine does not list machine types: it lists per-family rates, e.g. "E2
Instance Core running in Americas" (per vCPU-hour) and "E2 Instance Ram running in
Americas" (per GiB-hour), for usage types OnDemand and Preemptible (spot), plus GPU
rates ("Nvidia Tesla A100 GPU running in Americas"). A machine type's price is its
shape (``shapes``) times its family's rates: e2-standard-4 = 4 × core + 16 × RAM.
A price is ``units + nanos / 1e9`` of the last tiered rate; a price in another
currency is divided by ``currencyConversionRate`` (USD × rate = that currency).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from kcost.analyzers.pricing.cache import TtlCache
from kcost.analyzers.pricing.checks import hours_in_unit, positive_price
from kcost.analyzers.pricing.credentials import GcpAuth, gcp_auth_from_env
from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import (
    CAPACITY_TYPES,
    DUPLICATE,
    MALFORMED,
    MISSING_FIELD,
    MISSING_RATE,
    NOT_A_NUMBER,
    NOT_HOURLY,
    ON_DEMAND,
    SPOT,
    WRONG_CURRENCY,
    CapacityType,
    JunkRowError,
    NodePrice,
    PriceSheet,
    Rejection,
    utc_now,
)
from kcost.analyzers.pricing.rates import ResourceRates
from kcost.analyzers.pricing.shapes import BUILTIN_SHAPES, Shape, gcp_family
from kcost.analyzers.pricing.transport import RetryPolicy, get_json, with_retries

SOURCE = "gcp-billing-catalog"
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
DEFAULT_BASE_URL = "https://cloudbilling.googleapis.com"
USAGE_TYPES: Mapping[str, CapacityType] = {"OnDemand": ON_DEMAND, "Preemptible": SPOT}
RESOURCE_GROUPS = frozenset({"CPU", "RAM", "GPU", "N1Standard"})  # N1 predefined types have their own group
_INSTANCE = re.compile(
    r"^(?:Spot Preemptible |Preemptible )?(?P<family>[A-Z][A-Z0-9]*)(?: AMD| Intel| Arm| Ampere)?"
    r" (?:Predefined )?Instance (?P<resource>Core|Ram) running in "
)
_GPU = re.compile(r"^(?:Spot Preemptible |Preemptible )?Nvidia (?:Tesla )?(?P<model>.+?) GPU running in ")

Resource = Literal["cpu", "ram", "gpu"]


@dataclass(frozen=True)
class SkuRate:
    """One usable SKU: a family's (or GPU model's) rate per vCPU-, GiB- or GPU-hour in some regions."""

    sku_id: str
    resource: Resource
    name: str  # the machine family ("e2") for CPU and RAM, the GPU model ("A100") for GPUs
    capacity_type: CapacityType
    regions: tuple[str, ...]
    usd_per_unit_hour: float


@dataclass(frozen=True)
class SkuCatalog:
    """Every usable SKU of one fetch, with what was rejected or skipped."""

    rates: tuple[SkuRate, ...]
    rejected: tuple[Rejection, ...]
    skipped: int
    fetched_at: datetime.datetime


def _mapping(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = container.get(name)
    if not isinstance(value, Mapping):
        raise JunkRowError(MISSING_FIELD, f"{name} is missing")
    return value


def _last(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = container.get(name)
    if not isinstance(value, list) or not value or not isinstance(value[-1], Mapping):
        raise JunkRowError(MISSING_FIELD, f"{name} is missing or empty")
    last: Mapping[str, Any] = value[-1]
    return last


def _money(unit_price: Mapping[str, Any]) -> float:
    """``units`` (a string of an int64) + ``nanos`` / 1e9."""
    units, nanos = unit_price.get("units", "0"), unit_price.get("nanos", 0)
    if "units" not in unit_price and "nanos" not in unit_price:
        raise JunkRowError(MISSING_FIELD, "unitPrice has neither units nor nanos")
    try:
        return int(units) + int(nanos) / 1e9
    except (TypeError, ValueError):
        raise JunkRowError(NOT_A_NUMBER, f"unitPrice is units={units!r} nanos={nanos!r}") from None


def usd_per_unit_hour(sku: Mapping[str, Any], resource: Resource) -> float:
    """The SKU's current rate in USD per unit-hour; junk raises ``JunkRowError``."""
    # pricingInfo is chronological: the last entry is the one in effect now.
    info = _last(sku, "pricingInfo")
    expression = _mapping(info, "pricingExpression")
    unit = expression.get("usageUnit")
    if resource == "ram":
        if not isinstance(unit, str) or not unit.startswith("GiBy."):
            raise JunkRowError(NOT_HOURLY, f"usageUnit is {unit!r}, expected GiBy.h")
        unit = unit.removeprefix("GiBy.")
    hours = hours_in_unit(unit, "usageUnit")
    # The first tiers can be free allowances; the last one is the rate for sustained use.
    unit_price = _mapping(_last(expression, "tieredRates"), "unitPrice")
    amount = _money(unit_price)
    currency = unit_price.get("currencyCode")
    if not currency:
        raise JunkRowError(MISSING_FIELD, "unitPrice.currencyCode is missing")
    if currency != "USD":
        rate = info.get("currencyConversionRate")
        try:
            conversion = positive_price(rate, "currencyConversionRate")
        except JunkRowError:
            raise JunkRowError(WRONG_CURRENCY, f"price in {currency} with currencyConversionRate {rate!r}") from None
        if conversion == 1:
            raise JunkRowError(WRONG_CURRENCY, f"price in {currency} with currencyConversionRate 1 (that is USD's)")
        amount /= conversion
    return positive_price(amount, "unitPrice") / hours


def _regions(sku: Mapping[str, Any]) -> tuple[str, ...]:
    regions = sku.get("serviceRegions") or (sku.get("geoTaxonomy") or {}).get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(region, str) for region in regions):
        raise JunkRowError(MISSING_FIELD, "serviceRegions is missing or empty")
    return tuple(regions)


def parse_sku(sku: Mapping[str, Any]) -> SkuRate | None:
    """A SKU → its rate; None for SKUs kcost does not price nodes with (commitments, custom types, storage…)."""
    category = _mapping(sku, "category")
    capacity_type = USAGE_TYPES.get(category.get("usageType", ""))
    if category.get("resourceFamily") != "Compute" or capacity_type is None:
        return None
    if category.get("resourceGroup") not in RESOURCE_GROUPS:
        return None
    description = sku.get("description")
    if not isinstance(description, str):
        raise JunkRowError(MISSING_FIELD, "description is missing")
    resource: Resource
    if instance := _INSTANCE.match(description):
        resource, name = ("cpu" if instance["resource"] == "Core" else "ram"), instance["family"].lower()
    elif (gpu := _GPU.match(description)) and category.get("resourceGroup") == "GPU":
        resource, name = "gpu", gpu["model"]
    else:
        return None  # custom machine types, sole tenancy, extended memory…
    sku_id = str(sku.get("skuId", "?"))
    return SkuRate(sku_id, resource, name, capacity_type, _regions(sku), usd_per_unit_hour(sku, resource))


def parse_skus(skus: Sequence[object], fetched_at: datetime.datetime) -> SkuCatalog:
    """Every SKU of every page → the usable rates, junk rejected with the SKU's id and description."""
    rates: list[SkuRate] = []
    rejected: list[Rejection] = []
    skipped = 0
    for sku in skus:
        if not isinstance(sku, Mapping):
            rejected.append(Rejection("skus[]", MALFORMED, f"a SKU is a {type(sku).__name__}, not an object"))
            continue
        row = f"sku {sku.get('skuId', '?')} ({sku.get('description', '?')})"
        try:
            rate = parse_sku(sku)
        except JunkRowError as error:
            rejected.append(Rejection(row, error.reason, error.detail))
            continue
        if rate is None:
            skipped += 1
        else:
            rates.append(rate)
    return SkuCatalog(tuple(rates), tuple(rejected), skipped, fetched_at)


RateIndex = dict[tuple[Resource, str, CapacityType], SkuRate]


def region_rates(catalog: SkuCatalog, region: str) -> tuple[RateIndex, list[Rejection]]:
    """The rates that apply in ``region``; a second SKU for the same rate is rejected, not averaged."""
    index: RateIndex = {}
    rejected: list[Rejection] = []
    for rate in catalog.rates:
        if region not in rate.regions:
            continue
        key = (rate.resource, rate.name, rate.capacity_type)
        if key in index:
            kept = index[key]
            detail = f"{region} already priced by sku {kept.sku_id} at {kept.usd_per_unit_hour}"
            rejected.append(Rejection(f"sku {rate.sku_id}", DUPLICATE, detail))
            continue
        index[key] = rate
    return index, rejected


def machine_prices(
    catalog: SkuCatalog, region: str, shapes: Mapping[str, Shape]
) -> tuple[list[NodePrice], list[Rejection]]:
    """Each known machine type whose family has rates in ``region``, on-demand and spot."""
    index, rejected = region_rates(catalog, region)
    prices: list[NodePrice] = []
    for machine_type, shape in shapes.items():
        family = gcp_family(machine_type)
        for capacity_type in CAPACITY_TYPES:
            cpu, ram = index.get(("cpu", family, capacity_type)), index.get(("ram", family, capacity_type))
            if cpu is None and ram is None:
                continue  # the family is not sold here (or not as spot): nothing to report
            gpu = index.get(("gpu", shape.gpu_model or "", capacity_type)) if shape.gpus else None
            missing = [name for name, rate in (("core", cpu), ("RAM", ram)) if rate is None]
            missing += [f"{shape.gpu_model} GPU"] if shape.gpus and gpu is None else []
            if missing or cpu is None or ram is None:
                detail = f"no {' or '.join(missing)} rate for {family} in {region}"
                rejected.append(Rejection(f"{machine_type} ({capacity_type})", MISSING_RATE, detail))
                continue
            rates = ResourceRates(cpu.usd_per_unit_hour, ram.usd_per_unit_hour, gpu.usd_per_unit_hour if gpu else 0)
            usd_per_hour = rates.usd_per_hour(shape)
            prices.append(
                NodePrice("gcp", region, machine_type, capacity_type, usd_per_hour, SOURCE, catalog.fetched_at)
            )
    return prices, rejected


@dataclass
class GcpPriceSource:
    """Compute Engine prices of one region from the Cloud Billing Catalog, the SKU list cached for ``ttl_s``."""

    auth: GcpAuth = field(default_factory=gcp_auth_from_env)
    base_url: str = DEFAULT_BASE_URL
    shapes: Mapping[str, Shape] = field(default_factory=lambda: BUILTIN_SHAPES["gcp"])
    page_size: int = 5000
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ttl_s: float = 6 * 3600.0
    max_pages: int = 1000
    now: Callable[[], datetime.datetime] = utc_now
    _cache: TtlCache[str, SkuCatalog] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = TtlCache(self.ttl_s)

    @property
    def provider(self) -> str:
        return "gcp"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/v1/services/{COMPUTE_ENGINE_SERVICE}/skus"

    async def fetch(self, region: str) -> PriceSheet:
        """Prices of the known machine types in ``region``, from the (cached) SKU list."""
        catalog = await self.sku_catalog()
        prices, rejected = machine_prices(catalog, region, self.shapes)
        return PriceSheet.build(SOURCE, prices, [*catalog.rejected, *rejected], catalog.skipped)

    async def sku_catalog(self) -> SkuCatalog:
        """Every usable Compute Engine SKU rate (all regions), cached."""
        return await self._cache.get_or_load("skus", self._fetch_skus)

    async def _fetch_skus(self) -> SkuCatalog:
        fetched_at = self.now()
        skus: list[object] = []
        token = ""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session:
            for page in range(1, self.max_pages + 1):
                params = {"pageSize": str(self.page_size), "currencyCode": "USD"}
                params |= {"pageToken": token} if token else {}
                call = functools.partial(self._page, session, params, page)
                body = await with_retries(call, self.retry)
                skus.extend(body["skus"])
                token = body.get("nextPageToken") or ""
                if not token:
                    break
            else:
                raise PricingError(f"{self.endpoint}: still paging after {self.max_pages} pages")
        if not skus:
            raise PricingError(f"{self.endpoint}: the answer lists no SKUs at all")
        return parse_skus(skus, fetched_at)

    async def _page(self, session: aiohttp.ClientSession, params: dict[str, str], page: int) -> Mapping[str, Any]:
        # Credentials are read per page: a bearer token may expire during a long listing.
        headers = await self.auth.headers()
        body = await get_json(session, self.endpoint, params=params, headers=headers)
        if not isinstance(body, Mapping) or not isinstance(body.get("skus", []), list):
            raise PricingError(f"{self.endpoint} page {page}: expected an object with a skus list")
        # The last page of an empty listing may omit "skus".
        return {"skus": body.get("skus", []), "nextPageToken": body.get("nextPageToken")}
