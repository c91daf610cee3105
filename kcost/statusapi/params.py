"""Query parameters read and checked at the edge: a bad one is a 422 naming it and what was expected."""

from __future__ import annotations

import datetime
import re
from enum import StrEnum
from typing import TypeVar

from aiohttp import web

from kcost.history.grouping import GroupBy, Grouping
from kcost.statusapi.problems import bad_parameter

E = TypeVar("E", bound=StrEnum)
# Days kcost can hold and do arithmetic on (a default range reaches 30 days back, a query a day on).
FIRST_DAY, LAST_DAY = datetime.date(1970, 1, 1), datetime.date(9999, 12, 30)
# A Kubernetes object name (RFC 1123 subdomain), as ClusterCostProfile names are.
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def text(request: web.Request, name: str) -> str | None:
    """The parameter as given, None when absent or empty."""
    return request.query.get(name) or None


def number(request: web.Request, name: str, default: float, *, minimum: float = 0.0) -> float:
    """A finite number at least ``minimum``."""
    given = request.query.get(name)
    if given is None:
        return default
    try:
        value = float(given)
    except ValueError:
        raise bad_parameter(name, f"expected a number, got {given!r}") from None
    if not minimum <= value < float("inf"):
        raise bad_parameter(name, f"expected a finite number of at least {minimum:g}, got {given!r}")
    return value


def integer(request: web.Request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    """An integer from ``minimum`` to ``maximum``."""
    given = request.query.get(name)
    if given is None:
        return default
    try:
        value = int(given)
    except ValueError:
        raise bad_parameter(name, f"expected an integer, got {given!r}") from None
    if not minimum <= value <= maximum:
        raise bad_parameter(name, f"expected {minimum} to {maximum}, got {value}")
    return value


def choice(request: web.Request, name: str, enum: type[E], default: E) -> E:
    """One of ``enum``'s values, ``default`` when absent."""
    return optional_choice(request, name, enum) or default


def optional_choice(request: web.Request, name: str, enum: type[E]) -> E | None:
    """One of ``enum``'s values, None when absent."""
    given = request.query.get(name)
    if not given:
        return None
    try:
        return enum(given)
    except ValueError:
        raise bad_parameter(name, f"expected one of {', '.join(m.value for m in enum)}, got {given!r}") from None


def day(request: web.Request, name: str, default: datetime.date) -> datetime.date:
    """A calendar day, YYYY-MM-DD."""
    given = request.query.get(name)
    if given is None:
        return default
    try:
        value = datetime.date.fromisoformat(given)
    except ValueError:
        raise bad_parameter(name, f"expected a day as YYYY-MM-DD, got {given!r}") from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise bad_parameter(name, f"expected a day from {FIRST_DAY} to {LAST_DAY}, got {given!r}")
    return value


def object_name(request: web.Request, name: str) -> str | None:
    """A Kubernetes object's name (lower-case letters, digits, '-' and '.'), None when absent."""
    given = text(request, name)
    if given is not None and not OBJECT_NAME.match(given):
        raise bad_parameter(name, f"expected a Kubernetes object name (RFC 1123), got {given!r}")
    return given


def grouping(request: web.Request, name: str) -> Grouping:
    """How to group cost history: ``namespace`` (the default), ``cluster``, ``workload`` or ``label:KEY``."""
    given = request.query.get(name)
    if not given:
        return Grouping(GroupBy.NAMESPACE)
    try:
        return Grouping.parse(given)
    except ValueError as error:
        raise bad_parameter(name, str(error)) from None
