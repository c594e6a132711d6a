"""metrics indexed by series for the step's metric list

A step's metric list counts each series' points and finds its last one. At 1M step runs (200k
points of a step) that read a wider index and sorted it by suite (SQLite 116 ms, PostgreSQL
148 ms). ``ix_metrics_step_id_key_suite_id`` holds the series in the list's order with the point's
id, so the counts and the last ids come from the index alone (issue 26).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jupyter_dataops.store.engine import tidy_after_upgrade

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_metrics_step_id_key_suite_id"),
        "metrics",
        ["step_id", "key", "suite", "id"],
        unique=False,
    )
    tidy_after_upgrade("metrics")  # PostgreSQL: index-only scans need the visibility map


def downgrade() -> None:
    op.drop_index(op.f("ix_metrics_step_id_key_suite_id"), table_name="metrics")
