"""History queries: step runs and pipeline runs with their check counts, one run in full,
and the pipelines overview."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, case, false, func, or_, select

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import (
    _CR,
    _M,
    _PR,
    _SR,
    StoreBase,
    _as_id,
    _check_status,
    _iso,
    _statuses,
    _step_ids,
)
from jupyter_dataops.store.models import (
    CHECK_STATUSES,
    MODES,
    OPERATIONS_SUITE,
    Lineage,
    PipelineRecord,
    Step,
    StepVersion,
)
from jupyter_dataops.store.rows import (
    PipelineRow,
    PipelineRunDetail,
    PipelineRunRow,
    RunDetail,
    RunRow,
    _pipeline_run_dict,
    _run_dict,
    _version_dict,
)


class QueriesMixin(StoreBase):
    """Read-only questions the CLI, widgets and REST server ask about runs."""

    def _run_filters(
        self,
        conn: Connection,
        step: str | None,
        status: str | Iterable[str] | None,
        pipeline: str | None,
        pipeline_run_id: int | str | None,
        mode: str | None,
        partition: str | None = None,
    ) -> list:
        where = []
        if step is not None or pipeline is not None:
            where.extend(_step_condition(conn, step, pipeline))
        statuses = _statuses(status)
        if statuses is not None:
            where.append(_SR.c.status.in_(statuses))
        if pipeline_run_id is not None:
            where.append(_SR.c.pipeline_run_id == _as_id(pipeline_run_id, "pipeline run id"))
        if mode is not None:
            where.append(_SR.c.mode == _check_status(mode, MODES, "run mode"))
        if partition is not None:
            where.append(_SR.c.partition == partition)
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
        partition: str | None = None,
    ) -> list[RunRow]:
        """Step runs, newest first, each with its check counts (one query for the whole page);
        ``partition`` keeps the runs for one period."""
        if limit is not None and limit < 0 or offset < 0:
            raise StoreError("limit and offset must not be negative.")
        with self._read() as conn:
            where = self._run_filters(
                conn, step, status, pipeline, pipeline_run_id, mode, partition
            )
            page = (
                select(_SR)
                .where(and_(True, *where))
                .order_by(_SR.c.id.desc())
                .limit(limit)
                .offset(offset)
                .cte("page")
            )
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
        partition: str | None = None,
    ) -> int:
        """How many step runs ``list_runs`` would page through with these filters."""
        with self._read() as conn:
            where = self._run_filters(
                conn, step, status, pipeline, pipeline_run_id, mode, partition
            )
            return int(conn.scalar(select(func.count()).select_from(_SR).where(and_(True, *where))))

    def get_run(self, step_run_id: int | str) -> RunDetail | None:
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
                        "spc",
                    )
                }
                for c in checks
            ],
            metrics=[{"suite": m.suite, "metric": m.key, "value": float(m.value)} for m in metrics],
        )
        return out

    def get_pipeline_run(self, pipeline_run_id: int | str) -> PipelineRunDetail | None:
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
    ) -> list[PipelineRunRow]:
        """Pipeline runs, newest first (without their step runs)."""
        q = _pipeline_run_query().order_by(_PR.c.id.desc()).limit(limit).offset(offset)
        if pipeline is not None:
            q = q.where(PipelineRecord.name == pipeline)
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        return [_pipeline_run_dict(r) for r in rows]

    def list_pipelines(self) -> list[PipelineRow]:
        """Pipelines with their steps, each step's latest promoted version and last run."""
        # correlated max() per step: an index seek each, not a scan of the whole run history
        latest_v = (
            select(func.max(StepVersion.id)).where(StepVersion.step_id == Step.id).scalar_subquery()
        )
        last_run = select(func.max(_SR.c.id)).where(_SR.c.step_id == Step.id).scalar_subquery()
        with self._read() as conn:
            pipes = (
                conn.execute(select(PipelineRecord).order_by(PipelineRecord.name)).mappings().all()
            )
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


# -- query pieces -----------------------------------------------------------------------------


def _step_condition(conn: Connection, step: str | None, pipeline: str | None) -> list:
    """The step runs of a step (or of a pipeline's steps) by step id, the ids read first.

    ``step_id = 4`` (not ``IN (SELECT ...)``) lets SQLite walk the (step_id, id) index newest
    first and stop at the page, instead of sorting the step's whole history (0.2 ms against
    100 ms at 100k runs); a pipeline holding every step of the store needs no condition at all.
    """
    if step is not None:
        ids = list(conn.scalars(_step_ids(step, pipeline)))
    else:
        ids = list(
            conn.scalars(
                select(Step.id)
                .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
                .where(PipelineRecord.name == pipeline)
            )
        )
        if ids and len(ids) == conn.scalar(select(func.count()).select_from(Step)):
            return []
    if not ids:
        return [false()]
    return [_SR.c.step_id == ids[0]] if len(ids) == 1 else [_SR.c.step_id.in_(ids)]


def _rows_with_counts(page):  # noqa: ANN001, ANN202
    """Join a page of step runs (a CTE) with names and per-status check counts."""
    # the user's own lines (n_) and the operations observer's implicit ones (o_), apart
    ops = _CR.c.suite == OPERATIONS_SUITE
    own = or_(_CR.c.suite.is_(None), _CR.c.suite != OPERATIONS_SUITE)
    counts = (
        select(
            _CR.c.step_run_id,
            *[
                func.sum(case((and_(_CR.c.status == s, own), 1), else_=0)).label(f"n_{s}")
                for s in CHECK_STATUSES
            ],
            *[
                func.sum(case((and_(_CR.c.status == s, ops), 1), else_=0)).label(f"o_{s}")
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
            PipelineRecord.name.label("pipeline"),
            *[
                func.coalesce(counts.c[f"{p}_{s}"], 0).label(f"{p}_{s}")
                for p in ("n", "o")
                for s in CHECK_STATUSES
            ],
        )
        .join(Step, Step.id == page.c.step_id)
        .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
        .outerjoin(counts, counts.c.step_run_id == page.c.id)
    )


def _pipeline_run_query():  # noqa: ANN202
    return select(_PR, PipelineRecord.name.label("pipeline")).join(
        PipelineRecord, PipelineRecord.id == _PR.c.pipeline_id
    )
