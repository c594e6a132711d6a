"""spc phases: a new baseline of one step's metric from a partition or run on

An ``spc_phases`` row starts a phase of one metric of one step (``dataops spc rebaseline``): the
points at or after its boundary (a partition key, or a step run id on an unpartitioned pipeline)
are judged against limits computed afresh from that phase's own baseline.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "spc_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("from_partition", sa.String(length=32), nullable=True),
        sa.Column("from_step_run_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spc_phases")),
    )
    op.create_index(op.f("ix_spc_phases_pipeline_step"), "spc_phases", ["pipeline", "step"])


def downgrade() -> None:
    op.drop_index(op.f("ix_spc_phases_pipeline_step"), table_name="spc_phases")
    op.drop_table("spc_phases")
