"""A chart's window of a metric's series, read in SQL (issue 26: a year of history opens at once).

``chart_window`` answers where a window sits in a step's whole series of a metric and that
window's points in full: the whole series is counted, never read, and only the window's rows are
converted (time, value, parameters). The series is ``metric_series``'s (every production run,
oldest first), on a partitioned step one point per partition (its latest run, in partition order
after any runs without one), as ``pipeline.views.charts`` draws it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, Text, cast, func, select, type_coerce

from jupyter_dataops.store.base import _CR, _M, _SR, StoreBase, _iso

_IN_LIST = 900  # up to this many runs, a window's rows are read by run id


class ChartReadsMixin(StoreBase):
    """``chart_window``: the points of one window of a metric's series, and the series' length;
    ``chart_verdicts``: the spc verdicts stored on them."""

    def chart_window(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        last: int | None = None,
        before: int | None = None,
    ) -> dict[str, Any]:
        """``{"total", "first", "points"}``: the ``last`` points (None: all) before position
        ``before`` (None: the newest) of the series, ``first`` the position of the first of them.

        Each point as ``metric_series`` gives it, plus ``parameters`` (the run's, as stored:
        secrets already ``***``); runs with equal parameters share one dict.
        """
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return {"total": 0, "first": 0, "points": []}
        own = [_M.c.step_id.in_(ids), _M.c.key == metric_key]  # on the metrics index
        if suite is not None:
            own.append(_M.c.suite == suite)
        where = [*own, _SR.c.mode == "production"]
        joined = _M.join(_SR, _SR.c.id == _M.c.step_run_id)
        reader = _Rows(self.dialect)
        with self._read() as conn:
            # a step that ran for partitions (index step_id, partition); where none of this
            # metric's runs had one, the partitioned reading keeps run order all the same
            partitioned = (
                conn.scalar(
                    select(_SR.c.id)
                    .where(_SR.c.step_id.in_(ids), _SR.c.partition.is_not(None))
                    .limit(1)
                )
                is not None
            )
            if last is None and before is None:  # every point: one read
                rows = reader.read(conn, reader.query(joined, where))
                points = _by_partition(rows) if partitioned else rows
                return {"total": len(points), "first": 0, "points": points}
            if not partitioned:
                # counted and paged on the metrics index alone, less the step's few runs that
                # were not production (index step_id, mode, id); then the page's rows in full
                others = select(_SR.c.id).where(_SR.c.step_id.in_(ids), _SR.c.mode != "production")
                own.append(_M.c.step_run_id.not_in(others))
                total = conn.scalar(select(func.count()).select_from(_M).where(*own)) or 0
                start, end = _bounds(total, last, before)
                if end - start > _IN_LIST:  # a long page: read in full in one ordered pass
                    q = reader.query(joined, where, newest_first=True)
                    q = q.limit(end - start).offset(total - end)
                    points = list(reversed(reader.read(conn, q)))
                    return {"total": total, "first": start, "points": points}
                page = conn.scalars(
                    select(_M.c.id)
                    .where(*own)
                    .order_by(_M.c.step_run_id.desc(), _M.c.id.desc())
                    .limit(end - start)
                    .offset(total - end)
                ).all()
                q = reader.query(joined, [*where, _M.c.id.in_(page)])
                return {"total": total, "first": start, "points": reader.read(conn, q)}
            # a partitioned step: runs without a partition first, then one point per partition;
            # counted and windowed on the metrics index (step_id, key, partition, suite,
            # step_run_id) alone (metrics.partition, 0014), less the step's runs that were not
            # production (index step_id, mode, id): no point is joined to its run
            others = [  # two seeks on that index (an OR of both reads every run of the step)
                i
                for mode in (_SR.c.mode < "production", _SR.c.mode > "production")
                for i in conn.scalars(select(_SR.c.id).where(_SR.c.step_id.in_(ids), mode))
            ]
            excluded: Any = others
            if len(others) > _IN_LIST:  # many: one subquery, not a long list of parameters
                excluded = select(_SR.c.id).where(
                    _SR.c.step_id.in_(ids), _SR.c.mode != "production"
                )
            mine = [*own, _M.c.step_run_id.not_in(excluded)] if others else own
            plain = conn.scalar(
                select(func.count()).select_from(_M).where(*mine, _M.c.partition.is_(None))
            )
            parts = conn.scalar(
                select(func.count(func.distinct(_M.c.partition))).where(
                    *mine, _M.c.partition.is_not(None)
                )
            )
            total = (plain or 0) + (parts or 0)
            start, end = _bounds(total, last, before)
            points = []
            if start < plain:
                q = reader.query(joined, [*where, _SR.c.partition.is_(None)])
                q = q.limit(min(end, plain) - start).offset(start)
                points += reader.read(conn, q)
            if end > plain:
                lo, hi = max(start, plain) - plain, end - plain
                newest_first = parts - hi < lo  # read from the nearer end of the index
                latest = conn.scalars(
                    select(func.max(_M.c.step_run_id))
                    .where(*mine, _M.c.partition.is_not(None))
                    .group_by(_M.c.partition)
                    .order_by(_M.c.partition.desc() if newest_first else _M.c.partition)
                    .limit(hi - lo)
                    .offset(parts - hi if newest_first else lo)
                ).all()
                wanted = set(latest)
                runs = [*where, _M.c.step_run_id.in_(latest)] if len(latest) <= _IN_LIST else where
                rows = [
                    r
                    for r in reader.read(conn, reader.query(joined, runs))
                    if r["step_run_id"] in wanted
                ]
                points += _by_partition(rows)
        return {"total": total, "first": start, "points": points}

    def chart_verdicts(
        self,
        step: str,
        metric_key: str,
        *,
        pipeline: str | None = None,
        suite: str | None = None,
        step_run_ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """The stored spc verdicts on ``metric_key`` of a step (those runs' with
        ``step_run_ids``), oldest first: ``step_run_id``, ``status``, ``spc``. Verdicts stored
        alike (a frozen line's passes) share one parsed ``spc`` dict: read, never change it."""
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return []
        q = (
            select(_CR.c.step_run_id, _CR.c.status, cast(_CR.c.spc, Text()))
            .join(_SR, _SR.c.id == _CR.c.step_run_id)
            .where(_SR.c.step_id.in_(ids), _CR.c.metric == metric_key, _CR.c.spc.is_not(None))
            .order_by(_CR.c.step_run_id, _CR.c.id)
        )
        if suite is not None:
            q = q.where(_CR.c.suite == suite)
        if step_run_ids is not None:
            q = q.where(_CR.c.step_run_id.in_(list(step_run_ids)))
        parsed: dict[str, Any] = {}
        with self._read() as conn:
            rows = conn.execute(q).all()
        out = []
        for srid, status, raw in rows:
            spc = parsed.get(raw)
            if spc is None:
                spc = parsed[raw] = json.loads(raw) if raw else {}
            out.append({"step_run_id": srid, "status": status, "spc": spc})
        return out


def _bounds(total: int, last: int | None, before: int | None) -> tuple[int, int]:
    """The window ``[start, end)`` of positions in a series of ``total`` points."""
    end = total if before is None else max(0, min(before, total))
    start = 0 if last is None else max(0, end - last)
    return start, end


def _by_partition(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per partition (its latest run: a re-run replaces the day's point), in
    partition order after the runs without one (in run order)."""
    latest: dict[str, dict[str, Any]] = {}
    plain = []
    for p in series:  # oldest first: a later run of a partition replaces the earlier one
        key = p["partition"]
        if key is None:
            plain.append(p)
        else:
            latest[key] = p
    return plain + [latest[k] for k in sorted(latest)]


class _Rows:
    """The window's query and the conversion of its rows (one parse per distinct parameters)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.parameters: dict[Any, Any] = {}

    def query(
        self, joined: Any, where: Sequence[ColumnElement[bool]], *, newest_first: bool = False
    ) -> Select:
        stamp = func.coalesce(_SR.c.started_at, _M.c.recorded_at)
        order = (
            (_M.c.step_run_id.desc(), _M.c.id.desc())
            if newest_first
            else (_M.c.step_run_id, _M.c.id)
        )
        return (
            select(
                _M.c.step_run_id,
                _SR.c.pipeline_run_id,
                # SQLite keeps the UTC time as text: read it as text, not parsed per row
                type_coerce(stamp, String()) if self.sqlite else stamp,
                _M.c.value,
                _SR.c.status,
                _SR.c.attempt,
                _M.c.suite,
                _SR.c.partition,
                cast(_SR.c.parameters, Text()),
            )
            .select_from(joined)
            .where(*where)
            .order_by(*order)
        )

    def read(self, conn: Any, q: Select) -> list[dict[str, Any]]:
        return [
            {
                "step_run_id": srid,
                "pipeline_run_id": prid,
                "time": _stamp(at),
                "value": float(value),
                "status": status,
                "attempt": attempt,
                "suite": suite,
                "partition": partition,
                "parameters": self._parameters(params),
            }
            for srid, prid, at, value, status, attempt, suite, partition, params in conn.execute(
                q
            ).all()
        ]

    def _parameters(self, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        key = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
        found = self.parameters.get(key)
        if found is None:
            value = json.loads(raw) if isinstance(raw, str) else raw
            found = self.parameters[key] = value if isinstance(value, dict) else {}
        return found


def _stamp(value: Any) -> str | None:
    """A stored UTC time as ``_iso`` gives it; SQLite's text (``2026-12-06 12:00:00.000000``)
    is cut, not parsed."""
    if value is None or isinstance(value, datetime):
        return _iso(value)
    text = str(value)
    frac = text[19:]
    if text[10:11] == " " and (frac == "" or (len(frac) == 7 and frac[0] == ".")):
        return f"{text[:10]}T{text[11:19]}{'' if frac == '.000000' else frac}+00:00"
    return _iso(datetime.fromisoformat(text))


__all__ = ["ChartReadsMixin"]
