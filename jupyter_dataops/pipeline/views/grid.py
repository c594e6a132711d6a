"""The factory's calendar as the panel's "Grid" shows it: partitions × steps of the pipeline.

The store answers what ran (``Store.partition_grid``: each partition's latest production run of
each step); this module adds what the pipeline file knows: the column order (the steps as
``dataops.yaml`` lists them), the partitions that are due but never ran, and which are late
(``expect_by``). The REST route ``GET /dataops/api/grid`` serves ``grid_page``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError

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


def _newest_due(pipeline: Any) -> str | None:
    """The newest partition the pipeline expects by now (None: no ``start:``, or none yet)."""
    from datetime import datetime, timezone

    zone = getattr(pipeline, "timezone", None) or "UTC"
    return _partitions(pipeline).newest_due(datetime.now(timezone.utc), zone)


def _late(pipeline: Any, store: Store, keys: list[str] | None = None) -> dict[str, list[str]]:
    """Late partition -> its late steps (``expect_by`` passed, not successful); ``keys``: only
    those partitions."""
    from jupyter_dataops.pipeline.definition.partitions import late_partitions

    return late_partitions(pipeline, store, keys=keys)


def _window(
    spec: Any, newest: str, outside: tuple[list[str], list[str]], limit: int, offset: int
) -> tuple[list[str], int]:
    """The page's keys and the grid's total: newest first, the recorded keys after the newest
    due one, then the due keys (``start:`` to ``newest``: counted, and only the page's built),
    then the recorded keys before ``start:``. Recorded keys of another period (left by an
    earlier ``every:``) are no rows."""
    above, below = ([k for k in keys if spec.is_key(k)] for keys in outside)
    due = spec.count(spec.start, newest)
    page: list[str] = above[offset : offset + limit]
    skip = max(0, offset - len(above))
    page += spec.newest(spec.start, newest, skip, limit - len(page))
    skip = max(0, offset - len(above) - due)
    page += below[skip : skip + limit - len(page)]
    return page, len(above) + due + len(below)


def grid_page(pipeline: Any, store: Store, *, limit: int = 14, offset: int = 0) -> dict[str, Any]:
    """One page of the grid (newest partition first) with ``every`` (hour/day/week/month or
    None) and a ``hint`` when there is nothing to show.

    A pipeline with ``start:`` pages its due partitions by arithmetic (a page of 14 hours builds
    14 keys, whatever the history's length) and reads only the recorded keys outside them."""
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
    newest = _newest_due(pipeline) if spec is not None else None
    if newest is None:  # no due range: the recorded partitions (and the late newest) are rows
        late = _late(pipeline, store) if spec is not None else {}
        page = store.partition_grid(
            pipeline.name, limit=limit, offset=offset, steps=steps, late=late
        )
        hint = NOT_PARTITIONED if spec is None else None if page["total"] else NO_RUNS
        return {**page, "every": every, "hint": hint}
    from jupyter_dataops.store.grid import check_page

    check_page(limit, offset)
    outside = store.partitions_outside(pipeline.name, spec.start, newest)
    keys, total = _window(spec, newest, outside, limit, offset)
    columns, rows = store.partition_rows(
        pipeline.name, keys, steps=steps, late=_late(pipeline, store, keys)
    )
    return {**empty, "steps": columns, "partitions": rows, "total": total, "hint": None}


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
