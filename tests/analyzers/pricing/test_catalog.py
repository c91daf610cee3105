"""The CSV price file: the public list in the shared data, and the junk a hand-made file can hold."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import pytest

from kcost.analyzers.pricing.catalog import load_catalog, parse_as_of, parse_catalog
from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import DUPLICATE, MALFORMED, MISSING_FIELD, NOT_A_NUMBER, NOT_POSITIVE, PriceKey

HEADER = "provider,region,instance_type,capacity_type,usd_per_hour,as_of\n"


async def test_the_shared_price_list(pricing_data: Path) -> None:
    sheet = await load_catalog(pricing_data / "cloud-instance-prices.csv.gz")

    m5 = sheet.get(PriceKey("aws", "us-east-1", "m5.xlarge", "on-demand"))
    assert m5 is not None
    assert m5.usd_per_hour == pytest.approx(0.192)
    assert m5.fetched_at == datetime.datetime(2026, 7, 20, 13, 44, 30, tzinfo=datetime.UTC)
    assert m5.source == "catalog:cloud-instance-prices.csv.gz"
    e2 = sheet.get(PriceKey("gcp", "us-central1", "e2-standard-4", "spot"))
    assert e2 is not None
    assert e2.usd_per_hour == pytest.approx(0.04021)
    assert e2.fetched_at == datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)  # "2026-11 (cluster-autoscaler …)"
    d4 = sheet.get(PriceKey("azure", "eastus", "Standard_D4s_v5", "on-demand"))
    assert d4 is not None
    assert d4.usd_per_hour == pytest.approx(0.192)
    # Azure's zero-priced meters are rejected with their line, never priced at zero.
    zero = [r for r in sheet.rejected if r.reason == NOT_POSITIVE]
    assert len(zero) == 68
    assert zero[0].row.startswith("cloud-instance-prices.csv.gz line ")
    assert sheet.rejection_counts() == {NOT_POSITIVE: 68}
    assert len(sheet.prices) == 69133 - 68
    assert all(price.usd_per_hour > 0 for price in sheet.prices.values())


async def test_plain_and_gzip_files_read_alike(tmp_path: Path) -> None:
    text = HEADER + "aws,us-east-1,m5.large,on-demand,0.096,2026-07-20T13:44:30Z\n"
    plain, zipped = tmp_path / "prices.csv", tmp_path / "prices-from-a-configmap"
    plain.write_text(text)
    zipped.write_bytes(gzip.compress(text.encode()))  # no .gz suffix: sniffed
    for path in (plain, zipped):
        sheet = await load_catalog(path)
        price = sheet.get(PriceKey("aws", "us-east-1", "m5.large", "on-demand"))
        assert price is not None
        assert price.usd_per_hour == 0.096


def test_junk_rows_are_rejected_with_their_line() -> None:
    text = HEADER + (
        "aws,us-east-1,m5.large,on-demand,0.096,2026-07-20\n"
        "aws,us-east-1,m5.xlarge,on-demand,,2026-07-20\n"
        "aws,us-east-1,m5.2xlarge,on-demand,-1,2026-07-20\n"
        "aws,us-east-1,m5.4xlarge,on-demand,nan,2026-07-20\n"
        "aws,us-east-1,m5.8xlarge,reserved,1.5,2026-07-20\n"
        "aws,us-east-1,m5.12xlarge,on-demand,2.3,last tuesday\n"
        ",us-east-1,m5.16xlarge,on-demand,3.0,2026-07-20\n"
        "aws,us-east-1,m5.large,on-demand,0.5,2026-07-21\n"
    )

    sheet = parse_catalog(text, "prices.csv")

    assert list(sheet.prices) == [PriceKey("aws", "us-east-1", "m5.large", "on-demand")]
    assert [(r.row, r.reason) for r in sheet.rejected] == [
        ("prices.csv line 3", MISSING_FIELD),
        ("prices.csv line 4", NOT_POSITIVE),
        ("prices.csv line 5", NOT_A_NUMBER),
        ("prices.csv line 6", MALFORMED),
        ("prices.csv line 7", MALFORMED),
        ("prices.csv line 8", MISSING_FIELD),
        ("aws/us-east-1/m5.large (on-demand)", DUPLICATE),
    ]


def test_missing_columns_name_the_file_and_the_columns() -> None:
    with pytest.raises(PricingError, match=r"price catalog prices\.csv: missing columns capacity_type, usd_per_hour"):
        parse_catalog("provider,region,instance_type,price,as_of\n", "prices.csv")


async def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read it"):
        await load_catalog(tmp_path / "absent.csv")
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(HEADER.encode())[:20])
    with pytest.raises(PricingError, match="not a CSV or gzipped CSV"):
        await load_catalog(broken)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-20T13:44:30Z", datetime.datetime(2026, 7, 20, 13, 44, 30, tzinfo=datetime.UTC)),
        ("2026-07-20T13:44:30", datetime.datetime(2026, 7, 20, 13, 44, 30, tzinfo=datetime.UTC)),
        ("2026-11 (cluster-autoscaler gce_price_info.go)", datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)),
        ("2026-11-03 scraped", datetime.datetime(2026, 11, 3, tzinfo=datetime.UTC)),
    ],
)
def test_as_of_forms(text: str, expected: datetime.datetime) -> None:
    assert parse_as_of(text) == expected
