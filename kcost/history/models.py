"""The history tables: one SQLModel class per table, the single source of schema and row checks.

Rows are built with the class (``DailyCost(cluster=…, …)``) and checked by
``validation.validated`` before any write; the migrations in ``migrations/versions``
create the same schema, and a test keeps the two in agreement.

No table has a foreign key to ``clusters``: a write that the ``BufferedWriter`` had to
drop must not make every later write for that cluster fail.
"""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, FiniteFloat, model_validator
from sqlalchemy import JSON, BigInteger, Index, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from kcost.api.v1alpha1.analysis import AnalysisPhase
from kcost.api.v1alpha1.profile import PricingSource, Provider
from kcost.api.v1alpha1.recommendation import RecommendationPhase, RecommendationType, RiskLevel
from kcost.history.columns import UtcDateTime

# Kubernetes limits: DNS subdomains (object names) and DNS labels (namespaces).
NAME_LENGTH = 253
LABEL_LENGTH = 63
# Enumerations are stored as short strings, not native enum types, so a new value
# needs no migration; the classes below check them on every write.
ENUM_LENGTH = 32
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
# Daily tables are range-partitioned by month on PostgreSQL; other dialects ignore this.
MONTHLY_PARTITIONS = {"postgresql_partition_by": "RANGE (day)"}
# Labels as one JSON object per row: JSONB on PostgreSQL (``->>`` reads a key without
# re-parsing the text), JSON text on SQLite (read with ``json_extract``).
LABELS_TYPE = JSON().with_variant(JSONB(), "postgresql")


class CapacityType(StrEnum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"


class HistoryTable(SQLModel):
    """Base of the history tables; its own metadata keeps them apart from other SQLModel tables."""

    metadata: ClassVar[MetaData] = MetaData(naming_convention=NAMING_CONVENTION)


class ClusterRecord(HistoryTable, table=True):
    """A cluster kcost has priced; ``created_at`` is its first sighting and never changes."""

    __tablename__: ClassVar[str] = "clusters"

    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    provider: Provider = Field(sa_type=String(ENUM_LENGTH))
    region: str = Field(default="", max_length=LABEL_LENGTH)
    created_at: AwareDatetime = Field(sa_type=UtcDateTime)


class AnalysisRecord(HistoryTable, table=True):
    """One run of an Analysis (a cluster-scoped object) and what it found."""

    __tablename__: ClassVar[str] = "analyses"

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    run_id: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    phase: AnalysisPhase = Field(sa_type=String(ENUM_LENGTH))
    started_at: AwareDatetime = Field(sa_type=UtcDateTime)
    finished_at: AwareDatetime | None = Field(default=None, sa_type=UtcDateTime)
    potential_monthly_savings_usd: FiniteFloat = Field(default=0.0, ge=0)
    recommendation_count: int = Field(default=0, ge=0)


class RecommendationChange(HistoryTable, table=True):
    """One phase change of an OptimizationRecommendation; its history is every such row."""

    __tablename__: ClassVar[str] = "recommendations"

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    namespace: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    # Before phase in the key, so one object's history is a single index range in time order.
    changed_at: AwareDatetime = Field(primary_key=True, sa_type=UtcDateTime)
    phase: RecommendationPhase = Field(primary_key=True, sa_type=String(ENUM_LENGTH))
    target_kind: str = Field(min_length=1, max_length=LABEL_LENGTH)
    target_name: str = Field(min_length=1, max_length=NAME_LENGTH)
    type: RecommendationType = Field(sa_type=String(ENUM_LENGTH))
    estimated_monthly_savings_usd: FiniteFloat = Field(ge=0)
    confidence: FiniteFloat = Field(ge=0, le=1)
    risk_level: RiskLevel = Field(sa_type=String(ENUM_LENGTH))


class RealizedSavingsRecord(HistoryTable, table=True):
    """One measurement of what an applied recommendation saved over its verify window, in USD per month."""

    __tablename__: ClassVar[str] = "realized_savings"

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    namespace: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    measured_at: AwareDatetime = Field(primary_key=True, sa_type=UtcDateTime)
    target_kind: str = Field(min_length=1, max_length=LABEL_LENGTH)
    target_name: str = Field(min_length=1, max_length=NAME_LENGTH)
    type: RecommendationType = Field(sa_type=String(ENUM_LENGTH))
    window_seconds: int = Field(gt=0)
    estimated_monthly_savings_usd: FiniteFloat = Field(ge=0)
    # Negative when the change made the workload dearer.
    realized_monthly_savings_usd: FiniteFloat
    monthly_cost_before_usd: FiniteFloat = Field(ge=0)
    monthly_cost_after_usd: FiniteFloat = Field(ge=0)
    oom_kills: int = Field(default=0, ge=0)
    restarts: int = Field(default=0, ge=0)
    regression: bool = False


class DailyCost(HistoryTable, table=True):
    """What one namespace of one cluster cost on one day, by resource, in USD."""

    __tablename__: ClassVar[str] = "daily_costs"
    __table_args__ = (Index(None, "cluster", "day"), MONTHLY_PARTITIONS)

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    namespace: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    day: datetime.date = Field(primary_key=True)
    cpu_usd: FiniteFloat = Field(default=0.0, ge=0)
    memory_usd: FiniteFloat = Field(default=0.0, ge=0)
    gpu_usd: FiniteFloat = Field(default=0.0, ge=0)
    storage_usd: FiniteFloat = Field(default=0.0, ge=0)
    network_usd: FiniteFloat = Field(default=0.0, ge=0)
    idle_usd: FiniteFloat = Field(default=0.0, ge=0)
    total_usd: FiniteFloat = Field(default=0.0, ge=0)


class WorkloadDailyCost(HistoryTable, table=True):
    """What one workload of one cluster cost on one day, by resource, in USD, and the labels it had.

    The rows of a namespace and day add up to that namespace's ``DailyCost`` row: both are
    written from the same allocation. Idle cost is one row whose namespace, kind and name
    are ``grouping.IDLE``, as it is the ``IDLE`` namespace in ``daily_costs``.
    """

    __tablename__: ClassVar[str] = "workload_daily_costs"
    __table_args__ = (Index(None, "cluster", "day"), MONTHLY_PARTITIONS)

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    namespace: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    kind: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    day: datetime.date = Field(primary_key=True)
    cpu_usd: FiniteFloat = Field(default=0.0, ge=0)
    memory_usd: FiniteFloat = Field(default=0.0, ge=0)
    gpu_usd: FiniteFloat = Field(default=0.0, ge=0)
    storage_usd: FiniteFloat = Field(default=0.0, ge=0)
    network_usd: FiniteFloat = Field(default=0.0, ge=0)
    idle_usd: FiniteFloat = Field(default=0.0, ge=0)
    total_usd: FiniteFloat = Field(default=0.0, ge=0)
    #: The labels the workload's pods share (key → value), for grouping by ``label:KEY``.
    labels: dict[str, str] = Field(default_factory=dict, sa_type=LABELS_TYPE)


class WorkloadUsageDaily(HistoryTable, table=True):
    """How much CPU and memory one workload used on one day (median, 95th percentile, peak)."""

    __tablename__: ClassVar[str] = "workload_usage_daily"
    __table_args__ = (MONTHLY_PARTITIONS,)

    cluster: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    namespace: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    kind: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    name: str = Field(primary_key=True, min_length=1, max_length=NAME_LENGTH)
    day: datetime.date = Field(primary_key=True)
    cpu_p50_cores: FiniteFloat = Field(ge=0)
    cpu_p95_cores: FiniteFloat = Field(ge=0)
    cpu_max_cores: FiniteFloat = Field(ge=0)
    memory_p50_bytes: int = Field(ge=0, sa_type=BigInteger)
    memory_p95_bytes: int = Field(ge=0, sa_type=BigInteger)
    memory_max_bytes: int = Field(ge=0, sa_type=BigInteger)

    @model_validator(mode="after")
    def _percentiles_are_ordered(self) -> Self:
        for resource in ("cpu", "memory"):
            unit = "cores" if resource == "cpu" else "bytes"
            p50, p95, peak = (getattr(self, f"{resource}_{stat}_{unit}") for stat in ("p50", "p95", "max"))
            if not p50 <= p95 <= peak:
                raise ValueError(
                    f"{resource}_p50_{unit} <= {resource}_p95_{unit} <= {resource}_max_{unit} must hold, "
                    f"got {p50}, {p95}, {peak}"
                )
        return self


class InstancePrice(HistoryTable, table=True):
    """The latest known hourly price of one instance type; a price fetched earlier never replaces it."""

    __tablename__: ClassVar[str] = "pricing"

    provider: Provider = Field(primary_key=True, sa_type=String(ENUM_LENGTH))
    region: str = Field(primary_key=True, max_length=LABEL_LENGTH)
    instance_type: str = Field(primary_key=True, min_length=1, max_length=LABEL_LENGTH)
    capacity_type: CapacityType = Field(primary_key=True, sa_type=String(ENUM_LENGTH))
    usd_per_hour: FiniteFloat = Field(ge=0)
    source: PricingSource = Field(sa_type=String(ENUM_LENGTH))
    fetched_at: AwareDatetime = Field(sa_type=UtcDateTime)


TABLES: tuple[type[HistoryTable], ...] = (
    ClusterRecord,
    AnalysisRecord,
    RecommendationChange,
    RealizedSavingsRecord,
    DailyCost,
    WorkloadUsageDaily,
    InstancePrice,
    WorkloadDailyCost,
)


def table_of(model: type[HistoryTable]) -> Table:
    """The SQLAlchemy table of a history table class."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a history table")
    return table


# Tables keyed by day: partitioned by month on PostgreSQL, trimmed by retention everywhere.
DAILY_TABLES: tuple[type[HistoryTable], ...] = (DailyCost, WorkloadUsageDaily, WorkloadDailyCost)
METADATA = HistoryTable.metadata
