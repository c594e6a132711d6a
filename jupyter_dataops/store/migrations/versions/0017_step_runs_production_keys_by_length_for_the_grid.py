"""step_runs' production keys by length, in key order, with their step: the grid counts them

The grid pages the keys of another period (left by an earlier ``every:``) by counting them in
buckets (a month of hours, a year of weeks) and reading only the keys of the page's buckets.
``ix_step_runs_mode_partition_length`` (mode, length(partition), partition, step_id) answers
"the distinct production keys of one length (of these steps)" from the index alone, in key order,
without reading the keys of the grid's own period or the rows (0016 does not hold ``mode``, so
each of its entries cost a row lookup: 2 s for 1M runs; issue 26).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jupyter_dataops.store.engine import tidy_after_upgrade

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_step_runs_mode_partition_length"


def upgrade() -> None:
    op.create_index(
        NAME,
        "step_runs",
        ["mode", sa.text("length(partition)"), "partition", "step_id"],
        unique=False,
    )
    tidy_after_upgrade("step_runs")  # PostgreSQL: statistics of the new expression


def downgrade() -> None:
    op.drop_index(NAME, table_name="step_runs")
