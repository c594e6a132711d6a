"""The metric series of a step with their point counts and last points, read series by series.

A ``GROUP BY key, suite`` over a step's points compares both columns on every point (at 1M
step runs a step has 200k points: ~35 ms of SQLite CPU on the narrowest index). Here the
step's keys are found by a skip scan of ``ix_metrics_step_id_key_suite_id`` (one seek per key),
each key's suites by ``min``/``max`` seeks, and each series is counted by an equality range of
that index (no comparison per point) and its last point found by one seek (migration 0015).
A key recorded under several named suites is grouped as before (rare).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, func, select

from jupyter_dataops.store.base import _M


class SeriesCount(NamedTuple):
    """One series of a step: its key and suite, number of points and the newest point's id."""

    key: str
    suite: str | None
    points: int
    last_id: int


def series_counts(conn: Connection, step_id: int) -> list[SeriesCount]:
    """The series step ``step_id`` has recorded, in key order (a key's unnamed suite first)."""
    series: list[SeriesCount] = []
    for r in conn.execute(_per_key(), {"step_id": step_id}).all():
        if r.n_null:
            series.append(SeriesCount(r.key, None, r.n_null, r.last_null))
        if r.lo is None:
            continue
        if r.lo == r.hi:
            series.append(SeriesCount(r.key, r.lo, r.n_lo, r.last_lo))
            continue
        # several named suites under one key: grouped, as a step's whole list once was
        series.extend(
            SeriesCount(r.key, g.suite, g.points, g.last_id)
            for g in conn.execute(
                select(_M.c.suite, func.count().label("points"), func.max(_M.c.id).label("last_id"))
                .where(_M.c.step_id == step_id, _M.c.key == r.key, _M.c.suite.is_not(None))
                .group_by(_M.c.suite)
                .order_by(_M.c.suite)
            )
        )
    return series


@functools.cache
def _per_key() -> Select:
    """Each key of step ``:step_id`` with its lowest and highest named suite, the count and last
    id of the lowest and of the unnamed suite: seeks and equality ranges of the index (built
    once: building it costs more than running it)."""
    step_id = bindparam("step_id")
    first = select(func.min(_M.c.key).label("key")).where(_M.c.step_id == step_id)
    keys = first.cte("metric_keys", recursive=True)
    after = _M.alias("next_key")
    keys = keys.union_all(
        select(
            select(func.min(after.c.key))
            .where(after.c.step_id == step_id, after.c.key > keys.c.key)
            .scalar_subquery()
        ).where(keys.c.key.is_not(None))
    )

    def of_key(key: Any, what: str, suite: Any = ...) -> Any:
        """``what`` of the key's points (of ``suite``: a column, None for the unnamed suite;
        every suite when left out)."""
        m = _M.alias()
        fn = {
            "count": func.count(),
            "last": func.max(m.c.id),
            "lo": func.min(m.c.suite),
            "hi": func.max(m.c.suite),
        }[what]
        q = select(fn).where(m.c.step_id == step_id, m.c.key == key)
        if suite is None:
            q = q.where(m.c.suite.is_(None))
        elif suite is not ...:
            q = q.where(m.c.suite == suite)
        return q.scalar_subquery()

    # min/max pass over the unnamed points
    per_key = (
        select(
            keys.c.key, of_key(keys.c.key, "lo").label("lo"), of_key(keys.c.key, "hi").label("hi")
        )
        .where(keys.c.key.is_not(None))
        .subquery("per_key")
    )
    k, lo, hi = per_key.c.key, per_key.c.lo, per_key.c.hi
    return select(
        k,
        lo,
        hi,
        of_key(k, "count", lo).label("n_lo"),
        of_key(k, "last", lo).label("last_lo"),
        of_key(k, "count", None).label("n_null"),
        of_key(k, "last", None).label("last_null"),
    ).order_by(k)
