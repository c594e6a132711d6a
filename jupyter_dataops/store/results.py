"""Check results and metric points of step runs, and the metric reads SPC and charts use."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from jupyter_dataops.store.base import (
    _CR,
    _M,
    _SR,
    StoreBase,
    _as_id,
    _field,
    _iso,
    _now,
    _number,
    _successful_production,
    _text,
)
from jupyter_dataops.store.models import CHECK_STATUSES, CheckResultRow, MetricRecord
from jupyter_dataops.store.rows import BaselinePoint, MetricPoint, MetricSummary, SpcVerdictRow


class ResultsMixin(StoreBase):
    """``record_suite``/``record_metric`` write; ``metric_history``/``metric_series``/
    ``list_metrics`` read."""

    def record_suite(self, step_run_id: int | str, suite_result: Any) -> int:
        """Store one ``%%dataops_test`` result under a step run: a row per check line and a point
        per metric, in one transaction. Returns the number of check rows written.

        ``suite_result`` is a ``SuiteResult`` or its ``to_dict()``; callable once per cell. An spc
        line's ``spc`` (its chart, rules, baseline and verdict; an object or a dict, absent on
        other lines) is stored beside it for ``metric_chart``.
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
                    "spc": _spc_payload(_field(r, "spc")),
                }
            )
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            if rows:
                conn.execute(insert(CheckResultRow), rows)
            self._insert_metrics(conn, row, suite, metrics)
            self._insert_profiles(conn, row.step_id, srid, suite, results)  # type: ignore[attr-defined]
            conn.execute(update(_SR).where(_SR.c.id == srid).values(updated_at=_now()))
        return len(rows)

    def record_metric(
        self, step_run_id: int | str, metric_key: str, value: float, *, suite: str | None = None
    ) -> None:
        """Add one metric point to a step run (non-finite values are ignored)."""
        srid = _as_id(step_run_id, "step run id")
        with self._write() as conn:
            row = self._step_run_or_fail(conn, srid)
            self._insert_metrics(conn, row, suite, {metric_key: value})

    @staticmethod
    def _insert_metrics(conn: Connection, run: Any, suite: str | None, metrics: Mapping) -> None:
        """The points of step run ``run`` (``_step_run_or_fail``'s row: they carry its partition)."""
        now = _now()
        points = [
            {
                "step_run_id": run.id,
                "step_id": run.step_id,
                "partition": run.partition,
                "suite": suite,
                "key": str(k),
                "value": v,
                "recorded_at": now,
            }
            for k, raw in metrics.items()
            if (v := _number(raw)) is not None
        ]
        if points:
            conn.execute(insert(MetricRecord), points)

    # -- metric reads --------------------------------------------------------------------------

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
        keeps the newest points. Of a partition only its latest successful run counts (and
        none while ``exclude_step_run`` re-runs it)."""
        rows = self._history_rows(
            step, metric_key, pipeline, suite, limit, exclude_step_run, dated=False
        )
        return [float(r.value) for r in reversed(rows)]

    def metric_points(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        exclude_step_run: int | str | None = None,
    ) -> list[dict[str, Any]]:
        """``metric_history``'s points with where each sits: ``step_run_id``, ``partition``,
        ``started_at`` (a datetime, UTC) and ``value``, oldest first (seasonal and phased SPC)."""
        rows = self._history_rows(
            step, metric_key, pipeline, suite, None, exclude_step_run, dated=True
        )
        return [
            {
                "step_run_id": r.step_run_id,
                "partition": r.partition,
                "started_at": r.started_at or r.recorded_at,
                "value": float(r.value),
            }
            for r in reversed(rows)
        ]

    def _history_rows(
        self,
        step: str,
        metric_key: str,
        pipeline: str | None,
        suite: str | None,
        limit: int | None,
        exclude_step_run: int | str | None,
        *,
        dated: bool,
    ) -> list[Any]:
        """The rows of an SPC history, newest first (see ``metric_history``)."""
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return []
        from jupyter_dataops.store.partitions import not_replaced, other_partition, partition_of

        # one point per partition (its latest successful run), in partition order
        successful = and_(_successful_production(_M.c.step_run_id), not_replaced(_M.c.step_run_id))
        q = (
            select(_M.c.value)
            .where(_M.c.step_id.in_(ids), _M.c.key == metric_key, successful)
            .order_by(
                partition_of(_M.c.step_run_id).desc().nulls_last(),
                _M.c.step_run_id.desc(),
                _M.c.id.desc(),
            )
        )
        if dated:
            run = _SR.alias("point_run")  # an alias: the EXISTS filters keep their own _SR
            q = q.add_columns(
                _M.c.step_run_id, run.c.partition, run.c.started_at, _M.c.recorded_at
            ).join(run, run.c.id == _M.c.step_run_id)
        if suite is not None:
            q = q.where(_M.c.suite == suite)
        if exclude_step_run is not None:
            q = q.where(_M.c.step_run_id != _as_id(exclude_step_run, "step run id"))
            q = q.where(other_partition(_M.c.step_run_id, exclude_step_run))
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            return list(conn.execute(q).all())

    def metric_series(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        limit: int | None = None,
        step_run_ids: Iterable[int] | None = None,
    ) -> list[MetricPoint]:
        """A metric's points over every production run of a step, oldest first, for charts.

        ``step_run_ids`` keeps those runs' points (a chart reads its window with
        ``chart_reads.chart_window``).

        Each point: ``step_run_id``, ``pipeline_run_id``, ``time``, ``value``, ``status``,
        ``attempt``, ``suite``, ``partition``. Failed runs are included (a failing point is often the story).
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
                _SR.c.partition,
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
        if step_run_ids is not None:
            q = q.where(_M.c.step_run_id.in_(list(step_run_ids)))
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
                "partition": r.partition,
            }
            for r in reversed(rows)
        ]

    def list_metrics(self, step: str, *, pipeline: str | None = None) -> list[MetricSummary]:
        """The metric series recorded for a step: key, suite, number of points, last value/time;
        in key order, a key's unnamed suite first (``series_counts``: no point compared)."""
        from jupyter_dataops.store.series_counts import series_counts

        merged: dict[tuple[str, str | None], list[int]] = {}
        with self._read() as conn:
            if conn.dialect.name == "postgresql":
                # the planner prices a long series' count above jit_above_cost: compiling the
                # plan (~150 ms at 100k points) would cost more than running it (~20 ms)
                conn.exec_driver_sql("SET LOCAL jit = off")
            for step_id in self._resolve_steps(step, pipeline):
                for s in series_counts(conn, step_id):
                    seen = merged.setdefault((s.key, s.suite), [0, s.last_id])
                    seen[0] += s.points
                    seen[1] = max(seen[1], s.last_id)
            last = (
                {
                    r.id: r
                    for r in conn.execute(
                        select(_M.c.id, _M.c.value, _M.c.recorded_at).where(
                            _M.c.id.in_([last_id for _, last_id in merged.values()])
                        )
                    ).all()
                }
                if merged
                else {}
            )
        order = sorted(merged, key=lambda ks: (ks[0], ks[1] is not None, ks[1] or ""))
        return [
            {
                "metric": key,
                "suite": suite,
                "points": merged[key, suite][0],
                "last_value": float(last[merged[key, suite][1]].value),
                "last_time": _iso(last[merged[key, suite][1]].recorded_at),
            }
            for key, suite in order
        ]

    # -- what spc lines judged (pipeline.charts.metric_chart draws exactly this) -----------------

    def spc_verdicts(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        step_run_ids: Iterable[int] | None = None,
        latest: bool = False,
    ) -> list[SpcVerdictRow]:
        """The stored spc check rows on ``metric_key`` of a step, oldest first (any mode).

        ``suite`` keeps that suite's lines; ``step_run_ids`` those runs' rows; ``latest`` only
        the newest row (the spc line that judged last, whose options a chart of the metric uses).
        """
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return []
        q = (
            select(
                _CR.c.step_run_id,
                _SR.c.mode,
                _CR.c.suite,
                _CR.c.line,
                _CR.c.source,
                _CR.c.status,
                _CR.c.spc,
            )
            .join(_SR, _SR.c.id == _CR.c.step_run_id)
            .where(_SR.c.step_id.in_(ids), _CR.c.metric == metric_key, _CR.c.spc.is_not(None))
        )
        if suite is not None:
            q = q.where(_CR.c.suite == suite)
        if step_run_ids is not None:
            q = q.where(_CR.c.step_run_id.in_(list(step_run_ids)))
        if latest:
            q = q.order_by(_CR.c.step_run_id.desc(), _CR.c.id.desc()).limit(1)
        else:
            q = q.order_by(_CR.c.step_run_id, _CR.c.id)
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            {
                "step_run_id": r["step_run_id"],
                "mode": r["mode"],
                "suite": r["suite"],
                "line": r["line"],
                "source": r["source"],
                "status": r["status"],
                "spc": r["spc"],
            }
            for r in rows
        ]

    def metric_baseline(
        self,
        step: str,
        metric_key: str,
        size: int,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        size_key: str | None = None,
    ) -> list[BaselinePoint]:
        """The frozen SPC baseline: the metric in the first ``size`` successful production runs
        of a step, oldest first, as ``spc`` lines judge against it (``metric_history``'s order).

        ``suite`` keeps that suite's values (as ``metric_history`` does for the line judging). With
        ``size_key`` (a p/np/u line's sample size, ``n:KEY``) only runs that recorded both count,
        each point with its ``size``.
        """
        ids = self._resolve_steps(step, pipeline)
        if not ids or size <= 0:
            return []
        successful = _successful_production(_M.c.step_run_id)
        q = select(_M.c.step_run_id, _M.c.value).where(
            _M.c.step_id.in_(ids), _M.c.key == metric_key, successful
        )
        if size_key is not None:
            n = _M.alias("n")
            on = and_(n.c.step_run_id == _M.c.step_run_id, n.c.key == size_key)
            if suite is not None:
                on = and_(on, n.c.suite == suite)
            q = q.add_columns(n.c.value.label("size")).join(n, on).where(n.c.value > 0)
        if suite is not None:
            q = q.where(_M.c.suite == suite)
        q = q.order_by(_M.c.step_run_id, _M.c.id).limit(size)
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            {
                "step_run_id": r["step_run_id"],
                "value": float(r["value"]),
                "size": float(r["size"]) if size_key is not None else None,
            }
            for r in rows
        ]


_SPC_KEYS = ("chart", "rules", "baseline", "judged", "broken", "center", "lcl", "ucl")


def _spc_payload(value: Any) -> dict[str, Any] | None:
    """An spc line's options and verdict as a JSON-ready dict (None when the line has none)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            value = to_dict()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        else:
            value = {k: getattr(value, k) for k in _SPC_KEYS if hasattr(value, k)}
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key in ("center", "lcl", "ucl"):
            out[key] = _number(raw)
        elif key == "baseline":
            out[key] = int(raw) if raw is not None else None
        elif key == "judged":
            out[key] = bool(raw)
        elif key == "broken":
            out[key] = [str(x) for x in raw or ()]
        elif raw is None or isinstance(raw, (str, int, float, bool)):
            out[str(key)] = raw
        else:
            out[str(key)] = str(raw)
    return out
