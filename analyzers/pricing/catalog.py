"""A price file: CSV with ``provider, region, instance_type, capacity_type, usd_per_hour, as_of`` (gzip or plain).

Rows are checked like any API answer: a zero, negative or unreadable price, an unknown
capacity type or a repeated key is rejected with its line number, never priced.
``as_of`` is an ISO timestamp, or at least starts with a ``YYYY-MM`` or ``YYYY-MM-DD``
date (scraped lists carry notes after it); it becomes the price's ``fetched_at``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import gzip
import io
import re
from pathlib import Path

from kcost.analyzers.pricing.checks import positive_price
from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import (
    CAPACITY_TYPES,
    MALFORMED,
    MISSING_FIELD,
    CapacityType,
    JunkRowError,
    NodePrice,
    PriceSheet,
    Rejection,
)

COLUMNS = ("provider", "region", "instance_type", "capacity_type", "usd_per_hour", "as_of")
_DATE_PREFIX = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})(?:-(?P<day>\d{2}))?(?![\d:T])")


def parse_as_of(value: str) -> datetime.datetime:
    """An ISO timestamp (UTC when it has no zone), or a leading ``YYYY-MM[-DD]`` date at midnight UTC."""
    text = value.strip()
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        match = _DATE_PREFIX.match(text)
        if not match:
            raise JunkRowError(MALFORMED, f"as_of is {value!r}, expected an ISO date") from None
        try:
            return datetime.datetime(
                int(match["year"]), int(match["month"]), int(match["day"] or 1), tzinfo=datetime.UTC
            )
        except ValueError:
            raise JunkRowError(MALFORMED, f"as_of is {value!r}, not a real date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _parse_row(row: dict[str | None, str | None], origin: str) -> NodePrice:
    values = {name: (row.get(name) or "").strip() for name in COLUMNS}
    for name in ("provider", "region", "instance_type", "as_of"):
        if not values[name]:
            raise JunkRowError(MISSING_FIELD, f"{name} is empty")
    capacity_type = values["capacity_type"]
    if capacity_type not in CAPACITY_TYPES:
        raise JunkRowError(MALFORMED, f"capacity_type is {capacity_type!r}, expected on-demand or spot")
    checked: CapacityType = "spot" if capacity_type == "spot" else "on-demand"
    return NodePrice(
        values["provider"],
        values["region"],
        values["instance_type"],
        checked,
        positive_price(values["usd_per_hour"], "usd_per_hour"),
        f"catalog:{origin}",
        parse_as_of(values["as_of"]),
    )


def parse_catalog(text: str, origin: str) -> PriceSheet:
    """A CSV text → its prices; ``origin`` (a file name, a ConfigMap) names it in sources and errors."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in COLUMNS if name not in (reader.fieldnames or [])]
    if missing:
        raise PricingError(f"price catalog {origin}: missing columns {', '.join(missing)} (expected {COLUMNS})")
    prices: list[NodePrice] = []
    rejected: list[Rejection] = []
    for row in reader:
        try:
            prices.append(_parse_row(row, origin))
        except JunkRowError as error:
            rejected.append(Rejection(f"{origin} line {reader.line_num}", error.reason, error.detail))
    return PriceSheet.build(f"catalog:{origin}", prices, rejected)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    # Sniff the gzip magic rather than trust the suffix: ConfigMap mounts lose names.
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig")


async def load_catalog(path: Path) -> PriceSheet:
    """Read and check a price file (in a thread: the public list has ~70k rows)."""
    try:
        text = await asyncio.to_thread(_read_text, path)
    except OSError as error:
        raise PricingError(f"price catalog {path}: cannot read it: {error.strerror or error}") from None
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as error:
        raise PricingError(f"price catalog {path}: not a CSV or gzipped CSV ({error})") from None
    return await asyncio.to_thread(parse_catalog, text, path.name)
