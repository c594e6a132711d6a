"""The factory's calendar: partitions (rows, newest first) × steps (columns) of a pipeline.

Each cell is the latest production step run of that partition and step (a re-run of a day
replaces the cell; the replaced run stays in the record), with its status and check counts. The
REST grid route (``server/actions.py``) and the panel's "Grid" section show this page; which
partitions are *due* (expected by the pipeline's ``partitions:`` but never run) and which are late
is the pipeline room's knowledge: the caller passes those keys in, the store answers from runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import NamedTuple, TypedDict

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, union_all

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import _SR, StoreBase, _iso
from jupyter_dataops.store.models import CHECK_STATUSES, PipelineRecord, Step
from jupyter_dataops.store.queries import _rows_with_counts


class GridCell(TypedDict):
    """The latest production run of one step for one partition."""

    run_id: int
    pipeline_run_id: int
    status: str
    attempt: int
    checks: dict[str, int]
    started_at: str | None
    ended_at: str | None
    late: bool


class GridRow(TypedDict):
    """One partition: a cell per step in the page's ``steps`` order (None: the step never ran
    for it) and its late steps."""

    partition: str
    cells: list[GridCell | None]
    late: list[str]


class GridPage(TypedDict):
    pipeline: str
    steps: list[str]
    partitions: list[GridRow]
    total: int
    limit: int
    offset: int


def check_page(limit: int, offset: int) -> None:
    """A StoreError unless ``limit >= 1`` and ``offset >= 0``."""
    if limit < 1 or offset < 0:
        raise StoreError(
            f"the grid needs limit >= 1 and offset >= 0 (got limit={limit}, offset={offset})."
        )


def _of_steps(conn, ids: list[int]) -> list:  # noqa: ANN001
    """The condition keeping the runs of these steps; none when they are every step of the
    store (one pipeline, the common case), so the planner reads the (partition, step_id, mode)
    index in key order instead of a step index and a sort (1M runs: 0.6 s instead of 5 s)."""
    if len(ids) == conn.scalar(select(func.count()).select_from(Step)):
        return []
    return [_SR.c.step_id.in_(ids)]


def _outside(conn, ids: list[int], first: str, last: str) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """The keys the steps ``ids`` recorded in production after ``last`` and before ``first``
    (ISO text order), newest first each, read from the (partition, step_id, mode) index
    without touching the keys in between."""
    steps = _of_steps(conn, ids)

    def keys(outside: ColumnElement[bool]) -> list[str]:
        q = (
            select(_SR.c.partition)
            .where(*steps, outside, _SR.c.mode == "production")
            .group_by(_SR.c.partition)
            .order_by(_SR.c.partition.desc())
        )
        return list(conn.scalars(q).all())

    return keys(_SR.c.partition > last), keys(_SR.c.partition < first)


def _oldest(conn, ids: list[int], length: int) -> str | None:  # noqa: ANN001
    """The oldest key of ``length`` a production run of the steps ``ids`` recorded: the least
    of each step's first key of that length in index 0016 (one statement; a key only test runs
    recorded is passed over)."""
    size = func.length(_SR.c.partition)
    key = None
    while True:
        after = [] if key is None else [_SR.c.partition > key]
        firsts = [
            select(
                select(func.min(_SR.c.partition))
                .where(_SR.c.step_id == i, size == length, *after)
                .scalar_subquery()
                .label("first")
            )
            for i in ids
        ]
        each = union_all(*firsts).subquery()
        key = conn.scalar(select(func.min(each.c.first)))
        production = select(_SR.c.id).where(
            _SR.c.step_id.in_(ids), _SR.c.partition == key, _SR.c.mode == "production"
        )
        if key is None or conn.scalar(production.limit(1)) is not None:
            return key


KEPT_COUNTS = 16  # the grids whose bucket counts a store keeps (each a few thousand rows at most)


class KeyBucket(NamedTuple):
    """Recorded keys of one length that share a prefix (a month of hours, a year of weeks):
    the least and the greatest (text order) and how many."""

    length: int
    least: str
    greatest: str
    count: int


# a span of keys of one length: (length, least, greatest), both bounds included; None: open
KeySpan = tuple[int, str | None, str | None]


class GridExtras:
    """The recorded keys a grid page does not compute (not due: another period's, or outside
    the due range), counted and read within one read transaction (``GridMixin.grid_extras``).

    Keys of one length are read from index 0017 (mode, length(partition), partition, step_id)
    one length at a time, so a count or a span of keys reads only that length's entries, in
    key order, never a row; the lengths ``prefixes`` does not name (keys of no period) are
    counted and read whole."""

    def __init__(
        self,
        conn,  # noqa: ANN001
        ids: list[int],
        length: int,
        first: str | None,
        last: str,
        prefixes: Mapping[int, int],
        counted: tuple[list[KeyBucket], int] | None = None,
    ) -> None:
        self._conn = conn
        self.counted = counted  # (buckets, unknown count): counted once, then kept
        self._steps = _of_steps(conn, ids) if ids else [_SR.c.step_id.in_([])]
        self._length, self._last = length, last
        self.first = first
        self._prefixes = dict(prefixes)

    def _branches(self, length: int) -> list[list[ColumnElement[bool]]]:
        """The conditions (one list a branch) keeping the not-due keys of ``length``: all of
        them, or for the due length those before the first due key and after the last (two
        index ranges, not one scan with a filter)."""
        size = func.length(_SR.c.partition)
        base = [_SR.c.mode == "production", size == length, *self._steps]
        # nothing due (no first key, or it comes after the last: keys of one length sort as
        # text in time order): every key of the length, once (the two ranges would overlap)
        if length != self._length or self.first is None or self.first > self._last:
            return [base]
        return [base + [_SR.c.partition < self.first], base + [_SR.c.partition > self._last]]

    def _keys(self, length: int, least: str | None = None, greatest: str | None = None):  # noqa: ANN202
        """One select a branch: the distinct keys of ``length`` between the bounds."""
        bounds = [] if least is None else [_SR.c.partition >= least]
        bounds += [] if greatest is None else [_SR.c.partition <= greatest]
        return [
            select(_SR.c.partition.label("key")).where(*where, *bounds).group_by(_SR.c.partition)
            for where in self._branches(length)
        ]

    def buckets(self) -> list[KeyBucket]:
        """``_buckets()``, counted once (or kept by the store while nothing was committed)."""
        return self._counts()[0]

    def unknown_count(self) -> int:
        """How many recorded keys have a length of no period (``_unknown_count()``, once)."""
        return self._counts()[1]

    def _counts(self) -> tuple[list[KeyBucket], int]:
        if self.counted is None:
            self.counted = (self._buckets(), self._unknown_count())
        return self.counted

    def _buckets(self) -> list[KeyBucket]:
        """The not-due keys of each length in ``prefixes`` grouped by their first
        ``prefixes[length]`` characters (one statement; keys of one length sort as text)."""
        parts = []
        for length, prefix in self._prefixes.items():
            for q in self._keys(length):
                keys = q.subquery()
                head = func.substr(keys.c.key, 1, prefix)
                parts.append(
                    select(
                        literal_column(str(int(length))).label("length"),
                        func.min(keys.c.key),
                        func.max(keys.c.key),
                        func.count(),
                    ).group_by(head)
                )
        if not parts:
            return []
        return [KeyBucket(*r) for r in self._conn.execute(union_all(*parts)).all()]

    def _other_lengths(self) -> list[ColumnElement[bool]]:
        """The length ranges between the period lengths (keys of no period)."""
        size = func.length(_SR.c.partition)
        known = sorted(self._prefixes)
        if not known:
            return [_SR.c.partition.is_not(None)]
        ranges = [size < known[0], size > known[-1]]
        ranges += [and_(size > a, size < b) for a, b in pairwise(known) if b > a + 1]
        return ranges

    def _unknown(self):  # noqa: ANN202
        return [
            select(_SR.c.partition.label("key"))
            .where(_SR.c.mode == "production", *self._steps, lengths)
            .group_by(_SR.c.partition)
            for lengths in self._other_lengths()
        ]

    def _unknown_count(self) -> int:
        """How many recorded keys have a length of no period (each length range in turn)."""
        keys = union_all(*self._unknown()).subquery()
        return int(self._conn.scalar(select(func.count()).select_from(keys)))

    def unknown_keys(self) -> list[str]:
        """The recorded keys of no period's length (few: no front door records them)."""
        return list(self._conn.scalars(union_all(*self._unknown())).all())

    def keys(self, spans: Iterable[KeySpan]) -> list[str]:
        """The not-due keys in ``spans`` (each: one length, bounds included)."""
        parts = [
            q for length, least, greatest in spans for q in self._keys(length, least, greatest)
        ]
        return list(self._conn.scalars(union_all(*parts)).all()) if parts else []

    def count(self, span: KeySpan) -> int:
        """How many not-due keys ``span`` holds (read from the index, not returned)."""
        keys = union_all(*self._keys(*span)).subquery()
        return int(self._conn.scalar(select(func.count()).select_from(keys)))


class GridMixin(StoreBase):
    """Partitions × steps: what ran for which period, what failed, what is missing."""

    def _pipeline_step_ids(self, conn, pipeline: str) -> dict[int, str]:  # noqa: ANN001
        rows = conn.execute(
            select(Step.id, Step.name)
            .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
            .where(PipelineRecord.name == pipeline)
            .order_by(Step.id)
        ).all()
        return {r.id: r.name for r in rows}

    def list_partitions(
        self, pipeline: str, *, limit: int | None = None, offset: int = 0, until: str | None = None
    ) -> list[str]:
        """The partition keys the pipeline's production step runs recorded, newest first
        (``until``: only those not after it, so the newest ``limit`` of them are read from the
        index, not every key).

        ISO keys of one period length sort as text in time order (``2026-09-01``,
        ``2026-W36``, ``2026-09``, ``2026-09-01T06``)."""
        with self._read() as conn:
            ids = list(self._pipeline_step_ids(conn, pipeline))
            if not ids:
                return []
            q = (
                select(_SR.c.partition)
                .where(
                    *_of_steps(conn, ids),
                    _SR.c.partition.is_not(None) if until is None else _SR.c.partition <= until,
                    _SR.c.mode == "production",
                )
                .group_by(_SR.c.partition)
                .order_by(_SR.c.partition.desc())
                .limit(limit)
                .offset(offset)
            )
            return list(conn.scalars(q).all())

    def partitions_of(self, step_run_ids: Iterable[int]) -> dict[int, str | None]:
        """Step run id -> the partition it ran for (None: no partition); unknown ids are left out."""
        ids = [int(i) for i in step_run_ids]
        if not ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(_SR.c.id, _SR.c.partition).where(_SR.c.id.in_(ids))).all()
        return {r.id: r.partition for r in rows}

    def grid_keys(
        self, pipeline: str, length: int, last: str, first: str | None = None
    ) -> tuple[str | None, list[str]]:
        """What a grid page of keys of ``length`` due up to ``last`` reads, in one transaction:
        the first due key (``first``; None: the oldest key of ``length`` a production run
        recorded, or None) and the recorded keys that are not due, newest first (ISO text
        order): those after ``last`` or before the first, and those of another length (ISO
        keys of one period have one length: another period's, left by an earlier
        ``every:``). Index 0016 (step_id, length(partition), partition) answers the oldest
        key and the other lengths without touching the keys in between. Every such key is
        read: the grid pages with ``grid_extras``, which counts them and reads a page's."""
        with self._read() as conn:
            ids = list(self._pipeline_step_ids(conn, pipeline))
            if not ids:
                return first, []
            first = first or _oldest(conn, ids, length)
            size = func.length(_SR.c.partition)
            other = select(_SR.c.partition).where(
                _SR.c.step_id.in_(ids),
                or_(size < length, size > length),
                _SR.c.mode == "production",
            )
            keys = set(conn.scalars(other.distinct()).all())
            if first is not None:
                keys.update(*_outside(conn, ids, first, last))
        return first, sorted(keys, reverse=True)

    @contextmanager
    def grid_extras(
        self,
        pipeline: str,
        length: int,
        last: str,
        first: str | None = None,
        *,
        prefixes: Mapping[int, int],
    ) -> Iterator[GridExtras]:
        """What a grid page of keys of ``length`` due up to ``last`` reads besides the due
        keys, in one read transaction: the first due key (``.first``; as ``grid_keys``) and
        the recorded keys that are not due (those of another length, and those of ``length``
        before the first or after ``last``), counted by prefix (``.buckets()``: ``prefixes``
        maps each period's key length to the characters its buckets share) and read by span
        (``.keys(spans)``, ``.count(span)``) so that a page reads only its own.

        The counts are kept (the newest ``KEPT_COUNTS`` of them) while the store's
        ``generation`` stays the same: nothing committed since, by any process, so the next
        page of the same grid reads only its own keys."""
        generation = self.generation()  # asked before reading: a commit after it is a miss
        kept = self._kept
        with self._read() as conn:
            ids = list(self._pipeline_step_ids(conn, pipeline))
            found = (first or _oldest(conn, ids, length)) if ids else first
            key = ("grid", pipeline, length, found, last, tuple(sorted(prefixes.items())))
            same = kept.get(key) if generation is not None else None
            counted = same[1] if same is not None and same[0] == generation else None
            extras = GridExtras(conn, ids, length, found, last, prefixes, counted)
            yield extras
        if generation is not None and extras.counted is not None and counted is None:
            with self._kept_lock:
                while len(kept) >= KEPT_COUNTS:
                    kept.pop(next(iter(kept)), None)
                kept[key] = (generation, extras.counted)

    def partition_rows(
        self,
        pipeline: str,
        keys: Sequence[str],
        *,
        steps: Sequence[str] | None = None,
        late: Mapping[str, Iterable[str]] | None = None,
    ) -> tuple[list[str], list[GridRow]]:
        """The columns (``partition_grid``'s) and a row per key of ``keys``, in that order."""
        late_steps = {str(k): set(v) for k, v in (late or {}).items()}
        with self._read() as conn:
            by_id = self._pipeline_step_ids(conn, pipeline)
            return self._rows(conn, by_id, list(keys), steps, late_steps)

    def _rows(
        self,
        conn,  # noqa: ANN001
        by_id: dict[int, str],
        page_keys: list[str],
        steps: Sequence[str] | None,
        late_steps: dict[str, set[str]],
    ) -> tuple[list[str], list[GridRow]]:
        columns = list(steps or [])
        columns += [n for n in by_id.values() if n not in columns]
        cells: dict[tuple[str, str], GridCell] = {}
        if by_id and page_keys:
            latest = (
                select(func.max(_SR.c.id))
                .where(
                    _SR.c.step_id.in_(list(by_id)),
                    _SR.c.partition.in_(page_keys),
                    _SR.c.mode == "production",
                )
                .group_by(_SR.c.partition, _SR.c.step_id)
            )
            page = select(_SR).where(and_(_SR.c.id.in_(latest))).cte("page")
            for r in conn.execute(_rows_with_counts(page)).mappings().all():
                cells[(r["partition"], r["step"])] = {
                    "run_id": r["id"],
                    "pipeline_run_id": r["pipeline_run_id"],
                    "status": r["status"],
                    "attempt": r["attempt"],
                    "checks": {s: int(r[f"n_{s}"]) for s in CHECK_STATUSES},
                    "started_at": _iso(r["started_at"]),
                    "ended_at": _iso(r["ended_at"]),
                    "late": r["step"] in late_steps.get(r["partition"], ()),
                }
        rows: list[GridRow] = [
            {
                "partition": key,
                "cells": [cells.get((key, name)) for name in columns],
                "late": [n for n in columns if n in late_steps.get(key, ())],
            }
            for key in page_keys
        ]
        return columns, rows

    def partition_grid(
        self,
        pipeline: str,
        *,
        limit: int = 14,
        offset: int = 0,
        steps: Sequence[str] | None = None,
        partitions: Iterable[str] | None = None,
        late: Mapping[str, Iterable[str]] | None = None,
    ) -> GridPage:
        """One page of the grid: partitions newest first (``limit`` rows from ``offset``).

        ``steps`` orders the columns (the pipeline's steps in file order; stored steps not named
        there follow). ``partitions`` adds the keys the pipeline expects (due but maybe never
        run) to those recorded. ``late`` maps a late partition to its late steps; their cells
        (and the row) say ``late``. (This reads every recorded key: the pipeline room pages a
        long history with ``grid_extras`` and ``partition_rows``.)
        """
        check_page(limit, offset)
        late_steps = {str(k): set(v) for k, v in (late or {}).items()}
        with self._read() as conn:
            by_id = self._pipeline_step_ids(conn, pipeline)
            keys: set[str] = set(partitions or ()) | set(late_steps)
            if by_id:
                keys |= set(
                    conn.scalars(
                        select(_SR.c.partition)
                        .where(
                            *_of_steps(conn, list(by_id)),
                            _SR.c.partition.is_not(None),
                            _SR.c.mode == "production",
                        )
                        .group_by(_SR.c.partition)
                    ).all()
                )
            ordered = sorted(keys, reverse=True)
            page_keys = ordered[offset : offset + limit]
            columns, rows = self._rows(conn, by_id, page_keys, steps, late_steps)
        return {
            "pipeline": pipeline,
            "steps": columns,
            "partitions": rows,
            "total": len(ordered),
            "limit": limit,
            "offset": offset,
        }


__all__ = [
    "GridCell",
    "GridExtras",
    "GridMixin",
    "GridPage",
    "GridRow",
    "KeyBucket",
    "KeySpan",
    "check_page",
]
