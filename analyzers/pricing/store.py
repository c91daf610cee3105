"""Where last known prices are kept, so a restart does not refetch and an outage has something to fall back to.

``PriceStore`` is the protocol (the history store's pricing table can implement it);
``InMemoryPriceStore`` and ``JsonFilePriceStore`` are the small built-in ones.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import CAPACITY_TYPES, NodePrice

FORMAT_VERSION = 1


class PriceStore(Protocol):
    """Saves and loads whole sets of prices; ``save`` replaces what was there."""

    async def load(self) -> list[NodePrice]: ...

    async def save(self, prices: Sequence[NodePrice]) -> None: ...


class InMemoryPriceStore:
    """Prices kept for the life of the process (tests, or when nothing is mounted)."""

    def __init__(self, prices: Sequence[NodePrice] = ()) -> None:
        self._prices = list(prices)

    async def load(self) -> list[NodePrice]:
        return list(self._prices)

    async def save(self, prices: Sequence[NodePrice]) -> None:
        self._prices = list(prices)


def price_to_json(price: NodePrice) -> dict[str, Any]:
    """One price as the JSON file stores it."""
    return {
        "provider": price.provider,
        "region": price.region,
        "instance_type": price.instance_type,
        "capacity_type": price.capacity_type,
        "usd_per_hour": price.usd_per_hour,
        "source": price.source,
        "fetched_at": price.fetched_at.isoformat(),
    }


def price_from_json(data: Any) -> NodePrice:
    """One stored price; ``ValueError``/``KeyError``/``TypeError`` for a damaged entry."""
    capacity_type = data["capacity_type"]
    if capacity_type not in CAPACITY_TYPES:
        raise ValueError(f"capacity_type {capacity_type!r}")
    usd_per_hour = float(data["usd_per_hour"])
    if usd_per_hour <= 0:
        raise ValueError(f"usd_per_hour {usd_per_hour}")
    return NodePrice(
        str(data["provider"]),
        str(data["region"]),
        str(data["instance_type"]),
        capacity_type,
        usd_per_hour,
        str(data["source"]),
        datetime.datetime.fromisoformat(data["fetched_at"]),
    )


class JsonFilePriceStore:
    """Prices in one JSON file, replaced atomically so a crash mid-write never leaves half a file.

    Damaged entries are dropped on load (and counted in ``dropped``) rather than failing
    the whole store: the store is only a fallback.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dropped = 0

    def __repr__(self) -> str:
        return f"JsonFilePriceStore({str(self.path)!r})"

    def _read(self) -> list[NodePrice]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise PricingError(f"price store {self.path}: unreadable ({error})") from None
        entries = document.get("prices") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise PricingError(f"price store {self.path}: expected an object with a prices list")
        prices: list[NodePrice] = []
        self.dropped = 0
        for entry in entries:
            try:
                prices.append(price_from_json(entry))
            except (KeyError, TypeError, ValueError):
                self.dropped += 1
        return prices

    def _write(self, prices: Sequence[NodePrice]) -> None:
        document = {"version": FORMAT_VERSION, "prices": [price_to_json(price) for price in prices]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(document, file)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def load(self) -> list[NodePrice]:
        return await asyncio.to_thread(self._read)

    async def save(self, prices: Sequence[NodePrice]) -> None:
        try:
            await asyncio.to_thread(self._write, prices)
        except OSError as error:
            raise PricingError(f"price store {self.path}: cannot write ({error.strerror or error})") from None
