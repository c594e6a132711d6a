"""partitions of runs and scheduler ticks

Every run is *for* a period: ``step_runs.partition`` and ``pipeline_runs.partition`` hold its ISO
key (``2026-09-01``, ``2026-W36``, ...; NULL on a pipeline without ``partitions:``), and
``scheduled_runs.partition`` the key of a scheduler tick (also of the ``missed`` rows a scheduler
writes for ticks it did not run).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("partition", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_step_runs_step_id_partition"), "step_runs", ["step_id", "partition"])
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("partition", sa.String(length=32), nullable=True))
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.add_column(sa.Column("partition", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.drop_column("partition")
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("partition")
    op.drop_index(op.f("ix_step_runs_step_id_partition"), table_name="step_runs")
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("partition")
