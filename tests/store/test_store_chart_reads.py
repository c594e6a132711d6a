"""A chart's window read in SQL (``Store.chart_window``): every window of a series is the same
slice of the whole series (one point per partition, its latest run, after the runs without one),
with where it sits (first, total), its points' parameters and stored times, whichever page is
asked for. Real stores: SQLite, and PostgreSQL via DATAOPS_TEST_PG_URL.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import update

from jupyter_dataops.store import chart_reads
from jupyter_dataops.store.models import StepRun


def record(store, value: float, *, partition=None, status="success", mode="production") -> int:
    prid = store.create_pipeline_run("factory", partition=partition, mode=mode)
    srid = store.create_step_run(prid, "load", parameters={"day": partition or "none", "n": 3})
    store.start_step_run(srid)
    store.record_metric(srid, "row_count", value, suite="q")
    store.finish_step_run(srid, status, error=None if status == "success" else "boom")
    store.finish_pipeline_run(prid)
    return srid


def whole_series(store) -> list[dict]:
    """The series as a chart draws it, from every point (``metric_series``): one point per
    partition, its latest run, in partition order after the runs without a partition."""
    plain, latest = [], {}
    for p in store.metric_series("load", "row_count", pipeline="factory"):
        if p["partition"] is None:
            plain.append(p)
        else:
            latest[p["partition"]] = p
    return plain + [latest[k] for k in sorted(latest)]


def check_every_window(store, expected: list[dict]) -> None:
    total = len(expected)
    for last, before in itertools.product((None, 1, 3, 7, 100), (None, 1, 2, 5, 9, total, 99)):
        got = store.chart_window("load", "row_count", pipeline="factory", last=last, before=before)
        end = total if before is None else min(before, total)
        start = 0 if last is None else max(0, end - last)
        assert got["total"] == total and got["first"] == start, (last, before)
        want = expected[start:end]
        points = chart_reads.points(got["columns"])  # read as columns, one list per field
        assert [p["step_run_id"] for p in points] == [p["step_run_id"] for p in want]
        for p, w in zip(points, want, strict=True):
            assert {k: p[k] for k in w} == w  # every field metric_series gives, the same
            assert p["parameters"] == {"day": p["partition"] or "none", "n": 3}


@pytest.mark.parametrize("by_id", [900, 2], ids=["pages-by-id", "long-pages"])
def test_every_window_of_a_series_without_partitions_is_its_slice(store, by_id, monkeypatch):
    # a page up to _IN_LIST points is found on the metrics index, then read by id; a longer one
    # is read in one ordered pass
    monkeypatch.setattr(chart_reads, "_IN_LIST", by_id)
    store.upsert_step("factory", "load", notebook="load.ipynb")
    for i in range(12):
        record(store, 10.0 + i, status="failed" if i == 4 else "success")
    record(store, 99.0, mode="test")  # not production: never charted
    expected = whole_series(store)
    assert len(expected) == 12
    check_every_window(store, expected)


def test_every_window_of_a_partitioned_series_is_its_slice_with_re_runs_replacing_a_day(store):
    store.upsert_step("factory", "load", notebook="load.ipynb")
    record(store, 1.0)  # before the pipeline had partitions
    record(store, 2.0)
    for day, value in [("05", 5.0), ("01", 1.0), ("03", 3.0), ("02", 2.0), ("04", 4.0)]:
        record(store, value, partition=f"2026-09-{day}")
    record(store, 30.0, partition="2026-09-03")  # a re-run replaces the 3rd's point
    record(store, 31.0, partition="2026-09-01", status="failed")  # so does a failed re-run
    record(store, 3.0)  # a run without a partition after them
    expected = whole_series(store)
    assert [p["partition"] for p in expected] == [None] * 3 + [
        f"2026-09-{d:02d}" for d in range(1, 6)
    ]
    assert [p["value"] for p in expected if p["partition"]] == [31.0, 2.0, 30.0, 4.0, 5.0]
    check_every_window(store, expected)


def test_an_unknown_step_has_an_empty_window(store):
    got = store.chart_window("nope", "row_count", last=90)
    assert (got["total"], got["first"]) == (0, 0)
    assert got["columns"] == {name: [] for name in chart_reads.FIELDS}


def test_times_read_as_the_store_writes_them_whole_seconds_too(store):
    # SQLite's text is cut and PostgreSQL's formatted by the server, never parsed per row: each
    # point's time is still _iso's (no fraction on a whole second)
    store.upsert_step("factory", "load", notebook="load.ipynb")
    ids = [record(store, v) for v in (1.0, 2.0, 3.0)]
    starts = [
        dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 12, 6, 12, 0, 0, 500000, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 12, 6, 13, 0, 0, 1, tzinfo=dt.timezone.utc),
    ]
    with store.engine.begin() as conn:
        for srid, start in zip(ids, starts, strict=True):
            conn.execute(update(StepRun).where(StepRun.id == srid).values(started_at=start))
    got = chart_reads.points(store.chart_window("load", "row_count", pipeline="factory")["columns"])
    assert [p["time"] for p in got] == [
        "2026-12-06T12:00:00+00:00",
        "2026-12-06T12:00:00.500000+00:00",
        "2026-12-06T13:00:00.000001+00:00",
    ]
    assert [p["time"] for p in got] == [p["time"] for p in whole_series(store)]
