"""The price self-check: monthly-as-hourly, far from the list price, unpriced."""

from __future__ import annotations

import datetime

from kcost.analyzers.pricing.chain import ResolvedPrice, Tier
from kcost.analyzers.pricing.model import NodePrice, PriceKey, PriceSheet
from kcost.analyzers.pricing.selfcheck import FAR_FROM_LIST, LOOKS_MONTHLY, UNPRICED, self_check
from kcost.analyzers.pricing.shapes import Shape

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
M5 = PriceKey("aws", "us-east-1", "m5.xlarge", "on-demand")


def resolved(key: PriceKey, usd_per_hour: float | None, tier: Tier = Tier.LIVE) -> ResolvedPrice:
    source = "aws-pricing-api" if usd_per_hour is not None else ""
    return ResolvedPrice(key, tier, usd_per_hour, source, NOW, 0.0, ("live: down",) if usd_per_hour is None else ())


def catalog(*prices: tuple[PriceKey, float]) -> PriceSheet:
    return PriceSheet.build(
        "catalog:prices.csv",
        [
            NodePrice(k.provider, k.region, k.instance_type, k.capacity_type, p, "catalog:prices.csv", NOW)
            for k, p in prices
        ],
    )


def test_a_monthly_price_is_flagged_against_the_list_price() -> None:
    (finding,) = self_check([resolved(M5, 0.192 * 730)], catalog((M5, 0.192)))
    assert finding.reason == LOOKS_MONTHLY
    assert "730× the catalog list price" in finding.message
    assert "÷730 = 0.192 USD/h" in finding.message


def test_prices_far_from_the_list_price_are_flagged_either_way() -> None:
    listed = catalog((M5, 0.192), (PriceKey("aws", "us-east-1", "m5.large", "on-demand"), 0.096))
    high = resolved(M5, 0.192 * 3.5)
    low = resolved(PriceKey("aws", "us-east-1", "m5.large", "on-demand"), 0.096 / 4)
    findings = self_check([high, low], listed)
    assert [(f.key.instance_type, f.reason) for f in findings] == [
        ("m5.xlarge", FAR_FROM_LIST),
        ("m5.large", FAR_FROM_LIST),
    ]
    assert "beyond the 3× tolerance" in findings[0].message


def test_prices_within_tolerance_and_spot_discounts_pass() -> None:
    spot = PriceKey("aws", "us-east-1", "m5.xlarge", "spot")
    # A spot price is compared with the listed spot price, never with on-demand.
    listed = catalog((M5, 0.192), (spot, 0.08))
    assert self_check([resolved(M5, 0.192 * 2.9), resolved(spot, 0.07)], listed) == []
    # Without a listed spot price a deep spot discount is not "far from list" either.
    assert self_check([resolved(spot, 0.03)], catalog((M5, 0.192))) == []


def test_without_a_list_price_the_shape_estimate_still_catches_monthly_prices() -> None:
    gcp = PriceKey("gcp", "us-central1", "e2-standard-4", "on-demand")
    # The catalog itself had the monthly number: it is checked against the default-rate estimate.
    findings = self_check([resolved(gcp, 97.8, Tier.CATALOG)], catalog((gcp, 97.8)))
    assert [f.reason for f in findings] == [LOOKS_MONTHLY]
    assert "default-rate estimate" in findings[0].message
    # An hourly price several times off the estimate is not judged: the estimate is too rough.
    assert self_check([resolved(gcp, 0.6)]) == []
    odd = PriceKey("onprem", "dc1", "blade", "on-demand")
    assert [f.reason for f in self_check([resolved(odd, 40.0)], shapes={odd: Shape(2, 4)})] == [LOOKS_MONTHLY]


def test_unpriced_types_are_flagged_with_why() -> None:
    key = PriceKey("aws", "us-east-1", "x9.mystery", "on-demand")
    (finding,) = self_check([resolved(key, None, Tier.UNPRICED)])
    assert finding.reason == UNPRICED
    assert finding.message == "aws/us-east-1/x9.mystery (on-demand): no source could price it (live: down)"
