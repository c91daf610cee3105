"""Billed actual cost from Azure Cost Management: a thin wrapper over ``azure-mgmt-costmanagement``.

One query: ActualCost, month to date, summed and grouped by ResourceId or ServiceName.
The SDK client blocks and retries throttling itself, so the call runs in a thread
without a second retry layer. Only the first page of rows is read (``next_link`` is
not followed), which is enough for grouping by service; grouping by resource on a
large subscription can be cut short.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement.models import (
    ExportType,
    FunctionType,
    QueryAggregation,
    QueryColumnType,
    QueryDataset,
    QueryDefinition,
    QueryGrouping,
    TimeframeType,
)

from kcost.analyzers.pricing.credentials import AzureCredentials
from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.analyzers.pricing.model import MALFORMED, MISSING_FIELD, NOT_A_NUMBER, JunkRowError, Rejection

GroupBy = Literal["ResourceId", "ServiceName"]
COST_COLUMN = "totalCost"
# What the cost column is called depends on the query and API version; the alias we ask for comes first.
COST_COLUMNS = (COST_COLUMN, "Cost", "PreTaxCost", "CostUSD")


class QueryColumnLike(Protocol):
    @property
    def name(self) -> str | None: ...


class QueryResultLike(Protocol):
    """The part of the SDK's ``QueryResult`` that is read."""

    @property
    def columns(self) -> Sequence[QueryColumnLike] | None: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]] | None: ...


@dataclass(frozen=True)
class BilledCost:
    """Month-to-date billed cost of one resource or service, in the billing currency."""

    key: str
    cost: float
    currency: str | None


@dataclass(frozen=True)
class BilledCosts:
    group_by: GroupBy
    costs: tuple[BilledCost, ...]
    rejected: tuple[Rejection, ...]


def actual_cost_query(group_by: GroupBy) -> QueryDefinition:
    """ActualCost, month to date, the cost summed per ``group_by``."""
    return QueryDefinition(
        type=ExportType.ACTUAL_COST,
        timeframe=TimeframeType.MONTH_TO_DATE,
        dataset=QueryDataset(
            aggregation={COST_COLUMN: QueryAggregation(name="Cost", function=FunctionType.SUM)},
            grouping=[QueryGrouping(type=QueryColumnType.DIMENSION, name=group_by)],
        ),
    )


def _parse_row(row: object, cost_at: int, key_at: int, currency_at: int | None) -> BilledCost:
    if not isinstance(row, Sequence) or isinstance(row, str) or len(row) <= max(cost_at, key_at, currency_at or 0):
        raise JunkRowError(MALFORMED, "row is shorter than its columns")
    cost, key = row[cost_at], row[key_at]
    # Zero and negative costs are real (free tiers, credits, refunds); only non-numbers are junk.
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
        raise JunkRowError(NOT_A_NUMBER, f"cost is {cost!r}")
    if not isinstance(key, str) or not key:
        raise JunkRowError(MISSING_FIELD, "the group key is empty")
    currency = row[currency_at] if currency_at is not None else None
    return BilledCost(key, float(cost), str(currency) if currency else None)


def parse_query_result(result: QueryResultLike, group_by: GroupBy) -> BilledCosts:
    """The rows of a cost query, by column name; junk rows are rejected with their index."""
    names = [column.name for column in result.columns or []]
    cost_at = next((names.index(name) for name in COST_COLUMNS if name in names), None)
    if cost_at is None or group_by not in names:
        raise PricingError(f"Cost Management answer lacks a cost or {group_by} column (columns: {names})")
    key_at = names.index(group_by)
    currency_at = names.index("Currency") if "Currency" in names else None
    costs: list[BilledCost] = []
    rejected: list[Rejection] = []
    for index, row in enumerate(result.rows or []):
        try:
            costs.append(_parse_row(row, cost_at, key_at, currency_at))
        except JunkRowError as error:
            rejected.append(Rejection(f"rows[{index}]", error.reason, error.detail))
    return BilledCosts(group_by, tuple(costs), tuple(rejected))


def cost_management_client(credentials: AzureCredentials) -> CostManagementClient:
    """A client authenticated from explicit values, the environment, workload or managed identity."""
    return CostManagementClient(credentials.token_credential())


async def query_billed_costs(client: CostManagementClient, scope: str, group_by: GroupBy) -> BilledCosts:
    """Month-to-date actual cost of ``scope`` (e.g. ``/subscriptions/<id>``) grouped by ``group_by``."""
    where = f"Cost Management query on {scope}"
    try:
        result = await asyncio.to_thread(client.query.usage, scope, actual_cost_query(group_by))
    except ClientAuthenticationError as error:
        raise PricingError(f"{where}: credentials refused ({error.reason}); check the identity's role") from None
    except ServiceRequestError as error:
        raise PricingUnavailable(f"{where}: {type(error).__name__}") from None
    except HttpResponseError as error:
        if error.status_code in (429, 500, 502, 503, 504):
            raise PricingUnavailable(f"{where}: HTTP {error.status_code}") from None
        raise PricingError(f"{where}: HTTP {error.status_code}: {error.reason}") from None
    if result is None:
        raise PricingError(f"{where}: empty answer")
    return parse_query_result(result, group_by)
