"""The grid counts the recorded keys that are not due (another period's, left by an earlier
``every:``, and those outside the due range) in buckets and reads only the page's: every page
is still the slice of all keys sorted by the moment each key's period starts (then by text;
keys of no period last), with the same total. Histories mixing hour, day, week and month keys,
test runs and another pipeline's keys, on a real store (SQLite and PostgreSQL), rows written
with one bulk insert an example."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from jupyter_dataops.pipeline.definition.partitions import (
    KEY_LENGTHS,
    PERIODS,
    Partitions,
    floor,
    key_start,
    shift_start,
)
from jupyter_dataops.pipeline.views.grid import BUCKET_PREFIX, _Page
from jupyter_dataops.store.models import StepRun

NAMES = itertools.count()
PREFIXES = dict(BUCKET_PREFIX)


def in_time(key: str) -> tuple:
    found = key_start(key)
    return (found is not None, found[1] if found else datetime.min, key)


def record(store, pipeline: str, runs: list[tuple[str, str | None, str]]) -> None:
    """Step runs (step, partition, mode) of ``pipeline`` in one insert (real rows)."""
    pr = store.create_pipeline_run(pipeline)
    steps = {}
    for step in sorted({s for s, _, _ in runs} | {"ingest"}):
        sr = store.create_step_run(pr, step)  # no partition: never a row of the grid
        store.finish_step_run(sr, "success")
        with store.engine.connect() as conn:
            steps[step] = conn.scalar(select(StepRun.step_id).where(StepRun.id == sr))
    rows = [
        {"pipeline_run_id": pr, "step_id": steps[s], "status": "success", "mode": mode,
         "partition": key}
        for s, key, mode in runs
    ]  # fmt: skip
    if rows:
        with store.engine.begin() as conn:
            conn.execute(insert(StepRun), rows)


def every_page(store, pipeline, spec, newest, prefixes, limit) -> tuple[list[str], int]:
    lengths = {KEY_LENGTHS[p]: n for p, n in prefixes.items()}
    keys, offset, total = [], 0, None
    while total is None or offset < total + limit:
        with store.grid_extras(
            pipeline, spec.key_length, newest, spec.start, prefixes=lengths
        ) as x:
            first = x.first
            if first is not None and spec.parse(first) > spec.parse(newest):
                first = None
            page, total = _Page(spec, first, newest, x).window(limit, offset)
        assert len(page) == max(0, min(limit, total - offset))
        keys += page
        offset += limit
    return keys, total


def reference(spec, newest, recorded: set[str]) -> list[str]:
    """Every key (the due range, from ``start:`` or the oldest key of the period, and every
    recorded key) sorted by time: the grid as it read every key."""
    own = sorted(k for k in recorded if spec.is_key(k))
    first = spec.start or (own[0] if own else None)
    due = set()
    if first is not None and spec.parse(first) <= spec.parse(newest):
        due = set(spec.range(first, newest))
    return sorted(due | recorded, key=in_time, reverse=True)


# keys within about two months of one moment, so that the periods' buckets overlap in time
SPREAD = {"hour": 1500, "day": 60, "week": 9, "month": 2}
key_of = st.sampled_from(PERIODS).flatmap(
    lambda p: st.tuples(st.just(p), st.integers(-SPREAD[p], SPREAD[p]))
)


@pytest.mark.parametrize("junk", [False, True])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    every=st.sampled_from(PERIODS),
    moment=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
    length=st.integers(-3, 60),
    start=st.sampled_from([None, -5, 0, 7]),
    keys=st.lists(key_of, max_size=40),
    tests=st.lists(key_of, max_size=6),
    others=st.lists(key_of, max_size=6),
    prefixes=st.fixed_dictionaries(
        {
            "hour": st.sampled_from([4, 7, 10, 13]),
            "day": st.sampled_from([4, 7, 10]),
            "week": st.sampled_from([4, 6, 8]),
            "month": st.sampled_from([4, 7]),
        }
    ),
    limit=st.integers(2, 25),
)
def test_every_page_counted_by_buckets_is_the_slice_of_every_key_in_time(
    store, junk, every, moment, length, start, keys, tests, others, prefixes, limit
):
    def key(period: str, n: int) -> str:
        return Partitions(period).format(shift_start(period, floor(period, moment), n))

    parts = Partitions(every)
    newest = parts.format(shift_start(every, floor(every, moment), length))
    spec = Partitions(every, start=None if start is None else key(every, start))
    pipeline, other = f"p{next(NAMES)}", f"o{next(NAMES)}"
    recorded = {key(p, n) for p, n in keys}
    runs = [
        (step, k, "production") for k in recorded for step in ("ingest", "report")[: 1 + len(k) % 2]
    ]
    runs += [("report", key(p, n), "test") for p, n in tests]  # a test run: no row
    if junk:  # keys of no period: after every other, by text
        recorded |= {"not a key", "", "2026-02-14T5"}
        runs += [("ingest", k, "production") for k in ("not a key", "", "2026-02-14T5")]
    record(store, pipeline, runs)
    if others:
        record(store, other, [("load", key(p, n), "production") for p, n in others])

    expected = reference(spec, newest, recorded)
    got, total = every_page(store, pipeline, spec, newest, prefixes, limit)
    assert total == len(expected)
    assert got == expected


def test_a_bucket_holding_a_key_of_no_period_is_read_key_by_key(store):
    """Keys of a period's length that name no period (no front door records them; the store
    takes any text) go last when they end a bucket, as when every key was read."""
    days = ["2026-01-20", "2026-02-00", "2026-02-27", "2026-02-28", "2026-02-31", "2026-03-01"]
    record(store, "factory", [("ingest", k, "production") for k in days + ["2026-02-14T05"]])
    spec = Partitions("hour", start="2026-03-01T20")
    for limit in (1, 2, 3):
        got, total = every_page(store, "factory", spec, "2026-03-01T23", PREFIXES, limit)
        assert got == [
            "2026-03-01T23", "2026-03-01T22", "2026-03-01T21", "2026-03-01T20", "2026-03-01",
            "2026-02-28", "2026-02-27", "2026-02-14T05", "2026-01-20", "2026-02-31", "2026-02-00",
        ]  # fmt: skip
        assert total == 11


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_a_start_after_the_newest_key_counts_each_recorded_key_once(store, limit):
    """Nothing is due yet (``start:`` after the newest key a tick processes): a recorded key
    after the newest is also before the start, and is one row, counted once (CI: hypothesis
    found a total of 5 for 4 keys)."""
    spec = Partitions("hour", start="2001-01-01T07")
    newest = "2001-01-01T00"
    recorded = {"2001-01-01T01", "2001-01-01T09", "2000-12-31T23", "2001-01-01", "not a key"}
    record(store, "early", [("ingest", k, "production") for k in recorded])
    got, total = every_page(store, "early", spec, newest, PREFIXES, limit)
    assert total == len(recorded)
    assert got == reference(spec, newest, recorded)
