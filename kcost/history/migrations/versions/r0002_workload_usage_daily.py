"""Daily usage per workload (partitioned by month on PostgreSQL), and an index for per-cluster cost history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workload_usage_daily",
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(63), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cpu_p50_cores", sa.Float(), nullable=False),
        sa.Column("cpu_p95_cores", sa.Float(), nullable=False),
        sa.Column("cpu_max_cores", sa.Float(), nullable=False),
        sa.Column("memory_p50_bytes", sa.BigInteger(), nullable=False),
        sa.Column("memory_p95_bytes", sa.BigInteger(), nullable=False),
        sa.Column("memory_max_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "namespace", "kind", "name", "day", name=op.f("pk_workload_usage_daily")),
        postgresql_partition_by="RANGE (day)",
    )
    # Cost history sums every namespace of a cluster over a range of days.
    op.create_index(op.f("ix_daily_costs_cluster_day"), "daily_costs", ["cluster", "day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_daily_costs_cluster_day"), table_name="daily_costs")
    op.drop_table("workload_usage_daily")
