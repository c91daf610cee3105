"""Contract tests of the AWS source against a local server speaking the AWS JSON 1.1 and EC2 query protocols."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from kcost.analyzers.pricing import aws
from kcost.analyzers.pricing.credentials import AwsCredentials
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import (
    MALFORMED,
    MISSING_FIELD,
    NOT_A_NUMBER,
    NOT_HOURLY,
    NOT_POSITIVE,
    WRONG_CURRENCY,
    PriceKey,
)
from kcost.analyzers.pricing.transport import RetryPolicy

from .conftest import Faults, Serve

REGION = "us-east-1"
JSON_11 = "application/x-amz-json-1.1"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def product(
    instance_type: str | None,
    usd: str | None = "0.1920000000",
    *,
    unit: str = "Hrs",
    currency: str = "USD",
    market: str = "OnDemand",
    sku: str = "8KTQAHWA58GUHDGC",
) -> str:
    """A PriceList entry as the Price List API sends it: a JSON document in a string."""
    attributes = {
        "instanceType": instance_type,
        "regionCode": REGION,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "marketoption": market,
        "vcpu": "4",
        "memory": "16 GiB",
    }
    if instance_type is None:
        del attributes["instanceType"]
    dimension: dict[str, Any] = {
        "unit": unit,
        "endRange": "Inf",
        "description": f"$0.192 per On Demand Linux {instance_type} Instance Hour",
        "appliesTo": [],
        "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
        "beginRange": "0",
        "pricePerUnit": {currency: usd} if usd is not None else {},
    }
    document = {
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": dimension},
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": "20261120000000",
        "publicationDate": "2026-11-20T00:00:00Z",
    }
    return json.dumps(document)


def spot_item(instance_type: str, zone: str, price: str, timestamp: str = "2026-11-25T20:00:00.000Z") -> str:
    return (
        f"<item><instanceType>{instance_type}</instanceType><productDescription>Linux/UNIX</productDescription>"
        f"<spotPrice>{price}</spotPrice><timestamp>{timestamp}</timestamp>"
        f"<availabilityZone>{zone}</availabilityZone></item>"
    )


def spot_page(items: list[str], next_token: str | None) -> str:
    token = f"<nextToken>{next_token}</nextToken>" if next_token else "<nextToken/>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSpotPriceHistoryResponse xmlns="{EC2_NS}">'
        f"<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>"
        f"<spotPriceHistorySet>{''.join(items)}</spotPriceHistorySet>{token}</DescribeSpotPriceHistoryResponse>"
    )


def json_error(status: int, code: str, message: str) -> web.Response:
    body = json.dumps({"__type": code, "message": message})
    return web.Response(status=status, text=body, content_type=JSON_11)


def ec2_error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error></Errors><RequestID>ea966190-f9aa</RequestID></Response>"
    )
    return web.Response(status=status, text=body, content_type="text/xml")


@dataclass
class FakeAws:
    """GetProducts pages and DescribeSpotPriceHistory pages, keyed by the NextToken that asks for them."""

    product_pages: dict[str, tuple[list[Any], str | None]] = field(default_factory=dict)
    spot_pages: dict[str, tuple[list[str], str | None]] = field(default_factory=dict)
    product_faults: Faults = field(default_factory=Faults)
    spot_faults: Faults = field(default_factory=Faults)
    raw_products: str | None = None  # a body to send instead of a page
    product_requests: list[dict[str, Any]] = field(default_factory=list)
    spot_requests: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.authorizations.append(request.headers.get("Authorization", ""))
        if request.headers.get("X-Amz-Target") == "AWSPriceListService.GetProducts":
            assert request.content_type == JSON_11
            self.product_requests.append(json.loads(await request.read()))
            return self.product_faults.next() or self.products(self.product_requests[-1])
        form = dict(await request.post())
        assert form["Action"] == "DescribeSpotPriceHistory"
        self.spot_requests.append({key: str(value) for key, value in form.items()})
        return self.spot_faults.next() or self.spot(self.spot_requests[-1])

    def products(self, body: dict[str, Any]) -> web.Response:
        if self.raw_products is not None:
            return web.Response(text=self.raw_products, content_type=JSON_11)
        entries, token = self.product_pages[body.get("NextToken", "")]
        answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": entries}
        if token:
            answer["NextToken"] = token
        return web.Response(text=json.dumps(answer), content_type=JSON_11)

    def spot(self, form: dict[str, str]) -> web.Response:
        items, token = self.spot_pages[form.get("NextToken", "")]
        return web.Response(text=spot_page(items, token), content_type="text/xml")


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials from the environment, and no shared files or instance metadata."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-never-shown")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)


async def source_for(fake: FakeAws, serve: Serve, retry: RetryPolicy, **options: Any) -> aws.AwsPriceSource:
    server = await serve(fake.app())
    return aws.AwsPriceSource(endpoint_url=str(server.make_url("/")), retry=retry, timeout_s=5, **options)


def two_pages_of_everything() -> FakeAws:
    return FakeAws(
        product_pages={
            "": ([product("m5.xlarge", "0.1920000000", sku="A1")], "page-2"),
            "page-2": ([product("m5.large", "0.0960000000", sku="A2"), product("c5.xlarge", "0.17", sku="A3")], None),
        },
        spot_pages={
            "": (
                [
                    spot_item("m5.xlarge", "us-east-1a", "0.080000"),
                    spot_item("m5.xlarge", "us-east-1a", "0.500000", "2026-11-25T10:00:00.000Z"),  # superseded
                ],
                "spot-2",
            ),
            "spot-2": ([spot_item("m5.xlarge", "us-east-1b", "0.060000")], None),
        },
    )


async def test_on_demand_and_spot_prices_across_pages(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages_of_everything()
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert sheet.get(PriceKey("aws", REGION, "m5.xlarge", "on-demand")).usd_per_hour == pytest.approx(0.192)  # type: ignore[union-attr]
    assert sheet.get(PriceKey("aws", REGION, "m5.large", "on-demand")).usd_per_hour == pytest.approx(0.096)  # type: ignore[union-attr]
    assert sheet.get(PriceKey("aws", REGION, "c5.xlarge", "on-demand")).source == aws.PRICING_SOURCE  # type: ignore[union-attr]
    # Mean over zones of each zone's latest price: (0.08 + 0.06) / 2.
    spot = sheet.get(PriceKey("aws", REGION, "m5.xlarge", "spot"))
    assert spot is not None
    assert spot.usd_per_hour == pytest.approx(0.07)
    assert spot.source == aws.SPOT_SOURCE
    assert (sheet.rejected, sheet.errors) == ((), ())
    # The request is the documented one, and the second page is asked for with its token.
    filters = {(f["Field"], f["Value"]) for f in fake.product_requests[0]["Filters"]}
    assert filters == {
        ("regionCode", REGION),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
    }
    assert all(f["Type"] == "TERM_MATCH" for f in fake.product_requests[0]["Filters"])
    assert fake.product_requests[0]["ServiceCode"] == "AmazonEC2"
    assert [r.get("NextToken") for r in fake.product_requests] == [None, "page-2"]
    assert [r.get("NextToken") for r in fake.spot_requests] == [None, "spot-2"]
    assert fake.spot_requests[0]["ProductDescription.1"] == "Linux/UNIX"
    # Signed with the environment's keys (the default chain), never showing the secret.
    assert all("Credential=AKIAENVEXAMPLE/" in header for header in fake.authorizations)
    assert "env-secret-never-shown" not in "".join(fake.authorizations)


async def test_answers_are_cached_for_the_ttl(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages_of_everything()
    source = await source_for(fake, serve, fast_retry)
    first = await source.fetch(REGION)
    second = await source.fetch(REGION)
    assert first is second
    assert len(fake.product_requests) == 2  # two pages, once


async def test_throttling_and_unavailability_are_retried(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = two_pages_of_everything()
    fake.product_faults.pending = [
        lambda: json_error(400, "ThrottlingException", "Rate exceeded"),
        lambda: json_error(503, "ServiceUnavailableException", "Service is unavailable"),
    ]
    fake.spot_faults.pending = [lambda: ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")]
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert len(sheet.prices) == 4
    assert sheet.errors == ()
    assert (fake.product_faults.served, fake.spot_faults.served) == (2, 1)


async def test_a_persistent_outage_is_a_clear_error(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeAws(product_faults=Faults([lambda: json_error(500, "InternalFailure", "internal error")], always=True))
    source = await source_for(fake, serve, fast_retry, include_spot=False)

    with pytest.raises(PricingUnavailable) as caught:
        await source.fetch(REGION)

    message = str(caught.value)
    assert "get_products" in message
    assert "127.0.0.1" in message
    assert "InternalFailure" in message
    assert "gave up after 3 attempts" in message
    assert fake.product_faults.served == 3


async def test_spot_outage_keeps_on_demand_prices_and_is_retried_next_time(
    serve: Serve, fast_retry: RetryPolicy
) -> None:
    fake = two_pages_of_everything()
    fake.spot_faults = Faults([lambda: ec2_error(500, "InternalError", "An internal error has occurred")], always=True)
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert {key.capacity_type for key in sheet.prices} == {"on-demand"}
    assert len(sheet.errors) == 1
    assert "describe_spot_price_history" in sheet.errors[0]
    assert "gave up after 3 attempts" in sheet.errors[0]
    # Half an answer is not cached: the next fetch asks again.
    await source.fetch(REGION)
    assert fake.spot_faults.served == 6


async def test_an_unparseable_body_is_an_error_not_an_empty_price_list(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeAws(raw_products='{"FormatVersion": "aws_v1", "PriceList": [')
    source = await source_for(fake, serve, fast_retry, include_spot=False)

    with pytest.raises(PricingError, match="no PriceList list"):
        await source.fetch(REGION)


async def test_junk_rows_are_rejected_with_reasons(serve: Serve, fast_retry: RetryPolicy) -> None:
    fake = FakeAws(
        product_pages={
            "": (
                [
                    product("m5.xlarge", "0.1920000000", sku="GOOD"),
                    product("m5.large", "0.0000000000", sku="ZERO"),
                    product("m5.2xlarge", "-0.3840000000", sku="NEGATIVE"),
                    product("m5.4xlarge", "NaN", sku="NAN"),
                    product("r5.large", "0.9", currency="CNY", sku="YUAN"),
                    product("r5.xlarge", None, sku="NOPRICE"),
                    product("c5.large", "62.05", unit="Mo", sku="MONTHLY"),
                    product(None, "0.1", sku="NOTYPE"),
                    product("p5.48xlarge", "31.4", market="CapacityBlock", sku="BLOCK"),
                    "{this is not json",
                    42,
                ],
                None,
            )
        },
        spot_pages={
            "": (
                [
                    spot_item("m5.xlarge", "us-east-1a", "0.000000"),
                    spot_item("m5.large", "us-east-1a", "cheap"),
                    spot_item("c5.large", "us-east-1a", "0.031000"),
                ],
                None,
            )
        },
    )
    source = await source_for(fake, serve, fast_retry)

    sheet = await source.fetch(REGION)

    assert {(key.instance_type, key.capacity_type): p.usd_per_hour for key, p in sheet.prices.items()} == {
        ("m5.xlarge", "on-demand"): pytest.approx(0.192),
        ("c5.large", "spot"): pytest.approx(0.031),
    }
    reasons = {rejection.row: rejection.reason for rejection in sheet.rejected}
    assert reasons["sku ZERO (m5.large)"] == NOT_POSITIVE
    assert reasons["sku NEGATIVE (m5.2xlarge)"] == NOT_POSITIVE
    assert reasons["sku NAN (m5.4xlarge)"] == NOT_A_NUMBER
    assert reasons["sku YUAN (r5.large)"] == WRONG_CURRENCY
    assert reasons["sku NOPRICE (r5.xlarge)"] == MISSING_FIELD
    assert reasons["sku MONTHLY (c5.large)"] == NOT_HOURLY
    assert reasons["sku NOTYPE (None)"] == MISSING_FIELD
    assert reasons["GetProducts page 1 entry 9"] == MALFORMED
    assert reasons["GetProducts page 1 entry 10"] == MALFORMED
    assert reasons["m5.xlarge in us-east-1a (page 1 item 0)"] == NOT_POSITIVE
    assert reasons["m5.large in us-east-1a (page 1 item 1)"] == NOT_A_NUMBER
    assert len(sheet.rejected) == 11
    assert sheet.skipped == 1  # the capacity block
    monthly = next(r for r in sheet.rejected if r.reason == NOT_HOURLY)
    assert "monthly" in monthly.detail


async def test_refused_credentials_say_what_to_check_without_showing_them(
    serve: Serve, fast_retry: RetryPolicy
) -> None:
    fake = FakeAws(
        product_faults=Faults(
            [lambda: json_error(400, "UnrecognizedClientException", "The security token included is invalid.")],
            always=True,
        )
    )
    credentials = AwsCredentials("AKIAEXPLICIT", "explicit-secret-never-shown", "session-token-never-shown")
    source = await source_for(fake, serve, fast_retry, include_spot=False, credentials=credentials)

    with pytest.raises(PricingError) as caught:
        await source.fetch(REGION)

    message = str(caught.value)
    assert "credentials refused" in message
    assert "pricing:GetProducts" in message
    assert fake.product_faults.served == 1  # not worth retrying
    assert "Credential=AKIAEXPLICIT/" in fake.authorizations[0]
    for shown in (message, repr(source), repr(credentials), str(credentials)):
        assert "explicit-secret-never-shown" not in shown
        assert "session-token-never-shown" not in shown
        assert "AKIAEXPLICIT" not in shown


async def test_missing_credentials_are_named(
    serve: Serve, fast_retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    source = await source_for(two_pages_of_everything(), serve, fast_retry, include_spot=False)

    with pytest.raises(PricingError, match="no AWS credentials; use IRSA"):
        await source.fetch(REGION)


async def test_an_unreachable_endpoint_is_unavailable(fast_retry: RetryPolicy) -> None:
    source = aws.AwsPriceSource(endpoint_url="http://127.0.0.1:9", retry=fast_retry, timeout_s=2, include_spot=False)
    with pytest.raises(PricingUnavailable, match=r"EndpointConnectionError.*gave up after 3 attempts"):
        await source.fetch(REGION)
