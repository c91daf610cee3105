"""What applied recommendations really saved: one row per measurement over a verify window.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "realized_savings",
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_kind", sa.String(63), nullable=False),
        sa.Column("target_name", sa.String(253), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("estimated_monthly_savings_usd", sa.Float(), nullable=False),
        sa.Column("realized_monthly_savings_usd", sa.Float(), nullable=False),
        sa.Column("monthly_cost_before_usd", sa.Float(), nullable=False),
        sa.Column("monthly_cost_after_usd", sa.Float(), nullable=False),
        sa.Column("oom_kills", sa.Integer(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("regression", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "namespace", "name", "measured_at", name=op.f("pk_realized_savings")),
    )


def downgrade() -> None:
    op.drop_table("realized_savings")
