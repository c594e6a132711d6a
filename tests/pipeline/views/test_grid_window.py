"""The grid pages a long history by arithmetic: each page's due keys are built from the newest
due one back (not every key since ``start:``, nor every recorded key without it), and the
pages, read one after another, are the rows the grid always meant: every due partition,
recorded or missing, plus the recorded keys outside the due range or of another period (an
earlier ``every:``, marked by their own ``every``), newest first by the moment each starts,
with the late steps of the page's partitions. Real store (SQLite and PostgreSQL), real
pipeline file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from builders import record_partition, write_notebook
from hypothesis import given
from hypothesis import strategies as st

from jupyter_dataops.pipeline.definition.partitions import (
    PERIODS,
    Partitions,
    floor,
    late_partitions,
    parse_key,
    period_of,
    shift_start,
)
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.views.grid import _window, grid_page

STEPS = ("ingest", "report")


def pipeline_file(root: Path, every: str, start: str | None) -> Path:
    for step in STEPS:
        write_notebook(root / f"{step}.ipynb", "run_date = ''")
    path = root / "dataops.yaml"
    since = f", start: '{start}'" if start else ""
    path.write_text(
        f"pipeline: factory\npartitions: {{every: {every}{since}}}\n"
        "expect_by: '00:00'\nsteps:\n" + "".join(f"  {s}: {{notebook: {s}.ipynb}}\n" for s in STEPS)
    )
    return path


def in_time(key: str) -> tuple:
    """Newest first means: by the moment the key's own period starts, then by text."""
    every = period_of(key)
    return (every is not None, parse_key(every, key) if every else datetime.min, key)


def read_every_page(pipeline, store, limit: int = 7) -> tuple[list[dict], int]:
    rows, offset = [], 0
    while True:
        page = grid_page(pipeline, store, limit=limit, offset=offset)
        assert len(page["partitions"]) == min(limit, max(0, page["total"] - offset))
        rows += page["partitions"]
        offset += limit
        if offset >= page["total"]:
            return rows, page["total"]


def record(store, partition: str, status: str = "success") -> None:
    pr = store.create_pipeline_run("factory", partition=partition)
    for step in STEPS:
        sr = store.create_step_run(pr, step)
        store.start_step_run(sr)
        store.finish_step_run(sr, status, error=None if status == "success" else "broke")
    store.finish_pipeline_run(pr)


def other_periods(every: str, moment: datetime) -> set[str]:
    """A key of each other period holding ``moment`` (inside the due range, where text order
    is not time order: a week key sorts after the year's days) and one long before."""
    keys = {Partitions(p).format(moment) for p in PERIODS if p != every}
    return keys | {"2020-W10" if every != "week" else "2020-01-01"}


@pytest.mark.parametrize(("every", "periods"), [("day", 40), ("hour", 50), ("month", 20)])
def test_pages_read_in_turn_are_every_due_and_recorded_partition_newest_first(
    store, tmp_path, every, periods
):
    parts = Partitions(every)
    newest = parts.previous(parts.format(datetime.now(timezone.utc).replace(tzinfo=None)))
    start = newest  # offset 1: a tick now processes the period before the current one
    for _ in range(periods - 1):
        start = parts.previous(start)
    pipeline = load_pipeline(pipeline_file(tmp_path, every, start))

    before_start = parts.previous(parts.previous(start))
    ahead = parts.next(parts.next(newest))  # run early by hand, after the newest due
    recorded = [before_start, start, parts.next(start), newest, ahead]
    middle = start
    for _ in range(periods // 2):
        middle = parts.next(middle)
    for key in recorded:
        record(store, key)
    record(store, middle, "failed")
    # keys of other periods (recorded while the pipeline said another `every:`)
    others = other_periods(
        every, parts.parse(middle) + (parts.end(middle) - parts.parse(middle)) / 2
    )
    for key in others:
        record(store, key)

    due = parts.range(start, newest)
    expected = sorted(set(due) | {before_start, ahead, middle} | others, key=in_time, reverse=True)
    late = late_partitions(pipeline, store)  # over the whole lookback, as before paging
    rows, total = read_every_page(pipeline, store)
    if pipeline.partitions.newest_due(datetime.now(timezone.utc)) != newest:
        pytest.skip("a new period began while the pages were read")  # once an hour at most
    assert total == len(expected)
    assert [row["partition"] for row in rows] == expected
    for row in rows:
        key = row["partition"]
        assert row["every"] == (every if key not in others else period_of(key) or None)
        assert row["late"] == late.get(key, [])
        assert key not in late or key not in others  # another period's key has no deadline
        cells = [c["status"] if c else None for c in row["cells"]]
        ran = key in recorded or key in others
        want = "failed" if key == middle else "success" if ran else None
        assert cells == [want, want], key
    assert any(key != middle for key in late)  # missing partitions past their deadline
    past = grid_page(pipeline, store, limit=7, offset=len(expected) + 3)
    assert past["partitions"] == [] and past["total"] == len(expected)


def test_days_recorded_before_the_pipeline_went_hourly_stay_in_the_grid(store, tmp_path):
    """`every: day` for a week, then `every: hour`: the days that ran are still rows (marked
    `every: day`, each where its day starts among the hours), and the hours are paged as
    always; the same once `start:` is taken out (the oldest hour that ran starts the grid)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    days, hours = Partitions("day"), Partitions("hour")
    ran_days = days.range(
        days.format(now - timedelta(days=7)), days.format(now - timedelta(days=1))
    )
    for day in ran_days:
        record_partition(store, "factory", day, {s: ("success", ["pass"]) for s in STEPS})
    first_hour = hours.format(now - timedelta(hours=30))
    record_partition(store, "factory", first_hour, {s: ("failed", ["fail"]) for s in STEPS})
    newest = hours.previous(hours.format(now))

    hourly = load_pipeline(pipeline_file(tmp_path, "hour", first_hour))
    rows, total = read_every_page(hourly, store, limit=5)
    if hours.key_of_tick(datetime.now(timezone.utc)) != newest:
        pytest.skip("a new hour began while the pages were read")
    expected = sorted(
        set(hours.range(first_hour, newest)) | set(ran_days), key=in_time, reverse=True
    )
    assert [r["partition"] for r in rows] == expected and total == len(expected)
    by_key = {r["partition"]: r for r in rows}
    for day in ran_days:
        assert by_key[day]["every"] == "day" and by_key[day]["late"] == []
        assert [c["status"] for c in by_key[day]["cells"]] == ["success", "success"]
        assert all(c["checks"]["pass"] == 1 for c in by_key[day]["cells"])
    assert [c["status"] for c in by_key[first_hour]["cells"]] == ["failed", "failed"]
    assert {r["every"] for r in rows if r["partition"] not in ran_days} == {"hour"}

    no_start = load_pipeline(pipeline_file(tmp_path, "hour", None))
    again, total = read_every_page(no_start, store, limit=5)
    if hours.key_of_tick(datetime.now(timezone.utc)) != newest:
        pytest.skip("a new hour began while the pages were read")
    assert [r["partition"] for r in again] == expected and total == len(expected)
    assert [r["every"] for r in again] == [r["every"] for r in rows]


def test_without_start_the_oldest_key_that_ran_starts_the_grid(store, tmp_path):
    """No `start:`: the due range runs from the oldest recorded key of the period (one indexed
    read) to the newest a tick processes; the days missing in between are rows with empty
    cells, a day run early by hand is a row above, and nothing recorded is a hint."""
    pipeline = load_pipeline(pipeline_file(tmp_path, "day", None))
    empty = grid_page(pipeline, store)
    assert empty["total"] == 0 and empty["partitions"] == [] and "dataops run" in empty["hint"]

    parts = pipeline.partitions
    newest = parts.previous(parts.format(datetime.now(timezone.utc).replace(tzinfo=None)))
    oldest = parts.format(parts.parse(newest) - timedelta(days=20))
    ahead = parts.next(parts.next(newest))
    for key in (oldest, parts.next(parts.next(oldest)), ahead):
        record(store, key)
    record(store, "2019-03")  # a month recorded long ago: its own row, at the end
    rows, total = read_every_page(pipeline, store, limit=6)
    if parts.key_of_tick(datetime.now(timezone.utc)) != newest:
        pytest.skip("a new day began while the pages were read")
    expected = [ahead, *parts.range(oldest, newest)[::-1], "2019-03"]
    assert [r["partition"] for r in rows] == expected and total == len(expected)
    assert rows[-1]["every"] == "month" and rows[-1]["late"] == []
    missing = [r for r in rows if r["cells"] == [None, None]]
    assert len(missing) == len(expected) - 4 and all(r["every"] == "day" for r in missing)
    # every missing day before today's deadline is late only if a run was recorded for it:
    # without `start:` nothing else is expected (lateness as before), the newest aside
    late = {r["partition"] for r in rows if r["late"]}
    assert late <= {newest}


@given(
    every=st.sampled_from(PERIODS),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    length=st.integers(0, 80),
    extras=st.lists(st.tuples(st.sampled_from(PERIODS), st.integers(-120, 200)), max_size=25),
    junk=st.booleans(),
    offset=st.integers(0, 120),
    limit=st.integers(1, 30),
)
def test_a_page_of_due_and_recorded_keys_is_the_slice_of_every_key_in_time(
    every, moment, length, extras, junk, offset, limit
):
    """The due keys are counted and stepped back from the newest, the recorded ones (outside
    the due range, of any period, or of none) placed among them by arithmetic: a page is the
    slice of all of them sorted by the moment each starts."""
    parts = Partitions(every)
    first = parts.format(moment)
    last = shift_start(every, parts.parse(first), max(length - 1, 0))
    last = parts.format(last)
    due = parts.range(first, last) if length else []
    extra = set()
    for other, n in extras:
        key = Partitions(other).format(shift_start(other, floor(other, moment), n))
        if key not in due:  # the store reads only the keys outside the due range
            extra.add(key)
    if junk:
        extra.add("not a key")
    every_key = sorted(set(due) | extra, key=in_time, reverse=True)
    page, total = _window(parts, first if length else None, last, extra, limit, offset)
    assert total == len(every_key)
    assert page == every_key[offset : offset + limit]
