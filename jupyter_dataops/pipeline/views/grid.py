"""The factory's calendar as the panel's "Grid" shows it: partitions × steps of the pipeline.

The store answers what ran (``Store.partition_rows``: each partition's latest production run of
each step; ``Store.grid_keys``: the recorded keys that are not due); this module adds what the
pipeline file knows: the column order (the steps as ``dataops.yaml`` lists them), the partitions
that are due (counted, and only a page's built), where the other recorded keys fall among them
(also those of another period, left by an earlier ``every:``), and which are late
(``expect_by``). The REST route ``GET /dataops/api/grid`` serves ``grid_page``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.partitions import (
    floor,
    key_start,
    late_partitions,
    period_of,
    periods_between,
)

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

NOT_PARTITIONED = (
    "This pipeline has no `partitions:` in dataops.yaml, so its runs are for no particular "
    "period and the grid stays empty. Add e.g. `partitions: {every: day, parameter: run_date, "
    "start: 2026-09-01}` to run, backfill and re-run it day by day."
)
NO_RUNS = (
    "No partition has run yet. Run one with `dataops run --partition KEY`, catch up with "
    "`dataops backfill --from KEY --to KEY`, or let `dataops scheduler` run the ticks."
)


def _partitions(pipeline: Any) -> Any:
    return getattr(pipeline, "partitions", None)


def _newest(spec: Any, pipeline: Any) -> str:
    """The partition a tick now processes: the newest the pipeline expects."""
    return spec.key_of_tick(
        datetime.now(timezone.utc), getattr(pipeline, "timezone", None) or "UTC"
    )


def _late(pipeline: Any, store: Store, keys: list[str] | None = None) -> dict[str, list[str]]:
    """Late partition -> its late steps (``expect_by`` passed, not successful); ``keys``: only
    those partitions."""
    return late_partitions(pipeline, store, keys=keys)


def _in_time(key: str) -> tuple[bool, datetime, str]:
    """A key's place in time, for any period: its first moment, then the key (text order
    among periods that start together); a key of no period after every other, by text."""
    found = key_start(key)
    return (found is not None, found[1] if found else datetime.min, key)


def _window(
    spec: Any, first: str | None, newest: str, extra: Iterable[str], limit: int, offset: int
) -> tuple[list[str], int]:
    """The page's keys and the grid's total: the due keys (``first`` to ``newest``: counted,
    and only the page's built, stepped back from ``newest``) and the recorded ``extra`` keys
    (outside the due range, or of another period: read, few), together newest first by the
    moment each key's period starts."""
    due = spec.count(first, newest) if first is not None else 0
    ordered = sorted(map(_in_time, extra), reverse=True)
    places = list(range(len(ordered)))
    if due:  # an extra key's place: the extra keys before it and the due keys newer than it
        top, bottom = spec.parse(newest), spec.parse(first)
        for j, (known, moment, key) in enumerate(ordered):
            if not known or moment < bottom:
                places[j] += due
            elif moment <= top:  # the due keys after the one holding its start (and that
                mine = floor(spec.every, moment)  # one when it starts with it, by text)
                tie = mine == moment and spec.format(mine) > key
                places[j] += periods_between(spec.every, mine, top) + tie
    total = due + len(ordered)
    stop = min(offset + limit, total)
    lo, hi = bisect_left(places, offset), bisect_left(places, stop)
    skip = offset - lo  # due keys before the page
    dues = iter(spec.newest(first, newest, skip, (stop - offset) - (hi - lo)) if due else ())
    on_page = {p: key for p, (_, _, key) in zip(places[lo:hi], ordered[lo:hi], strict=True)}
    page = [on_page[p] if p in on_page else next(dues) for p in range(offset, stop)]
    return page, total


def grid_page(pipeline: Any, store: Store, *, limit: int = 14, offset: int = 0) -> dict[str, Any]:
    """One page of the grid (newest partition first) with ``every`` (hour/day/week/month or
    None) and a ``hint`` when there is nothing to show. Each row says its key's ``every``: a
    row of another period than the grid's was recorded under an earlier ``every:`` and is not
    on the current schedule.

    The due partitions run from ``start:`` (without it: the oldest key of the period that
    ran) to the newest a tick now processes; they are paged by arithmetic (a page of 14 hours
    builds 14 keys, whatever the history's length), and only the recorded keys outside them
    or of another period are read."""
    steps = list(pipeline.steps)
    spec = _partitions(pipeline)
    every = getattr(spec, "every", None) if spec is not None else None
    empty = {
        "pipeline": pipeline.name,
        "every": every,
        "steps": steps,
        "partitions": [],
        "total": 0,
        "limit": limit,
        "offset": offset,
    }
    if store is None:
        return {**empty, "hint": NOT_PARTITIONED if spec is None else NO_RUNS}
    if spec is None:  # runs recorded before `partitions:` was taken out still show
        page = store.partition_grid(pipeline.name, limit=limit, offset=offset, steps=steps)
        rows = [{**r, "every": period_of(r["partition"])} for r in page["partitions"]]
        return {**page, "partitions": rows, "every": None, "hint": NOT_PARTITIONED}
    from jupyter_dataops.store.grid import check_page

    check_page(limit, offset)
    newest = _newest(spec, pipeline)
    first, extra = store.grid_keys(pipeline.name, spec.key_length, newest, spec.start)
    if first is not None and spec.parse(first) > spec.parse(newest):
        first = None  # nothing due yet: the recorded keys (all outside) are the rows
    keys, total = _window(spec, first, newest, extra, limit, offset)
    columns, rows = store.partition_rows(
        pipeline.name, keys, steps=steps, late=_late(pipeline, store, keys)
    )
    rows = [{**r, "every": period_of(r["partition"])} for r in rows]
    hint = None if total else NO_RUNS
    return {**empty, "steps": columns, "partitions": rows, "total": total, "hint": hint}


def check_partition(pipeline: Any, key: str) -> str:
    """``key`` if it names a partition of the pipeline; else a ``DataOpsError`` saying why."""
    if _partitions(pipeline) is None:
        raise DataOpsError(
            f"cannot re-run partition {key!r}: pipeline {pipeline.name!r} has no `partitions:` "
            'in dataops.yaml. Use "Run now" on a step instead.'
        )
    try:
        return _partitions(pipeline).check(key)
    except ValueError as exc:
        raise DataOpsError(f"cannot re-run partition {key!r}: {exc}") from None


__all__ = ["check_partition", "grid_page"]
