"""step_runs indexed by the length of their partition key, for the grid

ISO keys of one period have one length (hour 13, day 10, week 8, month 7). The grid pages its
keys by arithmetic, so it must still find, without reading every key of a long history, the
recorded keys of another period (left by an earlier ``every:``) and, for a pipeline without
``start:``, the oldest key of its period: ``ix_step_runs_step_id_partition_length`` answers both
per step from the index, in key order (issue 26).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jupyter_dataops.store.engine import tidy_after_upgrade

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_step_runs_step_id_partition_length"


def upgrade() -> None:
    op.create_index(
        NAME, "step_runs", ["step_id", sa.text("length(partition)"), "partition"], unique=False
    )
    tidy_after_upgrade("step_runs")  # PostgreSQL: statistics of the new expression


def downgrade() -> None:
    op.drop_index(NAME, table_name="step_runs")
