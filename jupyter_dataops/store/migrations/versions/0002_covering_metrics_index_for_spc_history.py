"""covering metrics index for SPC history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:51:00.434961
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metrics_step_id_key_step_run_id"))
        batch_op.create_index(
            batch_op.f("ix_metrics_step_id_key_step_run_id_value"),
            ["step_id", "key", "step_run_id", "value"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metrics_step_id_key_step_run_id_value"))
        batch_op.create_index(
            batch_op.f("ix_metrics_step_id_key_step_run_id"),
            ["step_id", "key", "step_run_id"],
            unique=False,
        )
