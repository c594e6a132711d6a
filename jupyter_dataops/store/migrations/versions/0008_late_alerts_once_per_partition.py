"""late alerts once per partition

A ``late`` alert (a partition not successful by its ``expect_by``) is sent once per partition
and channel, whichever process notices it first: ``alert_log.partition`` names the period an
alert is about and ``alert_log.dedupe_key`` (unique; NULL for alerts that are not deduplicated)
is the claim that makes a second noticer send nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_log") as batch:
        batch.add_column(sa.Column("partition", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_alert_log_dedupe_key"), "alert_log", ["dedupe_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_log_dedupe_key"), table_name="alert_log")
    with op.batch_alter_table("alert_log") as batch:
        batch.drop_column("dedupe_key")
        batch.drop_column("partition")
