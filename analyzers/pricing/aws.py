"""AWS prices: on-demand from the Price List API, spot from EC2's spot price history.

Both through boto3, whose calls block, so each runs in a thread. ``endpoint_url``
points both clients elsewhere (a local server speaking the AWS JSON 1.1 and EC2 query
protocols in tests). botocore's own retries are off: tenacity retries throttling,
5xx and network errors with backoff, so one policy governs every source.

- ``pricing.get_products``: ServiceCode AmazonEC2, filtered on regionCode, Linux,
  shared tenancy, no pre-installed software, capacity status Used; paged with
  ``NextToken``; each ``PriceList`` entry is a JSON string whose price is in
  ``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD`` per ``Hrs``.
- ``ec2.describe_spot_price_history``: Linux/UNIX from now, paged with ``NextToken``;
  a type's spot price is the mean of the latest price in each availability zone.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kcost.analyzers.pricing.cache import TtlCache
from kcost.analyzers.pricing.checks import hours_in_unit, positive_price, require_usd
from kcost.analyzers.pricing.credentials import AwsCredentials
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import (
    AMBIGUOUS,
    MALFORMED,
    MISSING_FIELD,
    ON_DEMAND,
    SPOT,
    JunkRowError,
    NodePrice,
    PriceSheet,
    Rejection,
    utc_now,
)
from kcost.analyzers.pricing.transport import RetryPolicy, with_retries

PRICING_SOURCE = "aws-pricing-api"
SPOT_SOURCE = "aws-spot-price-history"
SERVICE_CODE = "AmazonEC2"
PRODUCT_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
SPOT_PRODUCT = "Linux/UNIX"
# Error codes that mean "later", not "never".
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AccessDeniedException",
        "AccessDenied",
        "AuthFailure",
        "UnauthorizedOperation",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    }
)


def _mapping(container: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = container.get(name)
    if not isinstance(value, Mapping):
        raise JunkRowError(MISSING_FIELD, f"{path} is missing")
    return value


def parse_product(document: Mapping[str, Any], region: str) -> tuple[str, float] | None:
    """One decoded PriceList entry → (instance type, USD per hour); None for products kcost skips."""
    attributes = _mapping(_mapping(document, "product", "product"), "attributes", "product.attributes")
    instance_type = attributes.get("instanceType")
    if not isinstance(instance_type, str) or not instance_type:
        raise JunkRowError(MISSING_FIELD, "product.attributes.instanceType is missing")
    if attributes.get("regionCode", region) != region:
        raise JunkRowError(MALFORMED, f"regionCode is {attributes.get('regionCode')!r}, asked for {region!r}")
    if attributes.get("marketoption", "OnDemand") != "OnDemand":
        return None  # capacity blocks and the like are not on-demand list prices
    usd_per_hour: set[float] = set()
    for offer in _mapping(_mapping(document, "terms", "terms"), "OnDemand", "terms.OnDemand").values():
        if not isinstance(offer, Mapping):
            raise JunkRowError(MALFORMED, "terms.OnDemand.* is not an object")
        for dimension in _mapping(offer, "priceDimensions", "terms.OnDemand.*.priceDimensions").values():
            if not isinstance(dimension, Mapping):
                raise JunkRowError(MALFORMED, "priceDimensions.* is not an object")
            hours = hours_in_unit(dimension.get("unit"), "priceDimensions.*.unit")
            per_unit = _mapping(dimension, "pricePerUnit", "priceDimensions.*.pricePerUnit")
            if "USD" not in per_unit:
                require_usd(next(iter(per_unit), None), "priceDimensions.*.pricePerUnit currency")
            usd_per_hour.add(positive_price(per_unit["USD"], "pricePerUnit.USD") / hours)
    if not usd_per_hour:
        raise JunkRowError(MISSING_FIELD, "terms.OnDemand has no price dimension")
    if len(usd_per_hour) > 1:
        raise JunkRowError(AMBIGUOUS, f"several hourly prices {sorted(usd_per_hour)}")
    return instance_type, usd_per_hour.pop()


def _decode_entry(entry: object) -> tuple[str, Mapping[str, Any]]:
    """A PriceList entry (a JSON string) → (row id, document)."""
    if not isinstance(entry, str):
        raise JunkRowError(MALFORMED, f"PriceList entry is a {type(entry).__name__}, expected a JSON string")
    try:
        document = json.loads(entry)
    except ValueError as error:
        raise JunkRowError(MALFORMED, f"PriceList entry is not JSON ({error})") from None
    if not isinstance(document, Mapping):
        raise JunkRowError(MALFORMED, "PriceList entry is not a JSON object")
    product = document.get("product")
    attributes = product.get("attributes") if isinstance(product, Mapping) else None
    sku = product.get("sku") if isinstance(product, Mapping) else None
    instance_type = attributes.get("instanceType") if isinstance(attributes, Mapping) else None
    return f"sku {sku} ({instance_type})", document


@dataclass(frozen=True)
class SpotQuote:
    instance_type: str
    availability_zone: str
    usd_per_hour: float
    timestamp: datetime.datetime


def parse_spot_item(item: Mapping[str, Any]) -> SpotQuote | None:
    """One SpotPriceHistory item; None for other products than Linux/UNIX."""
    if item.get("ProductDescription", SPOT_PRODUCT) != SPOT_PRODUCT:
        return None
    instance_type, zone, timestamp = item.get("InstanceType"), item.get("AvailabilityZone"), item.get("Timestamp")
    if not isinstance(instance_type, str) or not instance_type:
        raise JunkRowError(MISSING_FIELD, "InstanceType is missing")
    if not isinstance(zone, str) or not zone:
        raise JunkRowError(MISSING_FIELD, "AvailabilityZone is missing")
    if not isinstance(timestamp, datetime.datetime):
        raise JunkRowError(MISSING_FIELD, "Timestamp is missing")
    return SpotQuote(instance_type, zone, positive_price(item.get("SpotPrice"), "SpotPrice"), timestamp)


def mean_of_latest_per_zone(quotes: list[SpotQuote]) -> dict[str, float]:
    """Instance type → mean over zones of each zone's latest spot price."""
    latest: dict[tuple[str, str], SpotQuote] = {}
    for quote in quotes:
        key = (quote.instance_type, quote.availability_zone)
        if key not in latest or quote.timestamp > latest[key].timestamp:
            latest[key] = quote
    by_type: dict[str, list[float]] = defaultdict(list)
    for quote in latest.values():
        by_type[quote.instance_type].append(quote.usd_per_hour)
    return {instance_type: sum(prices) / len(prices) for instance_type, prices in by_type.items()}


@dataclass
class AwsPriceSource:
    """On-demand and spot prices of one AWS region, cached for ``ttl_s``."""

    credentials: AwsCredentials = field(default_factory=AwsCredentials)
    endpoint_url: str | None = None
    pricing_region: str = "us-east-1"  # the Price List API lives in a few regions only
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ttl_s: float = 6 * 3600.0
    include_spot: bool = True
    max_pages: int = 1000
    now: Callable[[], datetime.datetime] = utc_now
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False)
    _cache: TtlCache[str, PriceSheet] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = TtlCache(self.ttl_s)

    @property
    def provider(self) -> str:
        return "aws"

    async def fetch(self, region: str) -> PriceSheet:
        """Every Linux on-demand price (and spot price) of ``region``; cached, retried, junk rejected."""
        sheet = await self._cache.get_or_load(region, functools.partial(self._fetch, region))
        if sheet.errors:
            self._cache.invalidate(region)  # half an answer: ask again next time
        return sheet

    async def _fetch(self, region: str) -> PriceSheet:
        halves = [self.on_demand(region), *([self.spot(region)] if self.include_spot else [])]
        results = await asyncio.gather(*halves, return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        for error in errors:
            if not isinstance(error, PricingError):
                raise error
        sheets = [result for result in results if isinstance(result, PriceSheet)]
        if not sheets:
            if len(errors) == 1:
                raise errors[0]
            # Both halves failed: still "unavailable" (worth retrying) only if both said so.
            kind = PricingUnavailable if all(isinstance(e, PricingUnavailable) for e in errors) else PricingError
            raise kind("; ".join(str(error) for error in errors))
        # One half failing leaves the other usable; the failure is kept in ``errors``.
        return functools.reduce(PriceSheet.merged, sheets, PriceSheet("aws", errors=tuple(map(str, errors))))

    async def on_demand(self, region: str) -> PriceSheet:
        """On-demand prices from ``pricing.get_products``."""
        client = await self._client("pricing", self.pricing_region)
        filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
        filters += [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in PRODUCT_FILTERS.items()]
        request: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "Filters": filters, "FormatVersion": "aws_v1"}
        request["MaxResults"] = 100
        fetched_at = self.now()
        prices: list[NodePrice] = []
        rejected: list[Rejection] = []
        skipped = 0
        for page, response in enumerate(await self._pages(client, "get_products", request, "PriceList"), start=1):
            for index, entry in enumerate(response["PriceList"]):
                row = f"GetProducts page {page} entry {index}"
                try:
                    row, document = _decode_entry(entry)
                    parsed = parse_product(document, region)
                except JunkRowError as error:
                    rejected.append(Rejection(row, error.reason, error.detail))
                    continue
                if parsed is None:
                    skipped += 1
                    continue
                instance_type, usd_per_hour = parsed
                prices.append(
                    NodePrice("aws", region, instance_type, ON_DEMAND, usd_per_hour, PRICING_SOURCE, fetched_at)
                )
        return PriceSheet.build(PRICING_SOURCE, prices, rejected, skipped)

    async def spot(self, region: str) -> PriceSheet:
        """Current Linux spot prices from ``ec2.describe_spot_price_history``."""
        client = await self._client("ec2", region)
        fetched_at = self.now()
        request: dict[str, Any] = {"ProductDescriptions": [SPOT_PRODUCT], "StartTime": fetched_at, "MaxResults": 1000}
        quotes: list[SpotQuote] = []
        rejected: list[Rejection] = []
        skipped = 0
        pages = await self._pages(client, "describe_spot_price_history", request, "SpotPriceHistory")
        for page, response in enumerate(pages, start=1):
            for index, item in enumerate(response["SpotPriceHistory"]):
                row = f"{item.get('InstanceType')} in {item.get('AvailabilityZone')} (page {page} item {index})"
                try:
                    quote = parse_spot_item(item)
                except JunkRowError as error:
                    rejected.append(Rejection(row, error.reason, error.detail))
                    continue
                if quote is None:
                    skipped += 1
                else:
                    quotes.append(quote)
        prices = [
            NodePrice("aws", region, instance_type, SPOT, usd_per_hour, SPOT_SOURCE, fetched_at)
            for instance_type, usd_per_hour in sorted(mean_of_latest_per_zone(quotes).items())
        ]
        return PriceSheet.build(SPOT_SOURCE, prices, rejected, skipped)

    async def _pages(self, client: Any, operation: str, request: dict[str, Any], items: str) -> list[dict[str, Any]]:
        """Every page of a NextToken-paged operation; each page must carry ``items``."""
        pages: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            call = functools.partial(self._call, client, operation, request | ({"NextToken": token} if token else {}))
            response = await with_retries(call, self.retry)
            if not isinstance(response.get(items), list):
                # botocore turns an unparseable body into an empty answer; do not take that as "no prices".
                raise PricingError(
                    f"{client.meta.endpoint_url} {operation} page {len(pages) + 1}: the answer has no {items} list"
                )
            pages.append(response)
            token = response.get("NextToken")
            if not token:
                return pages
            if len(pages) >= self.max_pages:
                raise PricingError(f"{client.meta.endpoint_url} {operation}: still paging after {self.max_pages} pages")

    async def _call(self, client: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        # boto3 and botocore come with the first client, not with the pricer every analyzer imports (they and
        # google-auth were 21 MiB of each analyzer's RSS): most clusters are priced otherwise.
        from botocore import exceptions as boto_errors  # type: ignore[import-untyped]  # noqa: PLC0415

        network_errors = (
            boto_errors.EndpointConnectionError,
            boto_errors.ConnectTimeoutError,
            boto_errors.ReadTimeoutError,
            boto_errors.ConnectionClosedError,
        )
        where = f"{client.meta.endpoint_url} {operation}"
        try:
            response: dict[str, Any] = await asyncio.to_thread(getattr(client, operation), **request)
        except boto_errors.ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", "?"), details.get("Message", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in RETRYABLE_CODES or status >= 500 or status == 429:
                raise PricingUnavailable(f"{where}: HTTP {status} {code}: {message}") from None
            if code in CREDENTIAL_CODES:
                raise PricingError(
                    f"{where}: credentials refused ({code}: {message}); check the IRSA role or the AWS keys, "
                    "which need pricing:GetProducts and ec2:DescribeSpotPriceHistory"
                ) from None
            raise PricingError(f"{where}: HTTP {status} {code}: {message}") from None
        except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
            raise PricingError(
                f"{where}: no AWS credentials; use IRSA (a role on the service account), "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or spec.pricing.credentialsSecretRef"
            ) from None
        except network_errors as error:
            raise PricingUnavailable(f"{where}: {type(error).__name__}: {error}") from None
        except boto_errors.BotoCoreError as error:
            raise PricingError(f"{where}: unreadable answer: {type(error).__name__}: {error}") from None
        return response

    async def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = await asyncio.to_thread(self._make_client, service, region)
        return self._clients[key]

    def _make_client(self, service: str, region: str) -> Any:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - see ``_call``
        from botocore.config import Config  # type: ignore[import-untyped]  # noqa: PLC0415

        # boto3 sessions are not thread-safe: one per client, each client used from threads is fine.
        session = boto3.session.Session(**self.credentials.session_kwargs())
        config = Config(
            connect_timeout=self.timeout_s,
            read_timeout=self.timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        return session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config)
