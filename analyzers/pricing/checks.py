"""Junk checks shared by every source: is this a positive, finite US-dollar price per hour?

Each check raises ``JunkRowError`` with a reason constant; sources turn that into a
``Rejection`` for the row, so junk is counted and reported, never priced as zero.
"""

from __future__ import annotations

import math
import re

from kcost.analyzers.pricing.model import (
    MISSING_FIELD,
    NOT_A_NUMBER,
    NOT_HOURLY,
    NOT_POSITIVE,
    WRONG_CURRENCY,
    JunkRowError,
)

_HOURLY = re.compile(r"^(?:(?P<count>\d+(?:\.\d+)?)\s*/?\s*)?(?:h|hr|hrs|hour|hours)$", re.IGNORECASE)
_MONTHLY = re.compile(r"(?:^|[\s/.\d])(?:mo|mth|month|months)$", re.IGNORECASE)


def positive_price(value: object, field_name: str) -> float:
    """``value`` as a finite number above zero; strings like ``"0.1920000000"`` are accepted."""
    if value is None or value == "":
        raise JunkRowError(MISSING_FIELD, f"{field_name} is missing")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise JunkRowError(NOT_A_NUMBER, f"{field_name} is {value!r}, not a number")
    try:
        number = float(value)
    except ValueError:
        raise JunkRowError(NOT_A_NUMBER, f"{field_name} is {value!r}, not a number") from None
    if not math.isfinite(number):
        raise JunkRowError(NOT_A_NUMBER, f"{field_name} is {value!r}")
    if number <= 0:
        raise JunkRowError(NOT_POSITIVE, f"{field_name} is {value!r}; a list price must be above zero")
    return number


def require_usd(currency: object, field_name: str) -> None:
    """Reject any currency but US dollars (sources ask for USD; anything else is a wrong answer)."""
    if currency is None or currency == "":
        raise JunkRowError(MISSING_FIELD, f"{field_name} is missing")
    if currency != "USD":
        raise JunkRowError(WRONG_CURRENCY, f"{field_name} is {currency!r}, expected 'USD'")


def hours_in_unit(unit: object, field_name: str) -> float:
    """How many hours one priced unit covers: 1 for ``Hrs``/``1 Hour``/``h``, 100 for ``100 Hours``.

    Monthly units are rejected with a reason that says so: a monthly price taken as
    hourly would overstate costs ~730 times.
    """
    if not isinstance(unit, str) or not unit.strip():
        raise JunkRowError(MISSING_FIELD, f"{field_name} is missing")
    text = unit.strip()
    match = _HOURLY.match(text)
    if match:
        hours = float(match.group("count") or 1)
        if hours <= 0:
            raise JunkRowError(NOT_HOURLY, f"{field_name} is {unit!r}")
        return hours
    if _MONTHLY.search(text):
        raise JunkRowError(NOT_HOURLY, f"{field_name} is {unit!r}: a monthly unit, expected hours")
    raise JunkRowError(NOT_HOURLY, f"{field_name} is {unit!r}, expected an hourly unit")
