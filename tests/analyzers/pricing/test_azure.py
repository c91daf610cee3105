"""Contract tests of the Azure Retail Prices source against a local server answering like prices.azure.com."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from kcost.analyzers.pricing import azure
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import (
    AMBIGUOUS,
    MISSING_FIELD,
    NOT_HOURLY,
    NOT_POSITIVE,
    WRONG_CURRENCY,
    CapacityType,
    PriceKey,
)
from kcost.analyzers.pricing.transport import RetryPolicy

from .conftest import Faults, Serve

REGION = "eastus"
EXPECTED_FILTER = "serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and priceType eq 'Consumption'"


def item(
    arm_sku: str | None,
    sku_name: str,
    retail_price: Any,
    *,
    product: str = "Virtual Machines Dsv5 Series",
    unit: str = "1 Hour",
    currency: str = "USD",
    kind: str = "Consumption",
    primary: bool = True,
    meter_id: str = "00f3",
) -> dict[str, Any]:
    """One item shaped like the Retail Prices API's."""
    entry: dict[str, Any] = {
        "currencyCode": currency,
        "tierMinimumUnits": 0.0,
        "retailPrice": retail_price,
        "unitPrice": retail_price,
        "armRegionName": REGION,
        "location": "US East",
        "effectiveStartDate": "2021-11-01T00:00:00Z",
        "meterId": meter_id,
        "meterName": sku_name,
        "productId": "DZH318Z0BQ4L",
        "skuId": "DZH318Z0BQ4L/00F3",
        "availabilityId": None,
        "productName": product,
        "skuName": sku_name,
        "serviceName": "Virtual Machines",
        "serviceId": "DZH313Z7MMC8",
        "serviceFamily": "Compute",
        "unitOfMeasure": unit,
        "type": kind,
        "isPrimaryMeterRegion": primary,
        "armSkuName": arm_sku,
    }
    if retail_price is None:
        del entry["retailPrice"]
    return entry


@dataclass
class FakeRetailPrices:
    """Pages of items, the n-th reached with ``$skip``; NextPageLink points back to this server."""

    pages: list[Any]
    faults: Faults = field(default_factory=Faults)
    next_host: str | None = None  # answer NextPageLink on another host
    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/retail/prices", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.query))
        if fault := self.faults.next():
            return fault
        index = int(request.query.get("$skip", "0"))
        page = self.pages[index]
        if isinstance(page, str):
            return web.Response(text=page, content_type="application/json")
        next_link = None
        if index + 1 < len(self.pages):
            url = request.url.with_query({"$filter": request.query["$filter"], "$skip": str(index + 1)})
            next_link = str(url.with_host(self.next_host) if self.next_host else url)
        body = {
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail",
            "Items": page,
            "NextPageLink": next_link,
            "Count": len(page),
        }
        return web.json_response(body)


async def source_for(fake: FakeRetailPrices, serve: Serve, retry: RetryPolicy) -> azure.AzureRetailPriceSource:
    server = await serve(fake.app())
    return azure.AzureRetailPriceSource(base_url=str(server.make_url("")), retry=retry, timeout_s=5)


def two_pages() -> FakeRetailPrices:
    return FakeRetailPrices(
        pages=[
            [
                item("Standard_D4s_v5", "D4s v5", 0.192),
                item("Standard_D4s_v5", "D4s v5 Spot", 0.0384),
                item("Standard_D4s_v5", "D4s v5", 0.376, product="Virtual Machines Dsv5 Series Windows"),
                item("Standard_D4s_v5", "D4s v5 Low Priority", 0.0384),
                item("Standard_D4s_v5", "D4s v5", 0.12, kind="DevTestConsumption"),
            ],
            [
                item("Standard_E4s_v5", "E4s v5", 0.21, primary=False, meter_id="secondary"),
                item("Standard_E4s_v5", "E4s v5", 0.252, meter_id="primary"),
                item("Standard_D2s_v5", "D2s v5", 9.6, unit="100 Hours"),
            ],
        ]
    )


def usd(sheet: Any, instance_type: str, capacity_type: CapacityType = "on-demand") -> float:
    price = sheet.get(PriceKey("azure", REGION, instance_type, capacity_type))
    assert price is not None, f"no price for {instance_type} ({capacity_type})"
    return float(price.usd_per_hour)


async def test_linux_on_demand_and_spot_prices_across_pages(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages()
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert usd(sheet, "Standard_D4s_v5") == pytest.approx(0.192)
    assert usd(sheet, "Standard_D4s_v5", "spot") == pytest.approx(0.0384)
    assert usd(sheet, "Standard_E4s_v5") == pytest.approx(0.252)  # the primary meter region wins
    assert usd(sheet, "Standard_D2s_v5") == pytest.approx(0.096)  # 9.6 per 100 hours
    assert len(sheet.prices) == 4
    assert sheet.skipped == 4  # Windows, Low Priority, dev/test, the secondary meter
    assert sheet.rejected == ()
    assert [r["$filter"] for r in fake.requests] == [EXPECTED_FILTER, EXPECTED_FILTER]
    assert [r.get("$skip") for r in fake.requests] == [None, "1"]


async def test_throttling_with_retry_after_then_success(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages()
    fake.faults.pending = [
        lambda: web.json_response({"Message": "Too many requests"}, status=429, headers={"Retry-After": "0.001"}),
        lambda: web.Response(status=503, text="Service Unavailable"),
    ]
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert usd(sheet, "Standard_D4s_v5") == pytest.approx(0.192)
    assert fake.faults.served == 2


async def test_a_persistent_5xx_is_a_clear_error(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages()
    fake.faults = Faults([lambda: web.Response(status=502, text="Bad Gateway")], always=True)
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingUnavailable, match=r"/api/retail/prices: HTTP 502 \(gave up after 3 attempts\)"):
        await source.fetch(REGION)
    assert fake.faults.served == 3


async def test_malformed_json_is_a_clear_error(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeRetailPrices(pages=['{"BillingCurrency": "USD", "Items": [{"currencyCode": '])
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingError, match="HTTP 200 but the body is not JSON"):
        await source.fetch(REGION)


async def test_an_answer_without_items_is_a_clear_error(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeRetailPrices(pages=[json.dumps({"error": "nope"})])
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingError, match="page 1: expected an object with an Items list"):
        await source.fetch(REGION)


async def test_junk_items_are_rejected_with_reasons(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeRetailPrices(
        pages=[
            [
                item("Standard_M128bds_1_v4", "M128bds 1 v4", 0.0, meter_id="zero"),
                item("Standard_D8s_v5", "D8s v5", None, meter_id="missing"),
                item("Standard_D16s_v5", "D16s v5", 0.768, currency="EUR", meter_id="euro"),
                item("Standard_D32s_v5", "D32s v5", 1121.28, unit="1/Month", meter_id="monthly"),
                item(None, "D48s v5", 2.304, meter_id="nosku"),
                item("Standard_D64s_v5", "D64s v5", float("nan"), meter_id="nan"),
                item("Standard_D2s_v5", "D2s v5", 0.096, meter_id="first"),
                item("Standard_D2s_v5", "D2s v5", 0.1, meter_id="conflicting"),
            ]
        ]
    )
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert {key.instance_type: price.usd_per_hour for key, price in sheet.prices.items()} == {"Standard_D2s_v5": 0.096}
    reasons = {rejection.row.split(" ")[1]: rejection.reason for rejection in sheet.rejected}
    assert reasons == {
        "zero": NOT_POSITIVE,
        "missing": MISSING_FIELD,
        "euro": WRONG_CURRENCY,
        "monthly": NOT_HOURLY,
        "nosku": MISSING_FIELD,
        "nan": "NotANumber",
        "conflicting": AMBIGUOUS,
    }


async def test_a_next_page_on_another_host_is_refused(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages()
    fake.next_host = "prices.example.net"
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingError, match=r"NextPageLink points to prices\.example\.net"):
        await source.fetch(REGION)


async def test_a_region_that_would_change_the_filter_is_refused(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages()
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingError, match="expected an ARM region name"):
        await source.fetch("eastus' or serviceName eq 'Storage")
    assert fake.requests == []
