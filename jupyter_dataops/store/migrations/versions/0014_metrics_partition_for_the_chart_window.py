"""metrics carry their run's partition, indexed for the chart's window

A partitioned step's chart has one point per partition (its latest run). Counting a series'
partitions and finding a window of them joined every metric point to its step run: at 1M step
runs (100k points of a step) 0.9-2.0 s however small the window. ``metrics.partition`` (the step
run's, which never changes) and ``ix_metrics_step_id_key_partition_suite_step_run_id`` answer
both from the index alone, the window in key order (issue 26).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jupyter_dataops.store.engine import tidy_after_upgrade

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(sa.Column("partition", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE metrics SET partition = (SELECT step_runs.partition FROM step_runs "
        "WHERE step_runs.id = metrics.step_run_id) "
        "WHERE EXISTS (SELECT 1 FROM step_runs WHERE step_runs.id = metrics.step_run_id "
        "AND step_runs.partition IS NOT NULL)"
    )
    op.create_index(
        op.f("ix_metrics_step_id_key_partition_suite_step_run_id"),
        "metrics",
        ["step_id", "key", "partition", "suite", "step_run_id"],
        unique=False,
    )
    # PostgreSQL: the new column's statistics (without them the planner keeps joining every
    # point) and the visibility map of the rewritten rows (without it the window reads them)
    tidy_after_upgrade("metrics")


def downgrade() -> None:
    op.drop_index(op.f("ix_metrics_step_id_key_partition_suite_step_run_id"), table_name="metrics")
    with op.batch_alter_table("metrics") as batch:
        batch.drop_column("partition")
