"""incidents: one per problem, acknowledged, resolved

An ``incidents`` row is one problem of one step (a failing check line, a failed step, an SPC
signal, a late partition, or one reported by a person), keyed by pipeline, step, kind and key;
further failures attach to it (``incident_runs``: the step runs and partitions behind it).
``open_key`` (unique; NULL once resolved) is the claim that keeps one open incident per key,
whichever process sees the failure first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_note", sa.Text(), nullable=True),
        sa.Column("resolved_step_run_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", TS, nullable=True),
        sa.Column("affected", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_open_key"), "incidents", ["open_key"], unique=True)
    op.create_index(
        op.f("ix_incidents_pipeline_status_id"), "incidents", ["pipeline", "status", "id"]
    )
    op.create_table(
        "incident_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", sa.Integer(), nullable=True),
        sa.Column("partition", sa.String(length=32), nullable=True),
        sa.Column("seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_runs_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_runs")),
    )
    op.create_index(op.f("ix_incident_runs_incident_id"), "incident_runs", ["incident_id"])
    op.create_index(op.f("ix_incident_runs_step_run_id"), "incident_runs", ["step_run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_runs_step_run_id"), table_name="incident_runs")
    op.drop_index(op.f("ix_incident_runs_incident_id"), table_name="incident_runs")
    op.drop_table("incident_runs")
    op.drop_index(op.f("ix_incidents_pipeline_status_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_open_key"), table_name="incidents")
    op.drop_table("incidents")
