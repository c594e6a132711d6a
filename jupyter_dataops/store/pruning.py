"""Retention marks: which finished step runs retention may prune, and which it pruned (table
``pruned_runs`` in ``models.py``; their check results and metrics stay: they feed SPC)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from jupyter_dataops.store.base import _PR, _SR, StoreBase, _as_id, _iso, _now
from jupyter_dataops.store.models import FINAL_STATUSES, PipelineRecord, PrunedRun, Step

_PRN = PrunedRun.__table__


class PruningMixin(StoreBase):
    """``retention_candidates`` picks, ``mark_pruned`` records, ``pruned_runs`` reads."""

    def retention_candidates(
        self,
        pipeline: str,
        step: str,
        *,
        keep_runs: int | None = None,
        keep_days: float | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Finished, not yet pruned step runs of a step that retention may prune, newest first:
        ``{id, pipeline_run_id, attempt, status, notebook_path, created_at}``.

        A run is kept while it is among the newest ``keep_runs`` runs of its step, or younger
        than ``keep_days``; with neither set nothing is pruned. Runs whose step run or pipeline
        run is still queued/running, and runs a not-resolved incident points to, are never
        returned.
        """
        if keep_runs is None and keep_days is None:
            return []
        now = now or _now()
        q = (
            select(
                _SR.c.id,
                _SR.c.pipeline_run_id,
                _SR.c.attempt,
                _SR.c.status,
                _SR.c.notebook_path,
                _SR.c.created_at,
            )
            .join(Step, Step.id == _SR.c.step_id)
            .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
            .join(_PR, _PR.c.id == _SR.c.pipeline_run_id)
            .where(
                PipelineRecord.name == pipeline,
                Step.name == step,
                _SR.c.status.in_(FINAL_STATUSES),
                _PR.c.status.in_(FINAL_STATUSES),
            )
            .order_by(_SR.c.id.desc())
        )
        with self._read() as conn:
            rows = conn.execute(q).all()
            pruned = (
                set(
                    conn.scalars(
                        select(_PRN.c.step_run_id).where(
                            _PRN.c.step_run_id.in_([r.id for r in rows])
                        )
                    ).all()
                )
                if rows
                else set()
            )
        cutoff = now - timedelta(days=keep_days) if keep_days is not None else None
        held = self.incident_step_run_ids() if rows else set()  # an open incident's evidence
        out = []
        for i, r in enumerate(rows):
            kept_by_count = keep_runs is not None and i < keep_runs
            kept_by_age = cutoff is not None and r.created_at >= cutoff
            if kept_by_count or kept_by_age or r.id in pruned or r.id in held:
                continue
            out.append(
                {
                    "id": r.id,
                    "pipeline_run_id": r.pipeline_run_id,
                    "attempt": r.attempt,
                    "status": r.status,
                    "notebook_path": r.notebook_path,
                    "created_at": _iso(r.created_at),
                }
            )
        return out

    def mark_pruned(self, step_run_id: int, files: list[str]) -> None:
        """Record that a step run's files were deleted (its checks and metrics stay)."""
        srid = _as_id(step_run_id, "step run id")
        try:
            with self._write() as conn:
                conn.execute(insert(_PRN).values(step_run_id=srid, pruned_at=_now(), files=files))
        except IntegrityError:  # pruned by another process at the same time
            pass

    def pruned_runs(self, step_run_ids: list[int]) -> dict[int, str]:
        """Of these step runs, those pruned: id -> ISO time of pruning."""
        if not step_run_ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(
                select(_PRN.c.step_run_id, _PRN.c.pruned_at).where(
                    _PRN.c.step_run_id.in_([int(i) for i in step_run_ids])
                )
            ).all()
        return {r.step_run_id: _iso(r.pruned_at) for r in rows}
