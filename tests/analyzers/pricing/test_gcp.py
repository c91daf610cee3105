"""Contract tests of the GCP source against a local Cloud Billing Catalog serving the real-shaped fixture."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kcost.analyzers.pricing import gcp
from kcost.analyzers.pricing.catalog import load_catalog
from kcost.analyzers.pricing.credentials import GcpApiKey, GcpApplicationDefault, gcp_auth_from_env
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import (
    MALFORMED,
    MISSING_FIELD,
    MISSING_RATE,
    NOT_A_NUMBER,
    NOT_HOURLY,
    NOT_POSITIVE,
    WRONG_CURRENCY,
    CapacityType,
    PriceKey,
)
from kcost.analyzers.pricing.transport import RetryPolicy

from .conftest import Faults, Serve

API_KEY = "AIzaSy-test-key-never-shown"
SKUS_PATH = f"/v1/services/{gcp.COMPUTE_ENGINE_SERVICE}/skus"
AMERICAS = ["us-central1", "us-east1", "us-west1"]


def sku(
    sku_id: str,
    description: str,
    group: str,
    usage: str = "OnDemand",
    *,
    units: Any = "0",
    nanos: Any = 0,
    unit: str = "h",
    currency: str = "USD",
    rate: float | None = 1,
    family: str = "Compute",
    regions: list[str] | None = None,
) -> dict[str, Any]:
    """A SKU shaped like the Cloud Billing Catalog's."""
    info: dict[str, Any] = {
        "summary": "",
        "pricingExpression": {
            "usageUnit": unit,
            "displayQuantity": 1,
            "tieredRates": [
                {"startUsageAmount": 0, "unitPrice": {"currencyCode": currency, "units": units, "nanos": nanos}}
            ],
            "usageUnitDescription": "hour",
            "baseUnit": "s",
            "baseUnitDescription": "second",
            "baseUnitConversionFactor": 3600,
        },
        "aggregationInfo": {"aggregationLevel": "ACCOUNT", "aggregationInterval": "DAILY", "aggregationCount": 1},
        "effectiveTime": "2026-11-20T12:00:00.000Z",
    }
    if rate is not None:
        info["currencyConversionRate"] = rate
    return {
        "name": f"services/{gcp.COMPUTE_ENGINE_SERVICE}/skus/{sku_id}",
        "skuId": sku_id,
        "description": description,
        "category": {
            "serviceDisplayName": "Compute Engine",
            "resourceFamily": family,
            "resourceGroup": group,
            "usageType": usage,
        },
        "serviceRegions": regions if regions is not None else AMERICAS,
        "pricingInfo": [info],
        "serviceProviderName": "Google",
    }


def second_page() -> dict[str, Any]:
    """What follows the fixture's page: spot E2 rates, N2 rates, and SKUs kcost skips."""
    return {
        "skus": [
            sku(
                "E2S1-CORE",
                "Spot Preemptible E2 Instance Core running in Americas",
                "CPU",
                "Preemptible",
                nanos=6543000,
            ),
            sku(
                "E2S1-RAM",
                "Spot Preemptible E2 Instance Ram running in Americas",
                "RAM",
                "Preemptible",
                nanos=877000,
                unit="GiBy.h",
            ),
            sku("N2-CORE", "N2 Instance Core running in Americas", "CPU", nanos=31611000),
            sku("N2-RAM", "N2 Instance Ram running in Americas", "RAM", nanos=4237000, unit="GiBy.h"),
            sku("N2-COMMIT", "Commitment v1: N2 Cpu in Americas for 1 Year", "CPU", "Commit1Yr", nanos=19915000),
            sku("N2-CUSTOM", "N2 Custom Instance Core running in Americas", "CPU", nanos=33222000),
            sku("PD", "Storage PD Capacity", "PDStandard", family="Storage", nanos=40000000, unit="GiBy.mo"),
        ],
        "nextPageToken": "",
    }


@dataclass
class FakeCatalog:
    """The SKU listing, page by page (keyed by the pageToken that asks for it)."""

    pages: dict[str, Any]
    faults: Faults = field(default_factory=Faults)
    delay_s: float = 0.0
    bearer_token: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(SKUS_PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.query))
        await asyncio.sleep(self.delay_s)
        if fault := self.faults.next():
            return fault
        authorized = request.headers.get("X-Goog-Api-Key") == API_KEY or (
            self.bearer_token is not None and request.headers.get("Authorization") == f"Bearer {self.bearer_token}"
        )
        if not authorized:
            error = {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
            }
            return web.json_response({"error": error}, status=400)
        page = self.pages[request.query.get("pageToken", "")]
        return (
            web.Response(text=page, content_type="application/json")
            if isinstance(page, str)
            else web.json_response(page)
        )


@pytest.fixture
def fixture_page(pricing_data: Path) -> dict[str, Any]:
    page: dict[str, Any] = json.loads((pricing_data / "fixtures" / "gcp-billing-catalog-skus.json").read_text())
    return page


@pytest.fixture
def fake(fixture_page: dict[str, Any]) -> FakeCatalog:
    return FakeCatalog({"": fixture_page, fixture_page["nextPageToken"]: second_page()})


async def source_for(fake: FakeCatalog, serve: Serve, retry: RetryPolicy, **options: Any) -> gcp.GcpPriceSource:
    server = await serve(fake.app())
    options.setdefault("auth", GcpApiKey(API_KEY))
    return gcp.GcpPriceSource(base_url=str(server.make_url("")), retry=retry, timeout_s=5, **options)


def usd(sheet: Any, region: str, machine_type: str, capacity_type: CapacityType = "on-demand") -> float:
    price = sheet.get(PriceKey("gcp", region, machine_type, capacity_type))
    assert price is not None, f"no price for {machine_type} ({capacity_type}) in {region}"
    return float(price.usd_per_hour)


async def test_machine_prices_from_the_fixture_and_the_next_page(
    fake: FakeCatalog, fixture_page: dict[str, Any], serve: Serve, fast_retry: RetryPolicy
) -> None:
    source = await source_for(fake, serve, fast_retry)

    central = await source.fetch("us-central1")
    singapore = await source.fetch("asia-southeast1")

    # E2 rates are in IDR in the fixture: divided by currencyConversionRate they give the USD list price.
    e2_core, e2_ram = 327.173848364 / 14999.999925, 43.852949780 / 14999.999925
    assert usd(central, "us-central1", "e2-standard-4") == pytest.approx(4 * e2_core + 16 * e2_ram)
    assert usd(central, "us-central1", "e2-standard-4") == pytest.approx(0.13402, abs=1e-5)
    assert usd(central, "us-central1", "e2-micro") == pytest.approx(0.00838, abs=1e-5)  # a quarter vCPU
    # A2 = 12 cores + 85 GiB + one A100, all USD in the fixture.
    assert usd(central, "us-central1", "a2-highgpu-1g") == pytest.approx(12 * 0.031611 + 85 * 0.004237 + 2.933908)
    assert usd(central, "us-central1", "e2-standard-4", "spot") == pytest.approx(0.04021, abs=1e-5)
    assert usd(central, "us-central1", "n2-standard-4") == pytest.approx(0.1942, abs=1e-4)
    t2d_core, t2d_ram = 508.934997455 / 14999.999925, 68.204999658 / 14999.999925
    assert usd(singapore, "asia-southeast1", "t2d-standard-4") == pytest.approx(4 * t2d_core + 16 * t2d_ram)
    assert not any(
        key.instance_type.startswith("e2-") for key in singapore.prices
    )  # E2 is listed for the Americas only
    # Paging: the fixture's token asked for the second page; keys went in a header, not the URL.
    assert [r.get("pageToken") for r in fake.requests] == [None, fixture_page["nextPageToken"]]
    assert all("key" not in r for r in fake.requests)
    assert fake.requests[0]["currencyCode"] == "USD"
    assert central.skipped == 3  # the commitment, the custom type and the disk
    assert central.rejected == ()
    assert all(price.usd_per_hour > 0 and price.source == gcp.SOURCE for price in central.prices.values())


async def test_prices_agree_with_the_published_list(
    fake: FakeCatalog, pricing_data: Path, serve: Serve, fast_retry: RetryPolicy
) -> None:
    """Every E2/N2/A2 price computed from rates is within 0.1% of the list price in the shared catalog."""
    source = await source_for(fake, serve, fast_retry)
    sheet = await source.fetch("us-central1")
    listed = await load_catalog(pricing_data / "cloud-instance-prices.csv.gz")

    compared = 0
    for key, price in sheet.prices.items():
        reference = listed.get(key)
        if reference is not None:
            assert price.usd_per_hour == pytest.approx(reference.usd_per_hour, rel=1e-3, abs=1e-5), key
            compared += 1
    assert compared >= 50


async def test_throttling_and_5xx_are_retried(fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy) -> None:
    fake.faults.pending = [
        lambda: web.json_response(
            {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, status=429, headers={"Retry-After": "0"}
        ),
        lambda: web.Response(status=503, text="upstream connect error"),
    ]
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch("us-central1")

    assert usd(sheet, "us-central1", "e2-standard-2") > 0
    assert fake.faults.served == 2


async def test_a_persistent_5xx_is_a_clear_error_without_the_key(
    fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy
) -> None:
    fake.faults = Faults([lambda: web.Response(status=500, text="internal")], always=True)
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingUnavailable) as caught:
        await source.fetch("us-central1")

    message = str(caught.value)
    assert f"{SKUS_PATH}: HTTP 500 (gave up after 3 attempts)" in message
    assert API_KEY not in message
    assert API_KEY not in repr(source)
    assert fake.faults.served == 3


async def test_the_cached_sku_list_serves_every_region(
    fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy
) -> None:
    source = await source_for(fake, serve, fast_retry)
    await source.fetch("us-central1")
    await source.fetch("us-east1")
    assert len(fake.requests) == 2  # the two pages, once


async def test_malformed_json_is_a_clear_error(fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy) -> None:
    fake.pages[""] = '{"skus": [{"skuId": "039F-D0DA-4055", '
    source = await source_for(fake, serve, fast_retry)

    with pytest.raises(PricingError, match=rf"{SKUS_PATH}: HTTP 200 but the body is not JSON"):
        await source.fetch("us-central1")


async def test_an_answer_without_skus_is_an_error(fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy) -> None:
    fake.pages[""] = {"nextPageToken": ""}
    source = await source_for(fake, serve, fast_retry)
    with pytest.raises(PricingError, match="lists no SKUs"):
        await source.fetch("us-central1")


async def test_junk_skus_are_rejected_never_priced(fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy) -> None:
    no_pricing = sku("T2D-CORE", "T2D AMD Instance Core running in Americas", "CPU", nanos=27500000)
    no_pricing["pricingInfo"] = []
    no_tiers = sku("T2D-RAM", "T2D AMD Instance Ram running in Americas", "RAM", nanos=3700000, unit="GiBy.h")
    no_tiers["pricingInfo"][0]["pricingExpression"]["tieredRates"] = []
    fake.pages = {
        "": {
            "skus": [
                sku("N2-CORE", "N2 Instance Core running in Americas", "CPU", units="0", nanos=0),
                sku("N2-RAM", "N2 Instance Ram running in Americas", "RAM", nanos=4237000, unit="GiBy.h"),
                sku(
                    "E2-CORE", "E2 Instance Core running in Americas", "CPU", nanos=20150000, currency="EUR", rate=None
                ),
                sku("E2-RAM", "E2 Instance Ram running in Americas", "RAM", units="2", nanos=133000000, unit="GiBy.mo"),
                sku("N1-CORE", "N1 Predefined Instance Core running in Americas", "N1Standard", units="-1"),
                sku(
                    "N1-RAM", "N1 Predefined Instance Ram running in Americas", "N1Standard", units="abc", unit="GiBy.h"
                ),
                sku("A2-GPU", "Nvidia Tesla A100 GPU running in Americas", "GPU", units="2", nanos=933908000),
                sku("A2-CORE", "A2 Instance Core running in Americas", "CPU", nanos=31611000, regions=[]),
                no_pricing,
                no_tiers,
                "not a sku",
            ],
            "nextPageToken": "",
        }
    }
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch("us-central1")

    assert dict(sheet.prices) == {}
    reasons = {
        rejection.row.split(" ")[1]: rejection.reason
        for rejection in sheet.rejected
        if rejection.row.startswith("sku ")
    }
    assert reasons == {
        "N2-CORE": NOT_POSITIVE,
        "E2-CORE": WRONG_CURRENCY,
        "E2-RAM": NOT_HOURLY,
        "N1-CORE": NOT_POSITIVE,
        "N1-RAM": NOT_A_NUMBER,
        "A2-CORE": MISSING_FIELD,
        "T2D-CORE": MISSING_FIELD,
        "T2D-RAM": MISSING_FIELD,
    }
    assert sheet.rejection_counts()[MALFORMED] == 1
    # N2 machine types lost their core rate: each is reported as unpriceable, not priced from RAM alone.
    missing = {r.row for r in sheet.rejected if r.reason == MISSING_RATE}
    assert "n2-standard-4 (on-demand)" in missing
    assert (
        next(r.detail for r in sheet.rejected if r.row == "n2-standard-4 (on-demand)")
        == "no core rate for n2 in us-central1"
    )


async def test_a_refused_key_is_reported_without_showing_it(
    fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy
) -> None:
    source = await source_for(fake, serve, fast_retry, auth=GcpApiKey("AIzaSy-wrong-key"))

    with pytest.raises(PricingError, match="HTTP 400: API key not valid") as caught:
        await source.fetch("us-central1")

    assert "AIzaSy-wrong-key" not in str(caught.value)
    assert repr(GcpApiKey("AIzaSy-wrong-key")) == "GcpApiKey(<redacted>)"
    assert len(fake.requests) == 1  # a refusal is not retried


async def test_a_slow_answer_times_out(fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy) -> None:
    fake.delay_s = 1.0
    source = await source_for(fake, serve, fast_retry)
    source.timeout_s = 0.1
    with pytest.raises(PricingUnavailable, match="TimeoutError: timed out"):
        await source.fetch("us-central1")


async def test_workload_identity_bearer_token(
    fake: FakeCatalog, serve: Serve, fast_retry: RetryPolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Application Default Credentials (a service account key here): its token endpoint is asked for a token."""
    token_requests: list[str] = []

    async def token(request: web.Request) -> web.Response:
        token_requests.append((await request.post()).get("grant_type", ""))  # type: ignore[arg-type]
        return web.json_response({"access_token": "ya29.local-token", "expires_in": 3600, "token_type": "Bearer"})

    token_app = web.Application()
    token_app.router.add_post("/token", token)
    token_server = await serve(token_app)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials_file = tmp_path / "service-account.json"
    credentials_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "kcost-test",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": "kcost@kcost-test.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": str(token_server.make_url("/token")),
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials_file))
    monkeypatch.delenv("KCOST_GCP_API_KEY", raising=False)
    fake.bearer_token = "ya29.local-token"
    auth = gcp_auth_from_env()
    assert isinstance(auth, GcpApplicationDefault)
    source = await source_for(fake, serve, fast_retry, auth=auth)

    sheet = await source.fetch("us-central1")

    assert usd(sheet, "us-central1", "e2-standard-4") > 0
    assert token_requests == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # once, reused for the second page
    assert "PRIVATE KEY" not in repr(source)


def test_an_api_key_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCOST_GCP_API_KEY", "AIzaSy-env")
    assert gcp_auth_from_env() == GcpApiKey("AIzaSy-env")
    assert gcp_auth_from_env("AIzaSy-explicit") == GcpApiKey("AIzaSy-explicit")
