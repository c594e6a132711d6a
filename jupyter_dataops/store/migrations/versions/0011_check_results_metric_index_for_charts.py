"""check_results index by metric for charts

A metric's chart reads the newest spc verdict on that metric (the line's options) and the
verdicts of its window's runs: ``ix_check_results_metric_step_run_id`` finds them without
scanning every check row of the store (issue 26).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_check_results_metric_step_run_id"),
        "check_results",
        ["metric", "step_run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_check_results_metric_step_run_id"), table_name="check_results")
