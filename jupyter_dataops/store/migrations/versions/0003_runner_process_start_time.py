"""runner process start time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:55:25.809037
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid_started", sa.Float(), nullable=True))

    with op.batch_alter_table("step_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid_started", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("step_runs", schema=None) as batch_op:
        batch_op.drop_column("pid_started")

    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_column("pid_started")
