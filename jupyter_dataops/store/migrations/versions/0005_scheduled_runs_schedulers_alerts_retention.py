"""scheduled runs, schedulers, alert log, pruned runs

Exactly-once claims of scheduled ticks (unique pipeline + step + scheduled time), scheduler
heartbeats (host, pid), the alert delivery log and the step runs whose files retention deleted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("scheduled_for", TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("scheduler_id", sa.Integer(), nullable=True),
        sa.Column("pipeline_run_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id"],
            ["pipeline_runs.id"],
            name=op.f("fk_scheduled_runs_pipeline_run_id_pipeline_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_runs")),
        sa.UniqueConstraint(
            "pipeline",
            "step",
            "scheduled_for",
            name=op.f("uq_scheduled_runs_pipeline_step_scheduled_for"),
        ),
    )
    op.create_index(op.f("ix_scheduled_runs_status"), "scheduled_runs", ["status"])
    op.create_table(
        "schedulers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("project_dir", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_started", sa.Float(), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.Column("stopped_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedulers")),
    )
    op.create_index(
        op.f("ix_schedulers_pipeline_heartbeat_at"), "schedulers", ["pipeline", "heartbeat_at"]
    )
    op.create_table(
        "alert_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("pipeline_run_id", sa.Integer(), nullable=True),
        sa.Column("step_run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_log")),
    )
    op.create_index(op.f("ix_alert_log_pipeline_id"), "alert_log", ["pipeline", "id"])
    op.create_table(
        "pruned_runs",
        sa.Column("step_run_id", sa.Integer(), nullable=False),
        sa.Column("pruned_at", TS, nullable=False),
        sa.Column(
            "files",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_pruned_runs_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_run_id", name=op.f("pk_pruned_runs")),
    )


def downgrade() -> None:
    op.drop_table("pruned_runs")
    op.drop_index(op.f("ix_alert_log_pipeline_id"), table_name="alert_log")
    op.drop_table("alert_log")
    op.drop_index(op.f("ix_schedulers_pipeline_heartbeat_at"), table_name="schedulers")
    op.drop_table("schedulers")
    op.drop_index(op.f("ix_scheduled_runs_status"), table_name="scheduled_runs")
    op.drop_table("scheduled_runs")
