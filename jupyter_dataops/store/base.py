"""The store's plumbing: the engine, read/write transactions, retries and id helpers.

``StoreBase`` is the root of every concern mixin (catalogue, runs, results, queries, maintenance,
profiles, scheduling, alert log, pruning, ...); ``api.Store`` composes them. A new concern is a
new mixin module over ``StoreBase`` plus its tables in ``models.py`` and a migration.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ColumnElement, Connection, Exists, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.engine import WRITE, create_store_engine, migrate, operational_error
from jupyter_dataops.store.generation import GenerationProbe
from jupyter_dataops.store.models import (
    STATUSES,
    CheckResultRow,
    MetricRecord,
    PipelineRecord,
    PipelineRun,
    Step,
    StepRun,
    utcnow,
)
from jupyter_dataops.store.processes import process_started

_SR = StepRun.__table__
_PR = PipelineRun.__table__
_CR = CheckResultRow.__table__
_M = MetricRecord.__table__

#: the process recorded as the runner of what this process runs (None: this one); a command
#: forked from the project's kernel template names the ``dataops`` process it runs for
#: (``pipeline/execution/warm_command.py``), the process a user would stop
RUNNER_PID: int | None = None


def _now() -> datetime:
    return utcnow()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _as_id(value: int | str, what: str = "run id") -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise StoreError(f"{what} must be a whole number, got {value!r}.") from None
    if out <= 0:
        raise StoreError(f"{what} must be a positive whole number, got {value!r}.")
    return out


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (None, text, NaN, infinity)."""
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _check_status(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise StoreError(f"Unknown {what} {value!r}; expected one of: {', '.join(allowed)}.")
    return value


def _statuses(status: str | Iterable[str] | None) -> list[str] | None:
    if status is None:
        return None
    values = [status] if isinstance(status, str) else list(status)
    return [_check_status(s, STATUSES, "run status") for s in values]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _successful_production(step_run_id: ColumnElement[int]) -> Exists:
    """EXISTS: the step run ``step_run_id`` (a column) succeeded in production, the only runs
    an SPC baseline or a drift reference reads (failed runs and test-mode gate runs never do).

    EXISTS (not a join) keeps the planner on the (step_id, key, step_run_id) index instead of
    walking every successful run."""
    return (
        select(_SR.c.id)
        .where(_SR.c.id == step_run_id, _SR.c.status == "success", _SR.c.mode == "production")
        .exists()
    )


def _step_ids(step: str, pipeline: str | None):  # noqa: ANN202
    q = select(Step.id).where(Step.name == step)
    if pipeline is not None:
        q = q.join(PipelineRecord, PipelineRecord.id == Step.pipeline_id).where(
            PipelineRecord.name == pipeline
        )
    return q


_OPEN_STORES: weakref.WeakSet[StoreBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A forked child (a process-pool worker) must not share the parent's database connections:
    # it drops the inherited pool without closing the parent's sockets/file handles.
    for store in list(_OPEN_STORES):
        store.engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class StoreBase:
    """A run store at one SQLAlchemy URL. Open it with ``open_store``; close it (or use ``with``).

    Safe to share between threads; a forked child process reconnects on first use.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        try:
            migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.host = socket.gethostname()
        self._generation = GenerationProbe(self.engine)
        # answers kept while ``generation()`` stays the same (the grid's key counts, grid.py)
        self._kept: dict[Any, Any] = {}
        self._kept_lock = threading.Lock()
        _OPEN_STORES.add(self)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The store URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r})"

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self._generation.close()
        self.engine.dispose()

    def generation(self) -> str | None:
        """A value that changes whenever anything is committed to the store (by any process);
        None when the database cannot tell (then nothing may be kept). See ``generation``."""
        try:
            return self._generation()
        except OperationalError as exc:
            raise operational_error("read", self.display_url, exc) from None

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql``, ..."""
        return self.engine.dialect.name

    def _runner(self, pid: int | None, host: str | None) -> dict[str, Any]:
        """pid, host and process start time of the process running something (default: this)."""
        pid = (RUNNER_PID or os.getpid()) if pid is None else pid
        host = host or self.host
        started = process_started(pid) if host == self.host else None
        return {"pid": pid, "host": host, "pid_started": started}

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise operational_error("write to", self.display_url, exc) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                try:
                    yield conn
                finally:
                    conn.rollback()
        except OperationalError as exc:
            raise operational_error("read", self.display_url, exc) from None

    def _retrying(self, fn, attempts: int = 5):  # noqa: ANN001, ANN202
        """Run a write that may lose a unique-key race (server databases) a few times."""
        for i in range(attempts):
            try:
                with self._write() as conn:
                    return fn(conn)
            except IntegrityError:
                if i == attempts - 1:
                    raise

    # -- ids shared by every concern ------------------------------------------------------------

    def _pipeline_id(self, conn: Connection, pipeline: str, project_dir: str | None) -> int:
        pid = conn.scalar(select(PipelineRecord.id).where(PipelineRecord.name == pipeline))
        if pid is None:
            pid = conn.scalar(
                insert(PipelineRecord)
                .values(name=pipeline, project_dir=project_dir, created_at=_now())
                .returning(PipelineRecord.id)
            )
        elif project_dir is not None:
            conn.execute(
                update(PipelineRecord)
                .where(
                    PipelineRecord.id == pid,
                    PipelineRecord.project_dir.is_distinct_from(project_dir),
                )
                .values(project_dir=project_dir)
            )
        return pid

    def _step_id(
        self, conn: Connection, pipeline_id: int, step: str, notebook: str | None = None
    ) -> int:
        sid = conn.scalar(select(Step.id).where(Step.pipeline_id == pipeline_id, Step.name == step))
        if sid is None:
            sid = conn.scalar(
                insert(Step)
                .values(pipeline_id=pipeline_id, name=step, notebook=notebook, created_at=_now())
                .returning(Step.id)
            )
        elif notebook is not None:
            conn.execute(
                update(Step)
                .where(Step.id == sid, Step.notebook.is_distinct_from(notebook))
                .values(notebook=notebook)
            )
        return sid

    def _step_run_or_fail(self, conn: Connection, srid: int):  # noqa: ANN202
        row = conn.execute(
            select(
                _SR.c.id,
                _SR.c.pipeline_run_id,
                _SR.c.step_id,
                _SR.c.started_at,
                _SR.c.status,
                _SR.c.partition,
            ).where(_SR.c.id == srid)
        ).first()
        if row is None:
            raise StoreError(f"There is no step run {srid} in the run store {self.display_url}.")
        return row

    def _resolve_steps(self, step: str, pipeline: str | None) -> list[int]:
        """Step ids first, so metric queries read the (step_id, key, step_run_id) index in order
        and stop at ``limit`` instead of sorting a step's whole history."""
        with self._read() as conn:
            return list(conn.scalars(_step_ids(step, pipeline)).all())
