"""The initial history schema: clusters, analyses, recommendations, daily costs and prices.

``daily_costs`` is range-partitioned by month on PostgreSQL (other databases ignore
``postgresql_partition_by``); its partitions are created when rows for a month arrive.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(253)
LABEL = sa.String(63)
ENUM = sa.String(32)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("name", NAME, nullable=False),
        sa.Column("provider", ENUM, nullable=False),
        sa.Column("region", LABEL, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_clusters")),
    )
    op.create_table(
        "analyses",
        sa.Column("cluster", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("run_id", NAME, nullable=False),
        sa.Column("phase", ENUM, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("potential_monthly_savings_usd", sa.Float(), nullable=False),
        sa.Column("recommendation_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "name", "run_id", name=op.f("pk_analyses")),
    )
    op.create_table(
        "recommendations",
        sa.Column("cluster", NAME, nullable=False),
        sa.Column("namespace", LABEL, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("phase", ENUM, nullable=False),
        sa.Column("target_kind", LABEL, nullable=False),
        sa.Column("target_name", NAME, nullable=False),
        sa.Column("type", ENUM, nullable=False),
        sa.Column("estimated_monthly_savings_usd", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("risk_level", ENUM, nullable=False),
        sa.PrimaryKeyConstraint("cluster", "namespace", "name", "changed_at", "phase", name=op.f("pk_recommendations")),
    )
    op.create_table(
        "daily_costs",
        sa.Column("cluster", NAME, nullable=False),
        sa.Column("namespace", LABEL, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(
            sa.Column(f"{resource}_usd", sa.Float(), nullable=False)
            for resource in ("cpu", "memory", "gpu", "storage", "network", "idle", "total")
        ),
        sa.PrimaryKeyConstraint("cluster", "namespace", "day", name=op.f("pk_daily_costs")),
        postgresql_partition_by="RANGE (day)",
    )
    op.create_table(
        "pricing",
        sa.Column("provider", ENUM, nullable=False),
        sa.Column("region", LABEL, nullable=False),
        sa.Column("instance_type", LABEL, nullable=False),
        sa.Column("capacity_type", ENUM, nullable=False),
        sa.Column("usd_per_hour", sa.Float(), nullable=False),
        sa.Column("source", ENUM, nullable=False),
        sa.Column("fetched_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("provider", "region", "instance_type", "capacity_type", name=op.f("pk_pricing")),
    )


def downgrade() -> None:
    for table in ("pricing", "daily_costs", "recommendations", "analyses", "clusters"):
        op.drop_table(table)
