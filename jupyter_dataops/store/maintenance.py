"""Maintenance: finding runs whose runner died and marking them ``interrupted``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from jupyter_dataops.store.base import _PR, _SR, StoreBase, _iso, _now
from jupyter_dataops.store.models import ACTIVE_STATUSES
from jupyter_dataops.store.processes import pid_alive, process_started


class MaintenanceMixin(StoreBase):
    """Liveness of runs: a run left ``queued``/``running`` by a dead runner gets closed."""

    def mark_interrupted(self, *, stale_after: timedelta = timedelta(minutes=5)) -> list[int]:
        """Mark runs left ``queued``/``running`` by a runner that is gone as ``interrupted``.

        Gone: on this host, its pid no longer runs (or is a zombie); on another host, nothing
        was heard from the run for ``stale_after`` (runners heartbeat every minute, so five
        missed beats). Returns the step run ids marked.
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
