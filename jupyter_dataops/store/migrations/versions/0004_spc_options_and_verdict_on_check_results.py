"""spc options and verdict on check results

An ``spc`` line stores what it judged with (chart, rules, baseline size) and what it found
(judged or still collecting its baseline, the rules broken, centre and limits) beside its
metric, so a chart of the metric can be drawn from exactly that judgement.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("check_results", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "spc",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("check_results", schema=None) as batch_op:
        batch_op.drop_column("spc")
