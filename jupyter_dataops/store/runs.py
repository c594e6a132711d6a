"""The run lifecycle: create, start and finish pipeline and step runs; heartbeats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import _PR, _SR, StoreBase, _as_id, _check_status, _now
from jupyter_dataops.store.models import (
    FINAL_STATUSES,
    MODES,
    STATUSES,
    Lineage,
    PipelineRun,
    StepRun,
    StepVersion,
)
from jupyter_dataops.store.redact import redact_parameters


class RunsMixin(StoreBase):
    """Writes that move a run through queued -> running -> success/failed/skipped/interrupted."""

    def create_pipeline_run(
        self,
        pipeline: str,
        *,
        mode: str = "production",
        parameters: Mapping[str, Any] | None = None,
        trigger: str | None = "manual",
        pid: int | None = None,
        host: str | None = None,
        partition: str | None = None,
    ) -> int:
        """Start recording a pipeline run (status ``running``); returns the pipeline run id.

        ``pid``/``host`` name the runner process (default: this one) so that ``mark_interrupted``
        can tell when it died. ``partition``: the period the run is for (its step runs inherit it).
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
                    partition=partition,
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
        promoted: bool = True,
    ) -> int:
        """Record a step run (one attempt) of a pipeline run; returns the step run id.

        The step is created under the run's pipeline if it is new, and the run is tied to the
        step's latest promoted version; ``promoted=False`` (``dataops run --unpromoted``: the
        working copy ran) ties it to no version, and its rows say ``unpromoted``. Parameters are
        stored redacted; ``inputs``/``outputs`` are the declared lineage. ``pid``/``host`` default to the pipeline run's runner.
        """
        prid = _as_id(pipeline_run_id, "pipeline run id")
        _check_status(status, STATUSES, "run status")
        now = _now()

        def run(conn: Connection) -> int:
            prun = conn.execute(
                select(
                    _PR.c.pipeline_id,
                    _PR.c.mode,
                    _PR.c.pid,
                    _PR.c.host,
                    _PR.c.pid_started,
                    _PR.c.partition,
                ).where(_PR.c.id == prid)
            ).first()
            if prun is None:
                raise StoreError(
                    f"There is no pipeline run {prid} in the run store {self.display_url}."
                )
            sid = self._step_id(conn, prun.pipeline_id, step)
            version_id = (
                conn.scalar(
                    select(StepVersion.id)
                    .where(StepVersion.step_id == sid)
                    .order_by(StepVersion.version.desc())
                    .limit(1)
                )
                if promoted
                else None
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
                    partition=prun.partition,
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
