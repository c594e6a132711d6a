"""SQLAlchemy 2 models of the run store: every table is defined here.

The schema changes only through Alembic revisions in ``store/migrations/versions``; a test checks
that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES: tuple[str, ...] = ("queued", "running", "success", "failed", "skipped", "interrupted")
ACTIVE_STATUSES: tuple[str, ...] = ("queued", "running")
FINAL_STATUSES: tuple[str, ...] = ("success", "failed", "skipped", "interrupted")
MODES: tuple[str, ...] = ("production", "test")
# "baseline": an spc line still collecting its baseline (not judged; never fails a suite).
CHECK_STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "error", "baseline")
#: the suite the operations observer records its implicit lines under (duration, queue delay,
#: ...): counted apart from the user's own check lines in every run row
OPERATIONS_SUITE = "operations"
# What became of a schedule's tick (``scheduled_runs.status``).
CLAIM_STATUSES: tuple[str, ...] = ("claimed", "started", "skipped", "failed", "interrupted")


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class JSONType(TypeDecorator):
    """JSON; JSONB on PostgreSQL. The PostgreSQL dialect is imported only when it is used (a
    SQLite store, the default, should not pay for loading it)."""

    impl = JSON
    cache_ok = True

    def __init__(self, none_as_null: bool = False) -> None:
        # none_as_null: Python None is SQL NULL (so ``IS NULL`` finds it), not JSON ``null``
        super().__init__(none_as_null=none_as_null)
        self.none_as_null = none_as_null

    def load_dialect_impl(self, dialect):  # noqa: ANN001, ANN201
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=self.none_as_null))
        return dialect.type_descriptor(JSON(none_as_null=self.none_as_null))


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PipelineRecord(Base):
    """A pipeline (one ``dataops.yaml``)."""

    __tablename__ = "pipelines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    project_dir: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Step(Base):
    """A named step of a pipeline."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("pipeline_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    notebook: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StepVersion(Base):
    """One promoted version of a step: the notebook content and parameters that passed the gate."""

    __tablename__ = "step_versions"
    __table_args__ = (UniqueConstraint("step_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    notebook_path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(128))
    parameters: Mapped[dict | None] = mapped_column(JSONType)
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    promoted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PipelineRun(Base):
    """One ``dataops run`` invocation (or one promotion / test gate)."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index(None, "pipeline_id", "id"), Index(None, "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str | None] = mapped_column(String(50))
    parameters: Mapped[dict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration: Mapped[float | None] = mapped_column(Float)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float)  # tells a reused pid apart
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the period this run is for (an ISO key: 2026-09-01, 2026-W36, ...); None: no partitions
    partition: Mapped[str | None] = mapped_column(String(32))


class StepRun(Base):
    """One attempt of one step inside a pipeline run (a retry is a new row, ``attempt`` + 1)."""

    __tablename__ = "step_runs"
    __table_args__ = (
        Index(None, "step_id", "id"),
        Index(None, "status", "id"),
        Index(None, "pipeline_run_id"),
        Index(None, "step_id", "partition"),
        Index(None, "step_id", "mode", "id"),  # a chart leaves out a step's test runs (0012)
        Index(None, "partition", "step_id", "mode"),  # the grid's partitions in order (0013)
        # a period's keys apart from another's, in key order (ISO keys: one length a period)
        Index(
            "ix_step_runs_step_id_partition_length",
            "step_id",
            text("length(partition)"),
            "partition",
        ),  # 0016
        # the production keys of one length, in key order, with their step (the grid's counts)
        Index(
            "ix_step_runs_mode_partition_length",
            "mode",
            text("length(partition)"),
            "partition",
            "step_id",
        ),  # 0017
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    step_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_versions.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    parameters: Mapped[dict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    notebook_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration: Mapped[float | None] = mapped_column(Float)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    partition: Mapped[str | None] = mapped_column(String(32))  # ISO key; None: no partitions


class CheckResultRow(Base):
    """One check line of one ``%%dataops_test`` suite in one step run."""

    __tablename__ = "check_results"
    # metric: a chart's newest verdict and its window's verdicts (migration 0011)
    __table_args__ = (Index(None, "step_run_id", "status"), Index(None, "metric", "step_run_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    suite: Mapped[str | None] = mapped_column(String(200))
    line: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    observed: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[str | None] = mapped_column(Text)
    metric: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str | None] = mapped_column(Text)
    # spc lines: {"chart", "rules", "baseline", "judged", "broken", "center", "lcl", "ucl"}
    spc: Mapped[dict | None] = mapped_column(JSONType(none_as_null=True))


class MetricRecord(Base):
    """One point of a metric series: the SPC input (step, metric key, value, step run, time)."""

    __tablename__ = "metrics"
    # value rides along in the index so the SPC baseline reads no table rows
    __table_args__ = (
        Index(None, "step_id", "key", "step_run_id", "value"),
        Index(None, "step_run_id"),
        # a partitioned step's chart: its partitions counted and windowed in key order (0014)
        Index(None, "step_id", "key", "partition", "suite", "step_run_id"),
        # a step's metric list: each series counted and its last point found by seeks (0015)
        Index(None, "step_id", "key", "suite", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    suite: Mapped[str | None] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(300))
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    partition: Mapped[str | None] = mapped_column(String(32))  # its step run's (never changes)


class Lineage(Base):
    """A declared input or output of a step run (a table, file or URI named in the pipeline)."""

    __tablename__ = "lineage"
    __table_args__ = (Index(None, "step_run_id"), Index(None, "name"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(Text)


# -- drift references (migration 0006) --


class ColumnProfile(Base):
    """The profile of one checked column in one step run (a drift line's reference)."""

    __tablename__ = "column_profiles"
    __table_args__ = (Index(None, "step_id", "column", "step_run_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    suite: Mapped[str | None] = mapped_column(String(200))
    column: Mapped[str] = mapped_column(String(300))
    profile: Mapped[dict] = mapped_column(JSONType())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- scheduling, alert log and retention (migration 0005) --


class ScheduledRun(Base):
    """One tick of a schedule, claimed by exactly one scheduler."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (
        UniqueConstraint("pipeline", "step", "scheduled_for"),
        Index(None, "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(200))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    scheduler_id: Mapped[int | None] = mapped_column(Integer)
    pipeline_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL")
    )
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)  # the process running the tick
    partition: Mapped[str | None] = mapped_column(String(32))  # the tick's partition key


class SchedulerProcess(Base):
    """A running (or stopped) ``dataops scheduler`` and its heartbeat."""

    __tablename__ = "schedulers"
    __table_args__ = (Index(None, "pipeline", "heartbeat_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    project_dir: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertLog(Base):
    """One alert sent (or that could not be sent) to one channel."""

    __tablename__ = "alert_log"
    __table_args__ = (Index(None, "pipeline", "id"), Index(None, "dedupe_key", unique=True))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    step: Mapped[str | None] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(Text)  # secrets removed
    pipeline_run_id: Mapped[int | None] = mapped_column(Integer)
    step_run_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    partition: Mapped[str | None] = mapped_column(String(32))  # the period of a `late` alert
    # a `late` alert's claim (one per partition and channel); None: not deduplicated
    dedupe_key: Mapped[str | None] = mapped_column(String(64))


class PrunedRun(Base):
    """A step run whose executed notebook and log were deleted by retention (its check results
    and metrics stay: they feed SPC)."""

    __tablename__ = "pruned_runs"
    step_run_id: Mapped[int] = mapped_column(
        ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True
    )
    pruned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    files: Mapped[list | None] = mapped_column(JSONType)


# What opened an incident (``incidents.kind``) and where it stands (``incidents.status``).
INCIDENT_KINDS: tuple[str, ...] = ("check", "step_failed", "spc", "late", "reported")
INCIDENT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved")


class Incident(Base):
    """One problem of one step, keyed by pipeline, step, kind and key (a check line's text, a
    metric...): failures of the same key attach to the open incident until it is resolved."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index(None, "open_key", unique=True),
        Index(None, "pipeline", "status", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    step: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)
    # sha256 of (pipeline, step, kind, key) while not resolved: one open incident per key
    open_key: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
    passes: Mapped[int] = mapped_column(Integer, default=0)  # consecutive passing runs
    opened_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_note: Mapped[str | None] = mapped_column(Text)
    resolved_step_run_id: Mapped[int | None] = mapped_column(Integer)  # the run that passed
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # blast radius: {"steps": [downstream steps], "outputs": [declared outputs]}
    affected: Mapped[dict | None] = mapped_column(JSONType)


class IncidentRun(Base):
    """A step run (and its partition) behind an incident; a reported incident may have none."""

    __tablename__ = "incident_runs"
    __table_args__ = (Index(None, "incident_id"), Index(None, "step_run_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    step_run_id: Mapped[int | None] = mapped_column(Integer)
    partition: Mapped[str | None] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SpcPhase(Base):
    """The start of a phase of one step's metric (``dataops spc rebaseline``): points at or after
    ``from_partition`` (partitioned pipelines) or ``from_step_run_id`` get a fresh baseline."""

    __tablename__ = "spc_phases"
    __table_args__ = (Index(None, "pipeline", "step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(Text)
    from_partition: Mapped[str | None] = mapped_column(String(32))
    from_step_run_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
