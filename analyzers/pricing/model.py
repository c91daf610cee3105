"""The typed results every price source returns: node prices, rejected rows, and sheets of both.

A price is always US dollars per hour for one node of one instance type. Rows that
cannot be trusted (missing fields, zero/negative/NaN prices, another currency, a
monthly unit…) are never turned into a price: they become a ``Rejection`` with a
reason constant, counted in the sheet so status can report them.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

CapacityType = Literal["on-demand", "spot"]
ON_DEMAND: CapacityType = "on-demand"
SPOT: CapacityType = "spot"
CAPACITY_TYPES: tuple[CapacityType, ...] = (ON_DEMAND, SPOT)

# Why a row was rejected: short constants, so status and metrics can count them.
MISSING_FIELD = "MissingField"
NOT_A_NUMBER = "NotANumber"
NOT_POSITIVE = "ZeroOrNegativePrice"
WRONG_CURRENCY = "WrongCurrency"
NOT_HOURLY = "NotHourly"
MALFORMED = "MalformedRow"
AMBIGUOUS = "AmbiguousPrice"
DUPLICATE = "DuplicateRow"
MISSING_RATE = "MissingRate"


@dataclass(frozen=True, order=True)
class PriceKey:
    """What a price is for: one instance type of one provider in one region, on-demand or spot."""

    provider: str
    region: str
    instance_type: str
    capacity_type: CapacityType

    def __str__(self) -> str:
        return f"{self.provider}/{self.region}/{self.instance_type} ({self.capacity_type})"


@dataclass(frozen=True)
class NodePrice:
    """The hourly list price of one node, where it came from and when it was read."""

    provider: str
    region: str
    instance_type: str
    capacity_type: CapacityType
    usd_per_hour: float
    source: str
    fetched_at: datetime.datetime

    def __post_init__(self) -> None:
        # Sources reject junk before building a price; reaching here with junk is a bug.
        if not math.isfinite(self.usd_per_hour) or self.usd_per_hour < 0:
            raise ValueError(f"{self.key}: usd_per_hour must be a finite number >= 0, got {self.usd_per_hour}")
        if self.fetched_at.tzinfo is None:
            raise ValueError(f"{self.key}: fetched_at must be timezone-aware")

    @property
    def key(self) -> PriceKey:
        return PriceKey(self.provider, self.region, self.instance_type, self.capacity_type)


@dataclass(frozen=True)
class Rejection:
    """A row a source refused: which row (an id a person can find), the reason constant, the detail."""

    row: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.row}: {self.reason}: {self.detail}"


class JunkRowError(ValueError):
    """Raised by row parsers; the source turns it into a ``Rejection``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PriceSheet:
    """What one source answered: prices by key, rejected rows, rows it skipped on purpose, partial errors.

    ``skipped`` counts rows that are fine but not node prices kcost wants (Windows,
    reservations, custom machine SKUs…). ``errors`` are failures of part of a fetch
    (e.g. spot prices) while the rest succeeded.
    """

    source: str
    prices: Mapping[PriceKey, NodePrice] = field(default_factory=dict)
    rejected: tuple[Rejection, ...] = ()
    skipped: int = 0
    errors: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        source: str,
        prices: Iterable[NodePrice],
        rejected: Iterable[Rejection] = (),
        skipped: int = 0,
        errors: Iterable[str] = (),
    ) -> PriceSheet:
        """A sheet from a list of prices; a second price for the same key is rejected, not silently kept."""
        by_key: dict[PriceKey, NodePrice] = {}
        rejections = list(rejected)
        for price in prices:
            if price.key in by_key:
                first = by_key[price.key].usd_per_hour
                rejections.append(
                    Rejection(str(price.key), DUPLICATE, f"second price {price.usd_per_hour} ignored, kept {first}")
                )
                continue
            by_key[price.key] = price
        return cls(source, by_key, tuple(rejections), skipped, tuple(errors))

    def get(self, key: PriceKey) -> NodePrice | None:
        """The price of ``key``, None when this sheet has none."""
        return self.prices.get(key)

    def rejection_counts(self) -> Counter[str]:
        """How many rows were rejected, by reason."""
        return Counter(rejection.reason for rejection in self.rejected)

    def merged(self, other: PriceSheet) -> PriceSheet:
        """This sheet and another of the same source (e.g. on-demand and spot halves)."""
        return PriceSheet.build(
            self.source,
            [*self.prices.values(), *other.prices.values()],
            [*self.rejected, *other.rejected],
            self.skipped + other.skipped,
            [*self.errors, *other.errors],
        )


def utc_now() -> datetime.datetime:
    """The default clock of every source (tests pass their own)."""
    return datetime.datetime.now(datetime.UTC)
