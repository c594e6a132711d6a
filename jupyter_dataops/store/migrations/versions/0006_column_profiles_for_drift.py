"""column profiles for drift lines

The profile of each column a ``drift`` line checks, per step run: what the next run's
``against last`` compares with.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "column_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.String(length=200), nullable=True),
        sa.Column("column", sa.String(length=300), nullable=False),
        sa.Column(
            "profile",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["steps.id"],
            name=op.f("fk_column_profiles_step_id_steps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_column_profiles_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_column_profiles")),
    )
    op.create_index(
        op.f("ix_column_profiles_step_id_column_step_run_id"),
        "column_profiles",
        ["step_id", "column", "step_run_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_column_profiles_step_id_column_step_run_id"), table_name="column_profiles"
    )
    op.drop_table("column_profiles")
