"""Scheduling: exactly-once claims of scheduled runs (a schedule's ticks) and scheduler heartbeats.

A scheduled run is claimed by inserting its key (pipeline, step, scheduled time) under a unique
constraint: of several schedulers on one store, exactly one insert succeeds (SQLite serialises
writers with BEGIN IMMEDIATE; PostgreSQL's unique index refuses the second). The claim row then
tells what became of that tick: ``started`` (with its pipeline run), ``skipped`` (and why),
``failed`` (the run could not start) or ``interrupted`` (its scheduler died before starting it).
The tables (``scheduled_runs``, ``schedulers``) are in ``models.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import _PR, _SR, StoreBase, _as_id, _iso, _now
from jupyter_dataops.store.models import (
    ACTIVE_STATUSES,
    PipelineRecord,
    ScheduledRun,
    SchedulerProcess,
    Step,
)
from jupyter_dataops.store.processes import pid_alive, process_started

_CL = ScheduledRun.__table__
_SCH = SchedulerProcess.__table__


def _claim_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "pipeline": r.pipeline,
        "step": r.step,
        "scheduled_for": _iso(r.scheduled_for),
        "status": r.status,
        "reason": r.reason,
        "scheduler_id": r.scheduler_id,
        "pipeline_run_id": r.pipeline_run_id,
        "claimed_at": _iso(r.claimed_at),
        "started_at": _iso(r.started_at),
        "host": r.host,
        "pid": r.pid,
        "partition": r.partition,
    }


class SchedulingMixin(StoreBase):
    """Claims of scheduled runs and scheduler liveness."""

    # -- exactly-once claims ------------------------------------------------------------------

    def claim_scheduled_run(
        self,
        pipeline: str,
        step: str,
        scheduled_for: datetime,
        *,
        scheduler_id: int | None = None,
        partition: str | None = None,
    ) -> int | None:
        """Take the tick ``scheduled_for`` of ``pipeline``/``step`` (for ``partition``, the period
        it processes); returns the claim id, or None when another scheduler (or an earlier life
        of this one) already took it."""
        if scheduled_for.tzinfo is None:
            raise StoreError("scheduled_for must be a timezone-aware datetime.")
        try:
            with self._write() as conn:
                return conn.scalar(
                    insert(_CL)
                    .values(
                        pipeline=pipeline,
                        step=step,
                        scheduled_for=scheduled_for,
                        status="claimed",
                        scheduler_id=scheduler_id,
                        claimed_at=_now(),
                        host=self.host,  # pid: the run's process, set when it starts
                        partition=partition,
                    )
                    .returning(_CL.c.id)
                )
        except IntegrityError:
            return None

    def start_scheduled_run(self, claim_id: int, pipeline_run_id: int) -> None:
        """The claimed tick became pipeline run ``pipeline_run_id``."""
        with self._write() as conn:
            conn.execute(
                update(_CL)
                .where(_CL.c.id == _as_id(claim_id, "claim id"))
                .values(status="started", pipeline_run_id=pipeline_run_id, started_at=_now())
            )

    def close_scheduled_run(self, claim_id: int, status: str, reason: str) -> None:
        """A claimed tick that did not start a run: ``skipped``, ``failed`` or ``interrupted``."""
        if status not in ("skipped", "failed", "interrupted"):
            raise StoreError(
                f"Unknown claim status {status!r}; expected skipped|failed|interrupted."
            )
        with self._write() as conn:
            conn.execute(
                update(_CL)
                .where(_CL.c.id == _as_id(claim_id, "claim id"), _CL.c.status == "claimed")
                .values(status=status, reason=reason)
            )

    def set_claim_runner(self, claim_ids: list[int], pid: int) -> None:
        """The process that runs these claimed ticks (so its pipeline run can be found even if
        it dies before reporting it)."""
        with self._write() as conn:
            conn.execute(
                update(_CL).where(_CL.c.id.in_([int(i) for i in claim_ids])).values(pid=pid)
            )

    def adopt_scheduled_runs(self, claim_ids: list[int] | None = None) -> list[int]:
        """Claims still ``claimed`` whose run process did create its pipeline run (it stopped
        before saying so) become ``started`` with that run. Returns the claim ids adopted."""
        q = select(_CL.c.id, _CL.c.pid, _CL.c.host, _CL.c.claimed_at).where(
            _CL.c.status == "claimed", _CL.c.pid.is_not(None)
        )
        if claim_ids is not None:
            q = q.where(_CL.c.id.in_([int(i) for i in claim_ids]))
        adopted = []
        with self._write() as conn:
            for c in conn.execute(q).all():
                run = conn.execute(
                    select(_PR.c.id, _PR.c.created_at)
                    .where(
                        _PR.c.pid == c.pid,
                        _PR.c.host == c.host,
                        _PR.c.trigger == "schedule",
                        _PR.c.created_at >= c.claimed_at,
                    )
                    .order_by(_PR.c.id)
                    .limit(1)
                ).first()
                if run is not None:
                    conn.execute(
                        update(_CL)
                        .where(_CL.c.id == c.id)
                        .values(status="started", pipeline_run_id=run.id, started_at=run.created_at)
                    )
                    adopted.append(c.id)
        return adopted

    def last_scheduled(self, pipeline: str, step: str) -> datetime | None:
        """The newest claimed tick of a step (its schedule's cursor after a restart)."""
        with self._read() as conn:
            return conn.scalar(
                select(func.max(_CL.c.scheduled_for)).where(
                    _CL.c.pipeline == pipeline, _CL.c.step == step
                )
            )

    def list_scheduled_runs(
        self, *, pipeline: str | None = None, step: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Claimed ticks, newest first, with the status of their pipeline run when started."""
        q = select(_CL, _PR.c.status.label("run_status")).outerjoin(
            _PR, _PR.c.id == _CL.c.pipeline_run_id
        )
        if pipeline is not None:
            q = q.where(_CL.c.pipeline == pipeline)
        if step is not None:
            q = q.where(_CL.c.step == step)
        with self._read() as conn:
            rows = conn.execute(
                q.order_by(_CL.c.scheduled_for.desc(), _CL.c.id.desc()).limit(limit)
            )
            return [{**_claim_dict(r), "run_status": r.run_status} for r in rows]

    def step_active(self, pipeline: str, step: str) -> bool:
        """Whether a production run of the step is queued or running (from any runner)."""
        q = (
            select(_SR.c.id)
            .join(Step, Step.id == _SR.c.step_id)
            .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
            .where(
                PipelineRecord.name == pipeline,
                Step.name == step,
                _SR.c.status.in_(ACTIVE_STATUSES),
                _SR.c.mode == "production",
            )
            .limit(1)
        )
        with self._read() as conn:
            return conn.scalar(q) is not None

    # -- scheduler liveness -------------------------------------------------------------------

    def register_scheduler(self, pipeline: str, *, project_dir: str | None = None) -> int:
        """A scheduler starting: a row with its host, pid and first heartbeat."""
        runner = self._runner(None, None)
        now = _now()
        with self._write() as conn:
            return conn.scalar(
                insert(_SCH)
                .values(
                    pipeline=pipeline,
                    project_dir=project_dir,
                    host=runner["host"],
                    pid=runner["pid"],
                    pid_started=runner["pid_started"],
                    started_at=now,
                    heartbeat_at=now,
                )
                .returning(_SCH.c.id)
            )

    def scheduler_heartbeat(self, scheduler_id: int) -> None:
        """The scheduler is alive (called every tick)."""
        with self._write() as conn:
            conn.execute(update(_SCH).where(_SCH.c.id == scheduler_id).values(heartbeat_at=_now()))

    def stop_scheduler(self, scheduler_id: int) -> None:
        """A scheduler that shut down cleanly."""
        now = _now()
        with self._write() as conn:
            conn.execute(
                update(_SCH)
                .where(_SCH.c.id == scheduler_id)
                .values(heartbeat_at=now, stopped_at=now)
            )

    def _scheduler_alive(self, r: Any, now: datetime, stale_after: timedelta) -> bool:
        if r.stopped_at is not None:
            return False
        if r.host == self.host:
            if not pid_alive(r.pid):
                return False
            started = process_started(r.pid)
            if started is not None and r.pid_started is not None:
                return abs(started - r.pid_started) <= 1.0
            return True
        return now - r.heartbeat_at <= stale_after

    def schedulers(
        self,
        *,
        pipeline: str | None = None,
        stale_after: timedelta = timedelta(minutes=2),
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Schedulers, newest heartbeat first: ``{id, pipeline, project_dir, host, pid,
        started_at, heartbeat_at, stopped_at, alive}``. Alive: not stopped, and on this host its
        pid still runs; on another host its heartbeat is younger than ``stale_after``."""
        q = select(_SCH)
        if pipeline is not None:
            q = q.where(_SCH.c.pipeline == pipeline)
        now = _now()
        with self._read() as conn:
            rows = conn.execute(q.order_by(_SCH.c.heartbeat_at.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "pipeline": r.pipeline,
                "project_dir": r.project_dir,
                "host": r.host,
                "pid": r.pid,
                "started_at": _iso(r.started_at),
                "heartbeat_at": _iso(r.heartbeat_at),
                "stopped_at": _iso(r.stopped_at),
                "alive": self._scheduler_alive(r, now, stale_after),
            }
            for r in rows
        ]

    def mark_claims_interrupted(
        self, *, stale_after: timedelta = timedelta(minutes=2)
    ) -> list[int]:
        """Claimed ticks that never started because their scheduler died become ``interrupted``
        (visible in ``dataops status``; never run a second time). Returns their claim ids."""
        self.adopt_scheduled_runs()
        now = _now()
        with self._read() as conn:
            rows = conn.execute(
                select(_CL.c.id, _CL.c.scheduler_id, _SCH)
                .join(_SCH, _SCH.c.id == _CL.c.scheduler_id)
                .where(_CL.c.status == "claimed")
            ).all()
        dead = [r for r in rows if not self._scheduler_alive(r, now, stale_after)]
        marked = []
        with self._write() as conn:
            for r in dead:
                res = conn.execute(
                    update(_CL)
                    .where(_CL.c.id == r[0], _CL.c.status == "claimed")
                    .values(
                        status="interrupted",
                        reason=f"scheduler process {r.pid} on {r.host} died before the run started",
                    )
                )
                if res.rowcount:
                    marked.append(r[0])
        return marked
