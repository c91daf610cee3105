"""The Cost Management wrapper: the query it sends and how it reads result rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from azure.mgmt.costmanagement.models import QueryColumn, QueryProperties, QueryResult

from kcost.analyzers.pricing import azure_costs
from kcost.analyzers.pricing.credentials import AzureCredentials
from kcost.analyzers.pricing.errors import PricingError
from kcost.analyzers.pricing.model import MALFORMED, MISSING_FIELD, NOT_A_NUMBER


@dataclass
class FakeColumn:
    name: str | None
    type: str = "String"


@dataclass
class FakeResult:
    columns: list[FakeColumn] | None
    rows: list[list[Any]] | None


def test_the_query_asks_for_month_to_date_actual_cost_by_the_group() -> None:
    query = azure_costs.actual_cost_query("ServiceName")
    assert query.as_dict() == {
        "type": "ActualCost",
        "timeframe": "MonthToDate",
        "dataset": {
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "ServiceName"}],
        },
    }


def test_rows_are_read_by_column_name() -> None:
    result = FakeResult(
        columns=[FakeColumn("totalCost", "Number"), FakeColumn("ServiceName"), FakeColumn("Currency")],
        rows=[
            [1234.5678, "Virtual Machines", "USD"],
            [0.0, "Bandwidth", "USD"],
            [-12.5, "Azure Savings Plan credit", "USD"],  # credits are real, not junk
            [float("nan"), "Storage", "USD"],
            ["12", "Load Balancer", "USD"],
            [3.2, "", "USD"],
            [4.0],
        ],
    )

    costs = azure_costs.parse_query_result(result, "ServiceName")

    assert [(c.key, c.cost, c.currency) for c in costs.costs] == [
        ("Virtual Machines", 1234.5678, "USD"),
        ("Bandwidth", 0.0, "USD"),
        ("Azure Savings Plan credit", -12.5, "USD"),
    ]
    assert [(r.row, r.reason) for r in costs.rejected] == [
        ("rows[3]", NOT_A_NUMBER),
        ("rows[4]", NOT_A_NUMBER),
        ("rows[5]", MISSING_FIELD),
        ("rows[6]", MALFORMED),
    ]


def test_the_sdk_result_model_parses_too() -> None:
    resource_id = (
        "/subscriptions/0000/resourceGroups/mc_aks/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool"
    )
    result = QueryResult(
        properties=QueryProperties(
            columns=[QueryColumn(name="Cost", type="Number"), QueryColumn(name="ResourceId", type="String")],
            rows=[[88.25, resource_id]],
        )
    )

    costs = azure_costs.parse_query_result(result, "ResourceId")

    assert [(c.key, c.cost, c.currency) for c in costs.costs] == [(resource_id, 88.25, None)]


def test_a_result_without_the_needed_columns_is_an_error() -> None:
    result = FakeResult(columns=[FakeColumn("UsageQuantity"), FakeColumn("ServiceName")], rows=[[1.0, "x"]])
    with pytest.raises(PricingError, match=r"lacks a cost or ServiceName column \(columns: \['UsageQuantity'"):
        azure_costs.parse_query_result(result, "ServiceName")
    with pytest.raises(PricingError, match="lacks a cost or ResourceId column"):
        azure_costs.parse_query_result(FakeResult(columns=None, rows=None), "ResourceId")


def test_credentials_never_show_their_secret() -> None:
    credentials = AzureCredentials("tenant", "client-id", "client-secret-never-shown")
    assert "client-secret-never-shown" not in repr(credentials)
    assert "client-secret-never-shown" not in str(credentials)
    with pytest.raises(PricingError, match="needs tenant_id and client_id"):
        AzureCredentials(client_secret="s").token_credential()
