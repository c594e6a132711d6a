"""The factory's calendar as the panel's "Grid" shows it: partitions × steps of the pipeline.

The store answers what ran (``Store.partition_rows``: each partition's latest production run of
each step; ``Store.grid_extras``: the recorded keys that are not due, counted in buckets and read
by span); this module adds what the pipeline file knows: the column order (the steps as
``dataops.yaml`` lists them), the partitions that are due (counted, and only a page's built),
where the other recorded keys fall among them (also those of another period, left by an earlier
``every:``: counted, and only the page's read, ``_Page``), and which are late (``expect_by``).
The REST route ``GET /dataops/api/grid`` serves ``grid_page``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.partitions import (
    KEY_LENGTHS,
    floor,
    format_key,
    key_start,
    late_partitions,
    period_of,
    periods_between,
    shift_start,
)

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store
    from jupyter_dataops.store.grid import GridExtras

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


# the recorded keys not due are counted in buckets: a month of hours or days, a year of weeks
# or months (the characters their ISO keys share)
BUCKET_PREFIX = {"hour": 7, "day": 7, "week": 6, "month": 4}


@dataclass(frozen=True)
class _Bucket:
    """Recorded keys of one period (ISO text of ``length``) whose periods start from ``least``
    to ``greatest``; ``last_key``: the greatest key."""

    length: int
    every: str
    least: datetime
    greatest: datetime
    count: int
    last_key: str


def _ceil(every: str, moment: datetime) -> datetime | None:
    """The first start of an ``every`` period at or after ``moment`` (None: after year 9999)."""
    start = floor(every, moment)
    try:
        return start if start == moment else shift_start(every, start, 1)
    except (OverflowError, ValueError):
        return None


def _before(every: str, moment: datetime) -> datetime | None:
    """The last start of an ``every`` period before ``moment`` (None: before year 1)."""
    start = _ceil(every, moment)
    try:
        return shift_start(every, start, -1) if start is not None else None
    except (OverflowError, ValueError):
        return None


class _Page:
    """A page of the grid from counts: the due keys (``first`` to ``newest``, arithmetic) and
    the recorded keys not due, counted in buckets (``GridExtras.buckets``) and read only for
    the page's stretch of time. Keys are in the order ``_window`` gives (newest first by the
    moment each key's period starts, then by text; keys of no period last, by text): a moment
    ``t`` cuts that order in two, the keys starting at or after ``t`` before the others, so the
    keys a cut leaves above are counted (``_above``) and only those between two cuts read."""

    def __init__(self, spec: Any, first: str | None, newest: str, extras: GridExtras) -> None:
        self.spec, self.extras = spec, extras
        self.first = spec.parse(first) if first is not None else None
        self.newest = spec.parse(newest)
        self.due = spec.count(first, newest) if first is not None else 0
        self.buckets: list[_Bucket] = []
        self.loose: set[str] = set()  # keys of a bucket holding a key of no period: one by one
        self.junk: list[str] = []  # keys of a period's length that name no period
        for b in extras.buckets():
            low, high = key_start(b.least), key_start(b.greatest)
            if low and high:
                self.buckets.append(_Bucket(b.length, low[0], low[1], high[1], b.count, b.greatest))
                continue
            for key in extras.keys([(b.length, b.least, b.greatest)]):
                found = key_start(key)
                if found is None:
                    self.junk.append(key)
                else:
                    self.loose.add(key)
                    self.buckets.append(_Bucket(b.length, *found, found[1], 1, key))
        self.starts = sorted({b.least for b in self.buckets})
        self.known = self.due + sum(b.count for b in self.buckets)
        self.unknown = extras.unknown_count() + len(self.junk)

    def _due_from(self, moment: datetime) -> int:
        """The due keys starting at or after ``moment``."""
        if self.first is None or moment <= self.first:
            return self.due
        start = _ceil(self.spec.every, moment)
        if start is None or start > self.newest:
            return 0
        return periods_between(self.spec.every, start, self.newest) + 1

    def _bounds(self, moment: datetime) -> tuple[int, int]:
        """At least and at most how many keys start at or after ``moment`` (a bucket whose
        keys start on both sides of it: counted in the most only)."""
        least = self._due_from(moment) + sum(b.count for b in self.buckets if b.least >= moment)
        split = sum(b.count for b in self.buckets if b.least < moment <= b.greatest)
        return least, least + split

    def _above(self, moment: datetime) -> int:
        """How many keys start at or after ``moment``: the buckets split by it counted from
        ``moment`` on (one per period at most, a bucket's keys only)."""
        count = self._bounds(moment)[0]
        for b in self.buckets:
            if b.least < moment <= b.greatest:
                start = _ceil(b.every, moment)
                count += self.extras.count((b.length, format_key(b.every, start), b.last_key))
        return count

    def _cut(self, test: Callable[[datetime], bool], last: bool) -> datetime | None:
        """The first (``last``: the last) bucket start passing ``test``, which passes the
        starts up to some one (``last``) or from some one on; None: none passes."""
        lo, hi = 0, len(self.starts)
        while lo < hi:  # the first index whose start passes (last: fails)
            mid = (lo + hi) // 2
            if test(self.starts[mid]) != last:
                hi = mid
            else:
                lo = mid + 1
        i = lo - 1 if last else lo
        return self.starts[i] if 0 <= i < len(self.starts) else None

    def _between(self, low: datetime | None, high: datetime | None) -> list[str]:
        """The recorded keys not due starting from ``low`` (None: the oldest) to before
        ``high`` (None: the newest), read by span of each period that has keys there."""
        spans = []
        for every in {b.every for b in self.buckets if b.last_key not in self.loose}:
            least = _ceil(every, low) if low is not None else None
            greatest = _before(every, high) if high is not None else None
            if (low is not None and least is None) or (high is not None and greatest is None):
                continue
            if least is not None and greatest is not None and least > greatest:
                continue
            spans.append(
                (
                    KEY_LENGTHS[every],
                    format_key(every, least) if least is not None else None,
                    format_key(every, greatest) if greatest is not None else None,
                )
            )
        keys = [k for k in self.extras.keys(spans) if k not in self.loose]
        for key in self.loose:
            start = key_start(key)[1]
            if (low is None or start >= low) and (high is None or start < high):
                keys.append(key)
        return keys

    def _due_between(self, low: datetime | None, high: datetime | None) -> tuple[str | None, str]:
        """The first and the newest due key starting from ``low`` to before ``high`` (first
        None: none does)."""
        every, first, newest = self.spec.every, self.first, self.newest
        if first is not None and low is not None:
            start = _ceil(every, low)
            first = max(first, start) if start is not None else None
        if first is not None and high is not None:
            end = _before(every, high)
            newest = min(newest, end) if end is not None else newest
            first = first if end is not None else None
        if first is not None and first > newest:
            first = None
        return (self.spec.format(first) if first else None), self.spec.format(newest)

    def window(self, limit: int, offset: int) -> tuple[list[str], int]:
        """The page's keys and the grid's total (as ``_window`` over every key)."""
        total = self.known + self.unknown
        stop = min(offset + limit, total)
        page: list[str] = []
        if offset < min(stop, self.known):
            end = min(stop, self.known)
            # the latest cut at most ``offset`` keys are surely above, the earliest cut at
            # least ``end`` keys are: the page's known keys start between them
            high = self._cut(lambda t: self._bounds(t)[1] <= offset, last=False)
            low = self._cut(lambda t: self._bounds(t)[0] >= end, last=True)
            above = self._above(high) if high is not None else 0
            first, newest = self._due_between(low, high)
            page, _ = _window(
                self.spec, first, newest, self._between(low, high), end - offset, offset - above
            )
        if stop > self.known:
            rest = sorted([*self.extras.unknown_keys(), *self.junk], reverse=True)
            page += rest[max(offset - self.known, 0) : stop - self.known]
        return page, total


def grid_page(pipeline: Any, store: Store, *, limit: int = 14, offset: int = 0) -> dict[str, Any]:
    """One page of the grid (newest partition first) with ``every`` (hour/day/week/month or
    None) and a ``hint`` when there is nothing to show. Each row says its key's ``every``: a
    row of another period than the grid's was recorded under an earlier ``every:`` and is not
    on the current schedule.

    The due partitions run from ``start:`` (without it: the oldest key of the period that
    ran) to the newest a tick now processes; they are paged by arithmetic (a page of 14 hours
    builds 14 keys, whatever the history's length); the recorded keys outside them or of
    another period are counted by bucket and only those of the page's stretch of time read."""
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
    prefixes = {KEY_LENGTHS[p]: n for p, n in BUCKET_PREFIX.items()}
    with store.grid_extras(
        pipeline.name, spec.key_length, newest, spec.start, prefixes=prefixes
    ) as extras:
        first = extras.first
        if first is not None and spec.parse(first) > spec.parse(newest):
            first = None  # nothing due yet: the recorded keys (all outside) are the rows
        keys, total = _Page(spec, first, newest, extras).window(limit, offset)
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
