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
# databases whose driver gives the window's columns as they are sent (no type to convert):
# their rows are read as the driver's plain tuples
_PLAIN = ("sqlite", "postgresql")


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
        """``{"total", "first", "columns"}``: the ``last`` points (None: all) before position
        ``before`` (None: the newest) of the series, ``first`` the position of the first of them.

        ``columns``: each of ``FIELDS`` (those of ``metric_series``' points, plus ``parameters``:
        the run's, as stored, secrets already ``***``) as a list, one entry per point; runs with
        equal parameters share one dict. ``points(columns)`` gives them as dicts.
        """
        ids = self._resolve_steps(step, pipeline)
        reader = _Rows(self.dialect)
        if not ids:
            return {"total": 0, "first": 0, "columns": reader.columns([])}
        own = [_M.c.step_id.in_(ids), _M.c.key == metric_key]  # on the metrics index
        if suite is not None:
            own.append(_M.c.suite == suite)
        # the step's runs named too (a point's step is its run's): PostgreSQL then reads only
        # the step's runs, not every run, to join them (0.14 s instead of 0.22 s at 100k runs)
        where = [*own, _SR.c.mode == "production", _SR.c.step_id.in_(ids)]
        joined = _M.join(_SR, _SR.c.id == _M.c.step_run_id)
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
                return {"total": len(points), "first": 0, "columns": reader.columns(points)}
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
                    return {"total": total, "first": start, "columns": reader.columns(points)}
                page = conn.scalars(
                    select(_M.c.id)
                    .where(*own)
                    .order_by(_M.c.step_run_id.desc(), _M.c.id.desc())
                    .limit(end - start)
                    .offset(total - end)
                ).all()
                q = reader.query(joined, [*where, _M.c.id.in_(page)])
                points = reader.read(conn, q)
                return {"total": total, "first": start, "columns": reader.columns(points)}
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
                rows = [r for r in reader.read(conn, reader.query(joined, runs)) if r[0] in wanted]
                points += _by_partition(rows)
        return {"total": total, "first": start, "columns": reader.columns(points)}

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
            rows = _tuples(conn, q) if self.dialect in _PLAIN else conn.execute(q).all()
        out = []
        for srid, status, raw in rows:
            spc = parsed.get(raw)
            if spc is None:
                spc = parsed[raw] = json.loads(raw) if raw else {}
            out.append({"step_run_id": srid, "status": status, "spc": spc})
        return out


def _tuples(conn: Any, q: Select) -> list[tuple]:
    """The rows of ``q`` as the driver's tuples: at 10,000 rows, SQLAlchemy's row objects
    doubled the objects the garbage collector went over."""
    result = conn.execute(q)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _bounds(total: int, last: int | None, before: int | None) -> tuple[int, int]:
    """The window ``[start, end)`` of positions in a series of ``total`` points."""
    end = total if before is None else max(0, min(before, total))
    start = 0 if last is None else max(0, end - last)
    return start, end


def _by_partition(series: list[tuple]) -> list[tuple]:
    """One point per partition (its latest run: a re-run replaces the day's point), in
    partition order after the runs without one (in run order)."""
    latest: dict[str, tuple] = {}
    plain = []
    for p in series:  # oldest first: a later run of a partition replaces the earlier one
        key = p[_PARTITION]
        if key is None:
            plain.append(p)
        else:
            latest[key] = p
    return plain + [latest[k] for k in sorted(latest)]


FIELDS = (
    "step_run_id",
    "pipeline_run_id",
    "time",
    "value",
    "status",
    "attempt",
    "suite",
    "partition",
    "parameters",
)
_TIME, _PARTITION, _PARAMETERS = 2, 7, 8


def points(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """``chart_window``'s columns as one dict per point (``metric_series``' shape)."""
    return [dict(zip(FIELDS, row, strict=True)) for row in zip(*columns.values(), strict=True)]


class _Rows:
    """The window's query and its rows as columns (times formatted in SQL where the database
    can, one parse per distinct parameters): at 10,000 points, per-row Python work is what
    the answer's time is made of."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.parameters: dict[Any, Any] = {}

    def query(
        self, joined: Any, where: Sequence[ColumnElement[bool]], *, newest_first: bool = False
    ) -> Select:
        order = (
            (_M.c.step_run_id.desc(), _M.c.id.desc())
            if newest_first
            else (_M.c.step_run_id, _M.c.id)
        )
        return (
            select(
                _M.c.step_run_id,
                _SR.c.pipeline_run_id,
                self._stamp(func.coalesce(_SR.c.started_at, _M.c.recorded_at)),
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

    def _stamp(self, stamp: Any) -> Any:
        """The UTC time: SQLite's text as stored (cut in ``columns``: its string functions cost
        more than Python's slices), PostgreSQL's formatted by the server as ``_iso`` writes it
        (``2026-12-06T12:00:00.500000+00:00``: cheaper than converting its datetimes)."""
        if self.dialect == "sqlite":  # kept as text: 2026-12-06 12:00:00.000000
            return type_coerce(stamp, String())
        if self.dialect == "postgresql":  # a whole second's ".000000" is cut in ``columns``
            utc = func.timezone("UTC", stamp)
            return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"', type_=String())
        return stamp

    def read(self, conn: Any, q: Select) -> list[tuple]:
        return _tuples(conn, q) if self.dialect in _PLAIN else conn.execute(q).all()

    def columns(self, rows: list[tuple]) -> dict[str, list[Any]]:
        cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in FIELDS]
        if self.dialect == "sqlite":  # 2026-12-06 12:00:00.123456 (no fraction when .000000)
            cols[_TIME] = [
                f"{t[:10]}T{t[11:]}+00:00"
                if type(t) is str and len(t) == 26 and t[10] == " " and t[20:] != "000000"
                else _stamp(t)
                for t in cols[_TIME]
            ]
        else:  # PostgreSQL's formatted text, another database's datetime
            cols[_TIME] = [
                (t[:19] + "+00:00" if t.endswith(".000000+00:00") else t)
                if type(t) is str and t.endswith("+00:00")
                else _stamp(t)
                for t in cols[_TIME]
            ]
        found = self.parameters
        cols[_PARAMETERS] = [
            None if raw is None else found[raw] if raw in found else self._parameters(raw)
            for raw in cols[_PARAMETERS]
        ]
        cols[3] = [float(v) for v in cols[3]]  # the value: a Decimal on some databases
        return dict(zip(FIELDS, cols, strict=True))

    def _parameters(self, raw: Any) -> dict[str, Any]:
        key = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
        found = self.parameters.get(key)
        if found is None:
            value = json.loads(raw) if isinstance(raw, str) else raw
            found = self.parameters[key] = value if isinstance(value, dict) else {}
        if isinstance(raw, str):
            self.parameters[raw] = found
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


__all__ = ["FIELDS", "ChartReadsMixin", "points"]
