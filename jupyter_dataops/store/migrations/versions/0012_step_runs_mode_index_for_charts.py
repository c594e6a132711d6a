"""step_runs index by step and mode for charts

A chart counts and pages a metric's production points on the metrics index alone, leaving out
the few runs of a step that were not production (test runs): ``ix_step_runs_step_id_mode_id``
lists those without reading every run of the step (issue 26).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_step_runs_step_id_mode_id"), "step_runs", ["step_id", "mode", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_step_runs_step_id_mode_id"), table_name="step_runs")
