"""Daily costs per workload with the workload's labels (partitioned by month on PostgreSQL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workload_daily_costs",
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(63), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(
            sa.Column(f"{resource}_usd", sa.Float(), nullable=False)
            for resource in ("cpu", "memory", "gpu", "storage", "network", "idle", "total")
        ),
        sa.Column("labels", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "namespace", "kind", "name", "day", name=op.f("pk_workload_daily_costs")),
        postgresql_partition_by="RANGE (day)",
    )
    # History reads one cluster over a range of days.
    op.create_index(op.f("ix_workload_daily_costs_cluster_day"), "workload_daily_costs", ["cluster", "day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_workload_daily_costs_cluster_day"), table_name="workload_daily_costs")
    op.drop_table("workload_daily_costs")
