"""The run store: one method per question the pipeline runner, CLI, widgets and REST server ask.

Every method returns plain JSON-ready values (dicts, lists, ints, ISO-8601 UTC strings), so a
front door can serialise the answer as it is.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import sys
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.engine import (
    WRITE,
    create_store_engine,
    migrate,
    operational_error,
    resolve_store_url,
)
from jupyter_dataops.store.models import (
    ACTIVE_STATUSES,
    CHECK_STATUSES,
    FINAL_STATUSES,
    MODES,
    STATUSES,
    CheckResultRow,
    Lineage,
    Metric,
    Pipeline,
    PipelineRun,
    Step,
    StepRun,
    StepVersion,
    utcnow,
)
from jupyter_dataops.store.redact import redact_parameters

_SR = StepRun.__table__
_PR = PipelineRun.__table__
_CR = CheckResultRow.__table__
_M = Metric.__table__


def open_store(url_or_project_dir: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating as needed) the run store at a URL or of a project folder.

    A string containing ``://`` is a SQLAlchemy URL; anything else is the folder holding
    ``dataops.yaml`` and goes through ``resolve_store_url`` (``DATAOPS_STORE_URL`` wins).
    """
    target = url_or_project_dir
    if isinstance(target, str) and "://" in target:
        return Store(target)
    return Store(resolve_store_url(target or "."))


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


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (zombies count as gone)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        try:
            import psutil
        except ImportError:
            return True  # cannot tell: leave it to the staleness window
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


_OPEN_STORES: weakref.WeakSet[Store] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A forked child (a process-pool worker) must not share the parent's database connections:
    # it drops the inherited pool without closing the parent's sockets/file handles.
    for store in list(_OPEN_STORES):
        store.engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def process_started(pid: int) -> float | None:
    """When a process on this machine started (seconds since the epoch), None if unknown.

    With the pid it identifies a runner even after the pid is reused by another process.
    """
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
            return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing, no such process, access denied
        return None


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


class Store:
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
        _OPEN_STORES.add(self)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The store URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql``, ..."""
        return self.engine.dialect.name

    def _runner(self, pid: int | None, host: str | None) -> dict[str, Any]:
        """pid, host and process start time of the process running something (default: this)."""
        pid = os.getpid() if pid is None else pid
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

    # -- pipelines, steps, versions ------------------------------------------------------------

    def _pipeline_id(self, conn: Connection, pipeline: str, project_dir: str | None) -> int:
        pid = conn.scalar(select(Pipeline.id).where(Pipeline.name == pipeline))
        if pid is None:
            pid = conn.scalar(
                insert(Pipeline)
                .values(name=pipeline, project_dir=project_dir, created_at=_now())
                .returning(Pipeline.id)
            )
        elif project_dir is not None:
            conn.execute(
                update(Pipeline)
                .where(Pipeline.id == pid, Pipeline.project_dir.is_distinct_from(project_dir))
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

    def upsert_pipeline(
        self, pipeline: str, *, project_dir: str | os.PathLike | None = None
    ) -> int:
        """Create the pipeline if it is new (updating its folder otherwise); returns its id."""
        folder = str(project_dir) if project_dir is not None else None
        return self._retrying(lambda conn: self._pipeline_id(conn, pipeline, folder))

    def upsert_step(self, pipeline: str, step: str, *, notebook: str | None = None) -> int:
        """Create the step (and its pipeline) if new, updating its notebook otherwise; its id."""

        def run(conn: Connection) -> int:
            return self._step_id(conn, self._pipeline_id(conn, pipeline, None), step, notebook)

        return self._retrying(run)

    def record_step_version(
        self,
        pipeline: str,
        step: str,
        *,
        notebook_path: str | os.PathLike,
        content_hash: str,
        parameters: Mapping[str, Any] | None,
        promoted_by: str | None = None,
        promoted_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record a promoted version of a step: version 1, 2, ... per step.

        Promoting the same content and parameters again makes no new version: the latest one is
        returned with ``created`` False.
        """
        params = redact_parameters(parameters) or {}

        def run(conn: Connection) -> dict[str, Any]:
            sid = self._step_id(
                conn, self._pipeline_id(conn, pipeline, None), step, str(notebook_path)
            )
            latest = (
                conn.execute(
                    select(StepVersion)
                    .where(StepVersion.step_id == sid)
                    .order_by(StepVersion.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if (
                latest
                and latest["content_hash"] == content_hash
                and ((latest["parameters"] or {}) == params)
            ):
                return _version_dict(latest, created=False)
            values = dict(
                step_id=sid,
                version=(latest["version"] + 1) if latest else 1,
                notebook_path=str(notebook_path),
                content_hash=content_hash,
                parameters=params,
                promoted_by=promoted_by,
                promoted_at=promoted_at or _now(),
            )
            new_id = conn.scalar(insert(StepVersion).values(**values).returning(StepVersion.id))
            return _version_dict({"id": new_id, **values}, created=True)

        return self._retrying(run)

    def latest_version(self, pipeline: str, step: str) -> dict[str, Any] | None:
        """The newest promoted version of a step, or None if it was never promoted."""
        with self._read() as conn:
            row = (
                conn.execute(
                    select(StepVersion)
                    .join(Step, Step.id == StepVersion.step_id)
                    .join(Pipeline, Pipeline.id == Step.pipeline_id)
                    .where(Pipeline.name == pipeline, Step.name == step)
                    .order_by(StepVersion.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _version_dict(row) if row else None

    def list_versions(self, step: str, *, pipeline: str | None = None) -> list[dict[str, Any]]:
        """Every promoted version of a step, newest first."""
        with self._read() as conn:
            rows = (
                conn.execute(
                    select(StepVersion)
                    .where(StepVersion.step_id.in_(_step_ids(step, pipeline)))
                    .order_by(StepVersion.promoted_at.desc(), StepVersion.id.desc())
                )
                .mappings()
                .all()
            )
        return [_version_dict(r) for r in rows]

    # -- run lifecycle -------------------------------------------------------------------------

    def create_pipeline_run(
        self,
        pipeline: str,
        *,
        mode: str = "production",
        parameters: Mapping[str, Any] | None = None,
        trigger: str | None = "manual",
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        """Start recording a pipeline run (status ``running``); returns the pipeline run id.

        ``pid``/``host`` name the runner process (default: this one) so that ``mark_interrupted``
        can tell when it died.
        """
        _check_status(mode, MODES, "run mode")
        now = _now()

        def run(conn: Connection) -> int:
            return conn.scalar(
                insert(PipelineRun)
                .values(
                    pipeline_id=self._pipeline_id(conn, pipeline, None),
                    status="running",
                    mode=mode,
                    trigger=trigger,
                    parameters=redact_parameters(parameters),
                    created_at=now,
                    started_at=now,
                    heartbeat_at=now,
                    **self._runner(pid, host),
                )
                .returning(PipelineRun.id)
            )

        return self._retrying(run)

    def create_step_run(
        self,
        pipeline_run_id: int | str,
        step: str,
        *,
        attempt: int = 1,
        parameters: Mapping[str, Any] | None = None,
        status: str = "queued",
        inputs: Iterable[str] | None = None,
        outputs: Iterable[str] | None = None,
        notebook_path: str | os.PathLike | None = None,
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        """Record a step run (one attempt) of a pipeline run; returns the step run id.

        The step is created under the run's pipeline if it is new, and the run is tied to the
        step's latest promoted version. Parameters are stored redacted; ``inputs``/``outputs`` are
        the declared lineage. ``pid``/``host`` default to the pipeline run's runner.
        """
        prid = _as_id(pipeline_run_id, "pipeline run id")
        _check_status(status, STATUSES, "run status")
        now = _now()

        def run(conn: Connection) -> int:
            prun = conn.execute(
                select(
                    _PR.c.pipeline_id, _PR.c.mode, _PR.c.pid, _PR.c.host, _PR.c.pid_started
                ).where(_PR.c.id == prid)
            ).first()
            if prun is None:
                raise StoreError(
                    f"There is no pipeline run {prid} in the run store {self.display_url}."
                )
            sid = self._step_id(conn, prun.pipeline_id, step)
            version_id = conn.scalar(
                select(StepVersion.id)
                .where(StepVersion.step_id == sid)
                .order_by(StepVersion.version.desc())
                .limit(1)
            )
            started = now if status == "running" else None
            srid = conn.scalar(
                insert(StepRun)
                .values(
                    pipeline_run_id=prid,
                    step_id=sid,
                    step_version_id=version_id,
                    status=status,
                    mode=prun.mode,
                    attempt=attempt,
                    parameters=redact_parameters(parameters),
                    notebook_path=str(notebook_path) if notebook_path is not None else None,
                    created_at=now,
                    started_at=started,
                    updated_at=now,
                    **(
                        dict(pid=prun.pid, host=prun.host, pid_started=prun.pid_started)
                        if pid is None
                        else self._runner(pid, host)
                    ),
                )
                .returning(StepRun.id)
            )
            lineage = [("input", str(n)) for n in inputs or ()] + [
                ("output", str(n)) for n in outputs or ()
            ]
            if lineage:
                conn.execute(
                    insert(Lineage),
                    [{"step_run_id": srid, "direction": d, "name": n} for d, n in lineage],
                )
            conn.execute(update(_PR).where(_PR.c.id == prid).values(heartbeat_at=now))
            return srid

        return self._retrying(run)

    def _step_run_or_fail(self, conn: Connection, srid: int):  # noqa: ANN202
        row = conn.execute(
            select(
                _SR.c.id, _SR.c.pipeline_run_id, _SR.c.step_id, _SR.c.started_at, _SR.c.status
            ).where(_SR.c.id == srid)
        ).first()
        if row is None:
            raise StoreError(f"There is no step run {srid} in the run store {self.display_url}.")
        return row

    def start_step_run(
        self,
        step_run_id: int | str,
        *,
        pid: int | None = None,
        host: str | None = None,
        notebook_path: str | os.PathLike | None = None,
    ) -> None:
        """Mark a step run ``running`` now, executed by process ``pid`` on ``host`` (default: this)."""
        srid = _as_id(step_run_id, "step run id")
        now = _now()
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            values: dict[str, Any] = dict(
                status="running",
                started_at=now,
                updated_at=now,
                **self._runner(pid, host),
            )
            if notebook_path is not None:
                values["notebook_path"] = str(notebook_path)
            conn.execute(update(_SR).where(_SR.c.id == srid).values(**values))
            conn.execute(
                update(_PR).where(_PR.c.id == row.pipeline_run_id).values(heartbeat_at=now)
            )

    def finish_step_run(
        self,
        step_run_id: int | str,
        status: str,
        *,
        error: str | None = None,
        skip_reason: str | None = None,
        notebook_path: str | os.PathLike | None = None,
    ) -> None:
        """Close a step run as ``success``, ``failed``, ``skipped`` or ``interrupted``.

        Sets the end time and the duration (None when it never started); ``error`` is a short
        summary, required for ``failed`` and ``interrupted`` (a failure nobody can read is a
        bug); ``skip_reason`` why it did not run.
        """
        srid = _as_id(step_run_id, "step run id")
        _check_status(status, FINAL_STATUSES, "final run status")
        if status in ("failed", "interrupted") and not (error or "").strip():
            raise StoreError(
                f"finish_step_run({srid}, {status!r}) needs an error summary: a {status} run must "
                "say why (the runner passes the failing cell, check or signal)."
            )
        now = _now()
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            started = row.started_at
            values: dict[str, Any] = dict(
                status=status,
                ended_at=now,
                updated_at=now,
                duration=(now - started).total_seconds() if started else None,
            )
            if error is not None:
                values["error"] = error
            if skip_reason is not None:
                values["skip_reason"] = skip_reason
            if notebook_path is not None:
                values["notebook_path"] = str(notebook_path)
            conn.execute(update(_SR).where(_SR.c.id == srid).values(**values))
            conn.execute(
                update(_PR).where(_PR.c.id == row.pipeline_run_id).values(heartbeat_at=now)
            )

    def heartbeat(self, pipeline_run_id: int | str) -> None:
        """Tell ``mark_interrupted`` on other hosts that this pipeline run's runner is alive."""
        prid = _as_id(pipeline_run_id, "pipeline run id")
        with self._write() as conn:
            conn.execute(update(_PR).where(_PR.c.id == prid).values(heartbeat_at=_now()))

    def finish_pipeline_run(self, pipeline_run_id: int | str, status: str | None = None) -> str:
        """Close a pipeline run; returns its final status.

        With ``status`` None it is derived from the last attempt of each step: ``failed`` if any
        failed, was skipped or interrupted, else ``success``.
        """
        prid = _as_id(pipeline_run_id, "pipeline run id")
        if status is not None:
            _check_status(status, FINAL_STATUSES, "final run status")
        now = _now()
        with self._write() as conn:
            prun = conn.execute(select(_PR.c.created_at).where(_PR.c.id == prid)).first()
            if prun is None:
                raise StoreError(
                    f"There is no pipeline run {prid} in the run store {self.display_url}."
                )
            if status is None:
                last = (
                    select(func.max(_SR.c.id))
                    .where(_SR.c.pipeline_run_id == prid)
                    .group_by(_SR.c.step_id)
                )
                finals = conn.scalars(select(_SR.c.status).where(_SR.c.id.in_(last))).all()
                bad = {"failed", "skipped", "interrupted"}
                status = "failed" if any(s in bad for s in finals) else "success"
            conn.execute(
                update(_PR)
                .where(_PR.c.id == prid)
                .values(
                    status=status,
                    ended_at=now,
                    heartbeat_at=now,
                    duration=(now - prun.created_at).total_seconds(),
                )
            )
        return status

    def record_suite(self, step_run_id: int | str, suite_result: Any) -> int:
        """Store one ``%%dataops_test`` result under a step run: a row per check line and a point
        per metric, in one transaction. Returns the number of check rows written.

        ``suite_result`` is a ``SuiteResult`` or its ``to_dict()``; callable once per cell.
        """
        srid = _as_id(step_run_id, "step run id")
        suite = _field(suite_result, "name")
        results = list(_field(suite_result, "results", None) or [])
        metrics = _field(suite_result, "metrics", None) or {}
        rows = []
        for r in results:
            status = str(_field(r, "status", "error"))
            rows.append(
                {
                    "step_run_id": srid,
                    "suite": suite,
                    "line": _field(r, "line"),
                    "source": _field(r, "source"),
                    "status": status if status in CHECK_STATUSES else "error",
                    "observed": _number(_field(r, "observed")),
                    "threshold": _text(_field(r, "threshold")),
                    "metric": _field(r, "metric"),
                    "message": _text(_field(r, "message")),
                }
            )
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            if rows:
                conn.execute(insert(CheckResultRow), rows)
            self._insert_metrics(conn, row.step_id, srid, suite, metrics)
            conn.execute(update(_SR).where(_SR.c.id == srid).values(updated_at=_now()))
        return len(rows)

    def record_metric(
        self, step_run_id: int | str, metric_key: str, value: float, *, suite: str | None = None
    ) -> None:
        """Add one metric point to a step run (non-finite values are ignored)."""
        srid = _as_id(step_run_id, "step run id")
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            self._insert_metrics(conn, row.step_id, srid, suite, {metric_key: value})

    @staticmethod
    def _insert_metrics(
        conn: Connection, step_id: int, srid: int, suite: str | None, metrics: Mapping
    ) -> None:
        now = _now()
        points = [
            {
                "step_run_id": srid,
                "step_id": step_id,
                "suite": suite,
                "key": str(k),
                "value": v,
                "recorded_at": now,
            }
            for k, raw in metrics.items()
            if (v := _number(raw)) is not None
        ]
        if points:
            conn.execute(insert(Metric), points)

    def mark_interrupted(self, *, stale_after: timedelta = timedelta(hours=12)) -> list[int]:
        """Mark runs left ``queued``/``running`` by a runner that is gone as ``interrupted``.

        Gone: on this host, its pid no longer runs (or is a zombie); on another host, nothing
        was heard from the run for ``stale_after``. Returns the step run ids marked.
        """
        now = _now()
        with self._read() as conn:
            steps = conn.execute(
                select(
                    _SR.c.id,
                    _SR.c.pid,
                    _SR.c.pid_started,
                    _SR.c.host,
                    _SR.c.updated_at,
                    _SR.c.created_at,
                    _SR.c.started_at,
                    _PR.c.heartbeat_at,
                )
                .join(_PR, _PR.c.id == _SR.c.pipeline_run_id)
                .where(_SR.c.status.in_(ACTIVE_STATUSES))
            ).all()
            pipes = conn.execute(
                select(
                    _PR.c.id,
                    _PR.c.pid,
                    _PR.c.pid_started,
                    _PR.c.host,
                    _PR.c.heartbeat_at,
                    _PR.c.created_at,
                ).where(_PR.c.status.in_(ACTIVE_STATUSES))
            ).all()

        def gone(
            pid: int | None, started: float | None, host: str | None, *seen: datetime | None
        ) -> str | None:
            if host == self.host and pid is not None:
                if not pid_alive(pid):
                    return f"runner process {pid} on {host} is gone"
                now_started = process_started(pid)
                known = started is not None and now_started is not None
                if known and abs(now_started - started) > 1.0:
                    return f"runner process {pid} on {host} is gone (its pid was reused)"
                return None
            last = max((t for t in seen if t is not None), default=None)
            if last is None or now - last > stale_after:
                return f"no news from runner process {pid} on {host} since {_iso(last)}"
            return None

        dead_steps = [
            (r.id, r.started_at, why)
            for r in steps
            if (
                why := gone(
                    r.pid, r.pid_started, r.host, r.updated_at, r.created_at, r.heartbeat_at
                )
            )
        ]
        dead_pipes = [
            (r.id, r.created_at, why)
            for r in pipes
            if (why := gone(r.pid, r.pid_started, r.host, r.heartbeat_at, r.created_at))
        ]
        if not dead_steps and not dead_pipes:
            return []
        marked: list[int] = []
        with self._write() as conn:
            for srid, started, why in dead_steps:
                res = conn.execute(
                    update(_SR)
                    .where(_SR.c.id == srid, _SR.c.status.in_(ACTIVE_STATUSES))
                    .values(
                        status="interrupted",
                        ended_at=now,
                        updated_at=now,
                        duration=(now - started).total_seconds() if started else None,
                        error=f"Interrupted: {why}.",
                    )
                )
                if res.rowcount:
                    marked.append(srid)
            for prid, created, why in dead_pipes:
                conn.execute(
                    update(_PR)
                    .where(_PR.c.id == prid, _PR.c.status.in_(ACTIVE_STATUSES))
                    .values(
                        status="interrupted",
                        ended_at=now,
                        duration=(now - created).total_seconds(),
                        error=f"Interrupted: {why}.",
                    )
                )
        return marked

    # -- reads ----------------------------------------------------------------------------------

    def _resolve_steps(self, step: str, pipeline: str | None) -> list[int]:
        """Step ids first, so metric queries read the (step_id, key, step_run_id) index in order
        and stop at ``limit`` instead of sorting a step's whole history."""
        with self._read() as conn:
            return list(conn.scalars(_step_ids(step, pipeline)).all())

    def metric_history(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        limit: int | None = None,
        exclude_step_run: int | str | None = None,
    ) -> list[float]:
        """The SPC baseline: a metric's values in earlier successful production runs of a step,
        oldest first. Unfinished and failed runs (so the current run) never count; ``limit``
        keeps the newest points."""
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return []
        # EXISTS (not a join) keeps the planner on the (step_id, key, step_run_id) index instead
        # of walking every successful run.
        successful = (
            select(_SR.c.id)
            .where(
                _SR.c.id == _M.c.step_run_id, _SR.c.status == "success", _SR.c.mode == "production"
            )
            .exists()
        )
        q = (
            select(_M.c.value)
            .where(_M.c.step_id.in_(ids), _M.c.key == metric_key, successful)
            .order_by(_M.c.step_run_id.desc(), _M.c.id.desc())
        )
        if suite is not None:
            q = q.where(_M.c.suite == suite)
        if exclude_step_run is not None:
            q = q.where(_M.c.step_run_id != _as_id(exclude_step_run, "step run id"))
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            values = conn.scalars(q).all()
        return [float(v) for v in reversed(values)]

    def metric_series(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """A metric's points over every production run of a step, oldest first, for charts.

        Each point: ``step_run_id``, ``pipeline_run_id``, ``time``, ``value``, ``status``,
        ``attempt``, ``suite``. Failed runs are included (a failing point is often the story).
        """
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return []
        q = (
            select(
                _SR.c.id,
                _SR.c.pipeline_run_id,
                _SR.c.started_at,
                _M.c.recorded_at,
                _M.c.value,
                _SR.c.status,
                _SR.c.attempt,
                _M.c.suite,
            )
            .join(_SR, _SR.c.id == _M.c.step_run_id)
            .where(
                _M.c.step_id.in_(ids),
                _M.c.key == metric_key,
                _SR.c.mode == "production",
            )
            .order_by(_M.c.step_run_id.desc(), _M.c.id.desc())
        )
        if suite is not None:
            q = q.where(_M.c.suite == suite)
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "step_run_id": r.id,
                "pipeline_run_id": r.pipeline_run_id,
                "time": _iso(r.started_at or r.recorded_at),
                "value": float(r.value),
                "status": r.status,
                "attempt": r.attempt,
                "suite": r.suite,
            }
            for r in reversed(rows)
        ]

    def list_metrics(self, step: str, *, pipeline: str | None = None) -> list[dict[str, Any]]:
        """The metric series recorded for a step: key, suite, number of points, last value/time."""
        ids = self._resolve_steps(step, pipeline)
        with self._read() as conn:
            groups = conn.execute(
                select(
                    _M.c.key,
                    _M.c.suite,
                    func.count().label("points"),
                    func.max(_M.c.id).label("last_id"),
                )
                .where(_M.c.step_id.in_(ids))
                .group_by(_M.c.key, _M.c.suite)
                .order_by(_M.c.key, _M.c.suite)
            ).all()
            last = (
                {
                    r.id: r
                    for r in conn.execute(
                        select(_M.c.id, _M.c.value, _M.c.recorded_at).where(
                            _M.c.id.in_([g.last_id for g in groups])
                        )
                    ).all()
                }
                if groups
                else {}
            )
        return [
            {
                "metric": g.key,
                "suite": g.suite,
                "points": g.points,
                "last_value": float(last[g.last_id].value),
                "last_time": _iso(last[g.last_id].recorded_at),
            }
            for g in groups
        ]

    def _run_filters(
        self,
        step: str | None,
        status: str | Iterable[str] | None,
        pipeline: str | None,
        pipeline_run_id: int | str | None,
        mode: str | None,
    ) -> list:
        where = []
        if step is not None:
            where.append(_SR.c.step_id.in_(_step_ids(step, pipeline)))
        elif pipeline is not None:
            where.append(
                _SR.c.step_id.in_(
                    select(Step.id)
                    .join(Pipeline, Pipeline.id == Step.pipeline_id)
                    .where(Pipeline.name == pipeline)
                )
            )
        statuses = _statuses(status)
        if statuses is not None:
            where.append(_SR.c.status.in_(statuses))
        if pipeline_run_id is not None:
            where.append(_SR.c.pipeline_run_id == _as_id(pipeline_run_id, "pipeline run id"))
        if mode is not None:
            where.append(_SR.c.mode == _check_status(mode, MODES, "run mode"))
        return where

    def list_runs(
        self,
        step: str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int | None = 50,
        offset: int = 0,
        *,
        pipeline: str | None = None,
        pipeline_run_id: int | str | None = None,
        mode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Step runs, newest first, each with its check counts (one query for the whole page)."""
        if limit is not None and limit < 0 or offset < 0:
            raise StoreError("limit and offset must not be negative.")
        where = self._run_filters(step, status, pipeline, pipeline_run_id, mode)
        page = (
            select(_SR)
            .where(and_(True, *where))
            .order_by(_SR.c.id.desc())
            .limit(limit)
            .offset(offset)
            .cte("page")
        )
        with self._read() as conn:
            rows = conn.execute(_rows_with_counts(page).order_by(page.c.id.desc())).mappings().all()
        return [_run_dict(r) for r in rows]

    def count_runs(
        self,
        step: str | None = None,
        status: str | Iterable[str] | None = None,
        *,
        pipeline: str | None = None,
        pipeline_run_id: int | str | None = None,
        mode: str | None = None,
    ) -> int:
        """How many step runs ``list_runs`` would page through with these filters."""
        where = self._run_filters(step, status, pipeline, pipeline_run_id, mode)
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(_SR).where(and_(True, *where))))

    def get_run(self, step_run_id: int | str) -> dict[str, Any] | None:
        """One step run with everything about it (checks, metrics, parameters, error, notebook,
        lineage, promoted version); None if there is no such run."""
        srid = _as_id(step_run_id, "step run id")
        page = select(_SR).where(_SR.c.id == srid).cte("page")
        with self._read() as conn:
            row = conn.execute(_rows_with_counts(page)).mappings().first()
            if row is None:
                return None
            checks = (
                conn.execute(select(_CR).where(_CR.c.step_run_id == srid).order_by(_CR.c.id))
                .mappings()
                .all()
            )
            metrics = conn.execute(
                select(_M.c.suite, _M.c.key, _M.c.value)
                .where(_M.c.step_run_id == srid)
                .order_by(_M.c.id)
            ).all()
            lineage = conn.execute(
                select(Lineage.direction, Lineage.name)
                .where(Lineage.step_run_id == srid)
                .order_by(Lineage.id)
            ).all()
            version = None
            if row["step_version_id"] is not None:
                v = (
                    conn.execute(
                        select(StepVersion).where(StepVersion.id == row["step_version_id"])
                    )
                    .mappings()
                    .first()
                )
                version = _version_dict(v) if v else None
        out = _run_dict(row)
        out.update(
            parameters=row["parameters"],
            error=row["error"],
            skip_reason=row["skip_reason"],
            notebook_path=row["notebook_path"],
            pid=row["pid"],
            host=row["host"],
            inputs=[n for d, n in lineage if d == "input"],
            outputs=[n for d, n in lineage if d == "output"],
            version=version,
            check_results=[
                {
                    k: c[k]
                    for k in (
                        "suite",
                        "line",
                        "source",
                        "status",
                        "observed",
                        "threshold",
                        "metric",
                        "message",
                    )
                }
                for c in checks
            ],
            metrics=[{"suite": m.suite, "metric": m.key, "value": float(m.value)} for m in metrics],
        )
        return out

    def get_pipeline_run(self, pipeline_run_id: int | str) -> dict[str, Any] | None:
        """One pipeline run with its step runs (RunRows, oldest first); None if unknown."""
        prid = _as_id(pipeline_run_id, "pipeline run id")
        with self._read() as conn:
            row = conn.execute(_pipeline_run_query().where(_PR.c.id == prid)).mappings().first()
            if row is None:
                return None
            page = select(_SR).where(_SR.c.pipeline_run_id == prid).cte("page")
            steps = conn.execute(_rows_with_counts(page).order_by(page.c.id)).mappings().all()
        out = _pipeline_run_dict(row)
        out["steps"] = [_run_dict(s) for s in steps]
        return out

    def list_pipeline_runs(
        self, *, pipeline: str | None = None, limit: int | None = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Pipeline runs, newest first (without their step runs)."""
        q = _pipeline_run_query().order_by(_PR.c.id.desc()).limit(limit).offset(offset)
        if pipeline is not None:
            q = q.where(Pipeline.name == pipeline)
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        return [_pipeline_run_dict(r) for r in rows]

    def list_pipelines(self) -> list[dict[str, Any]]:
        """Pipelines with their steps, each step's latest promoted version and last run."""
        # correlated max() per step: an index seek each, not a scan of the whole run history
        latest_v = (
            select(func.max(StepVersion.id)).where(StepVersion.step_id == Step.id).scalar_subquery()
        )
        last_run = select(func.max(_SR.c.id)).where(_SR.c.step_id == Step.id).scalar_subquery()
        with self._read() as conn:
            pipes = conn.execute(select(Pipeline).order_by(Pipeline.name)).mappings().all()
            steps = (
                conn.execute(
                    select(Step, latest_v.label("latest_v"), last_run.label("last_run")).order_by(
                        Step.id
                    )
                )
                .mappings()
                .all()
            )
            versions = {
                v["step_id"]: v
                for v in conn.execute(
                    select(StepVersion).where(
                        StepVersion.id.in_([s["latest_v"] for s in steps if s["latest_v"]])
                    )
                )
                .mappings()
                .all()
            }
            runs = {
                r.step_id: r
                for r in conn.execute(
                    select(
                        _SR.c.id, _SR.c.step_id, _SR.c.status, _SR.c.started_at, _SR.c.ended_at
                    ).where(_SR.c.id.in_([s["last_run"] for s in steps if s["last_run"]]))
                ).all()
            }
        by_pipe: dict[int, list[dict[str, Any]]] = {p["id"]: [] for p in pipes}
        for s in steps:
            run = runs.get(s["id"])
            v = versions.get(s["id"])
            by_pipe[s["pipeline_id"]].append(
                {
                    "name": s["name"],
                    "notebook": s["notebook"],
                    "latest_version": _version_dict(v) if v else None,
                    "last_run": {
                        "id": run.id,
                        "status": run.status,
                        "started_at": _iso(run.started_at),
                        "ended_at": _iso(run.ended_at),
                    }
                    if run
                    else None,
                }
            )
        return [
            {"name": p["name"], "project_dir": p["project_dir"], "steps": by_pipe[p["id"]]}
            for p in pipes
        ]


# -- query pieces and row shapes ---------------------------------------------------------------


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _step_ids(step: str, pipeline: str | None):  # noqa: ANN202
    q = select(Step.id).where(Step.name == step)
    if pipeline is not None:
        q = q.join(Pipeline, Pipeline.id == Step.pipeline_id).where(Pipeline.name == pipeline)
    return q


def _rows_with_counts(page):  # noqa: ANN001, ANN202
    """Join a page of step runs (a CTE) with names and per-status check counts."""
    counts = (
        select(
            _CR.c.step_run_id,
            *[
                func.sum(case((_CR.c.status == s, 1), else_=0)).label(f"n_{s}")
                for s in CHECK_STATUSES
            ],
        )
        .where(_CR.c.step_run_id.in_(select(page.c.id)))
        .group_by(_CR.c.step_run_id)
        .subquery()
    )
    return (
        select(
            page,
            Step.name.label("step"),
            Pipeline.name.label("pipeline"),
            *[func.coalesce(counts.c[f"n_{s}"], 0).label(f"n_{s}") for s in CHECK_STATUSES],
        )
        .join(Step, Step.id == page.c.step_id)
        .join(Pipeline, Pipeline.id == Step.pipeline_id)
        .outerjoin(counts, counts.c.step_run_id == page.c.id)
    )


def _run_dict(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "pipeline_run_id": r["pipeline_run_id"],
        "pipeline": r["pipeline"],
        "step": r["step"],
        "status": r["status"],
        "mode": r["mode"],
        "attempt": r["attempt"],
        "created_at": _iso(r["created_at"]),
        "started_at": _iso(r["started_at"]),
        "ended_at": _iso(r["ended_at"]),
        "duration": r["duration"],
        "checks": {s: int(r[f"n_{s}"]) for s in CHECK_STATUSES},
    }


def _pipeline_run_query():  # noqa: ANN202
    return select(_PR, Pipeline.name.label("pipeline")).join(
        Pipeline, Pipeline.id == _PR.c.pipeline_id
    )


def _pipeline_run_dict(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "pipeline": r["pipeline"],
        "status": r["status"],
        "mode": r["mode"],
        "trigger": r["trigger"],
        "parameters": r["parameters"],
        "error": r["error"],
        "created_at": _iso(r["created_at"]),
        "started_at": _iso(r["started_at"]),
        "ended_at": _iso(r["ended_at"]),
        "duration": r["duration"],
        "pid": r["pid"],
        "host": r["host"],
    }


def _version_dict(v: Mapping[str, Any], created: bool | None = None) -> dict[str, Any]:
    out = {
        "version": v["version"],
        "notebook_path": v["notebook_path"],
        "content_hash": v["content_hash"],
        "parameters": v["parameters"],
        "promoted_by": v["promoted_by"],
        "promoted_at": _iso(v["promoted_at"]),
    }
    if created is not None:
        out["created"] = created
    return out


__all__ = ["STATUSES", "Store", "open_store", "pid_alive"]
