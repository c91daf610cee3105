"""The cost forecast in each ClusterCostProfile's status, from the daily costs in the history store.

Runs in the cost analyzer's process (which writes those daily costs) and owns one field,
``status.forecast``, written with its own field manager: the month-end projection with its
interval, and the day each budget threshold is reached. A fit runs in a thread (Prophet, when
installed and chosen, takes about a second of CPU), and only when a cluster's history or budget changed.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kcost.analyzers.cost import passes
from kcost.api.v1alpha1.profile import BudgetCrossing, ClusterCostProfile, CostForecastSummary
from kcost.history.queries import CostGroup, CostTotals
from kcost.kube.client import KubeClient
from kcost.ml import forecast, forecast_budget

FIELD_MANAGER = "kcost-analyzer-forecast"
# Three months: prophet's trend settles, and older days say little about next month.
HISTORY_DAYS = 90

DailyCosts = list[tuple[datetime.date, float]]


class DailyCostReader(Protocol):
    """The history store's read of daily costs (``HistoryStore.daily_costs``)."""

    async def daily_costs(
        self,
        cluster: str,
        start_day: datetime.date,
        end_day: datetime.date,
        *,
        group_by: Sequence[CostGroup] = ...,
    ) -> list[CostTotals]: ...


def cluster_daily_costs(rows: Sequence[CostTotals]) -> DailyCosts:
    """The cluster's total per day, oldest first, from rows summed by day."""
    return sorted((row.day, row.total_usd) for row in rows if row.day is not None)


def summarize(
    profile: ClusterCostProfile, history: DailyCosts, made: forecast.CostForecast, today: datetime.date
) -> CostForecastSummary:
    """What the profile's status shows of a forecast: the month's end, and the budget thresholds."""
    month = forecast_budget.project_month(history, made, today)
    budget = profile.spec.budget
    crossings = (
        []
        if budget is None
        else forecast_budget.threshold_crossings(history, made, today, budget.monthly, budget.alert_thresholds_percent)
    )
    return CostForecastSummary(
        method=made.method,
        reason=made.reason,
        history_days=made.history_days,
        horizon_days=len(made.days),
        generated_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0),
        month_end_cost=round(month.month_end_usd, 2),
        month_end_cost_lower=round(month.month_end_lower_usd, 2),
        month_end_cost_upper=round(month.month_end_upper_usd, 2),
        budget_crossings=[
            BudgetCrossing(threshold_percent=c.threshold_percent, crosses_on=c.crosses_on) for c in crossings
        ],
    )


@dataclass
class Forecaster:
    """Writes ``status.forecast`` of every profile; refits only when its history or budget changed."""

    store: DailyCostReader
    _written: dict[str, tuple[object, ...]] = field(default_factory=dict)

    async def run_once(self, kube: KubeClient, today: datetime.date | None = None) -> int:
        """Forecast every profile that has cost history; returns how many statuses were written."""
        today = today or datetime.datetime.now(datetime.UTC).date()
        written = 0
        for _, profile in await passes.valid_profiles(kube):
            start_day = today - datetime.timedelta(days=HISTORY_DAYS - 1)
            rows = await self.store.daily_costs(profile.name, start_day, today, group_by=[CostGroup.DAY])
            history = cluster_daily_costs(rows)
            key = (tuple(history), today, profile.spec.budget)
            if not history or (self._written.get(profile.name) == key and profile.status.forecast is not None):
                continue
            made = await asyncio.to_thread(forecast.forecast_daily_cost, history)
            summary = summarize(profile, history, made, today)
            await kube.apply(
                ClusterCostProfile,
                {"metadata": {"name": profile.name}, "status": {"forecast": summary.to_api()}},
                field_manager=FIELD_MANAGER,
                status=True,
            )
            self._written[profile.name] = key
            written += 1
        return written

    async def serve(self, kube: KubeClient, interval: datetime.timedelta) -> None:
        """Forecast every ``interval`` until cancelled."""
        await passes.every(interval, lambda: self.run_once(kube), "forecast pass")
