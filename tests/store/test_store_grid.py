"""The grid query: partitions × steps, each cell the partition's latest production run of the
step, on a real SQLite file and a real PostgreSQL (DATAOPS_TEST_PG_URL)."""

from __future__ import annotations

import pytest
from builders import record_partition

from jupyter_dataops.errors import StoreError


def run_partition(store, partition, outcomes, *, pipeline="factory", mode="production"):
    """One pipeline run of ``factory`` for ``partition`` (``builders.record_partition``)."""
    return record_partition(store, pipeline, partition, outcomes, mode=mode)


def test_cells_hold_each_partitions_latest_run_newest_partition_first(store):
    day1 = run_partition(
        store,
        "2026-09-01",
        {"ingest": ("success", ["pass", "pass"]), "report": ("success", ["pass", "warn"])},
    )
    first2 = run_partition(
        store,
        "2026-09-02",
        {"ingest": ("failed", ["pass", "fail", "error"]), "report": ("skipped", [])},
    )
    rerun2 = run_partition(
        store, "2026-09-02", {"ingest": ("success", ["pass", "pass", "baseline"])}
    )
    run_partition(store, "2026-09-03", {"ingest": ("success", [])}, mode="test")  # never shown
    run_partition(store, None, {"ingest": ("success", [])})  # an unpartitioned run: no row

    page = store.partition_grid("factory", steps=["ingest", "clean", "report"])

    assert page["steps"] == ["ingest", "clean", "report"]
    assert [r["partition"] for r in page["partitions"]] == ["2026-09-02", "2026-09-01"]
    assert page["total"] == 2
    day2, day1_row = page["partitions"]
    ingest, clean, report = day2["cells"]
    # the re-run replaced the failed ingest; report kept its (skipped) run of the first attempt
    assert ingest["run_id"] == rerun2["ingest"] != first2["ingest"]
    assert ingest["status"] == "success"
    assert ingest["checks"] == {"pass": 2, "warn": 0, "fail": 0, "error": 0, "baseline": 1}
    assert clean is None
    assert (report["run_id"], report["status"]) == (first2["report"], "skipped")
    assert day1_row["cells"][0]["run_id"] == day1["ingest"]
    assert day1_row["cells"][2]["checks"]["warn"] == 1
    assert day1_row["cells"][0]["ended_at"] and day2["late"] == []


def test_due_partitions_without_runs_and_late_steps_are_rows_paged_newest_first(store):
    run_partition(store, "2026-09-01", {"ingest": ("success", ["pass"])})
    run_partition(store, "2026-09-03", {"ingest": ("failed", ["fail"])})
    due = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"]

    page = store.partition_grid(
        "factory",
        steps=["ingest"],
        partitions=due,
        late={"2026-09-04": ["ingest"], "2026-09-03": ["ingest"]},
        limit=3,
    )
    assert page["total"] == 4 and (page["limit"], page["offset"]) == (3, 0)
    rows = page["partitions"]
    assert [r["partition"] for r in rows] == ["2026-09-04", "2026-09-03", "2026-09-02"]
    assert rows[0]["cells"] == [None] and rows[0]["late"] == ["ingest"]
    assert rows[1]["cells"][0]["late"] is True and rows[1]["cells"][0]["status"] == "failed"
    assert rows[2]["cells"] == [None] and rows[2]["late"] == []

    older = store.partition_grid("factory", steps=["ingest"], partitions=due, limit=3, offset=3)
    assert [r["partition"] for r in older["partitions"]] == ["2026-09-01"]
    assert older["partitions"][0]["cells"][0]["checks"]["pass"] == 1
    assert store.list_partitions("factory") == ["2026-09-03", "2026-09-01"]
    assert store.list_partitions("factory", limit=1, offset=1) == ["2026-09-01"]


def test_other_pipelines_and_unknown_pipelines_stay_apart(store):
    run_partition(store, "2026-09-01", {"ingest": ("success", [])}, pipeline="other")
    run_partition(store, "2026-W36", {"load": ("success", [])}, pipeline="weekly")
    empty = store.partition_grid("factory")
    assert (empty["partitions"], empty["steps"], empty["total"]) == ([], [], 0)
    weekly = store.partition_grid("weekly")
    assert weekly["steps"] == ["load"]
    assert [r["partition"] for r in weekly["partitions"]] == ["2026-W36"]
    assert store.list_partitions("nope") == []


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (5, -1)])
def test_a_bad_page_is_refused_with_a_message(store, limit, offset):
    with pytest.raises(StoreError, match="limit >= 1 and offset >= 0"):
        store.partition_grid("factory", limit=limit, offset=offset)


def test_a_periods_oldest_key_and_the_keys_not_due_are_read_by_length(store):
    """ISO keys of one period have one length: the oldest hour a production run recorded (a
    key only test runs recorded, a day, another pipeline's older hour: passed over) starts the
    due range; the keys not due are those outside it and those of other lengths (another
    period's), newest first, of this pipeline only."""
    assert store.grid_keys("factory", 13, "2026-09-01T08") == (None, [])
    run_partition(store, "2026-09-01T03", {"ingest": ("success", [])}, mode="test")
    run_partition(store, "2026-09-01T05", {"ingest": ("failed", [])})
    run_partition(store, "2026-09-02T00", {"report": ("success", [])})
    run_partition(store, "2026-09-01T06", {"report": ("success", [])})
    for day in ("2026-08-30", "2026-09-01"):
        run_partition(store, day, {"ingest": ("success", []), "report": ("success", [])})
    run_partition(store, "2026-W30", {"report": ("success", [])})
    run_partition(store, "2026-08", {"ingest": ("success", [])}, mode="test")  # never shown
    run_partition(store, "2026-01-01T00", {"load": ("success", [])}, pipeline="other")
    days = ["2026-09-01", "2026-08-30"]
    assert store.grid_keys("factory", 13, "2026-09-01T08") == (
        "2026-09-01T05",
        ["2026-W30", "2026-09-02T00", *days],
    )
    hours = ["2026-09-02T00", "2026-09-01T06", "2026-09-01T05"]
    # a first key after the last (`start:` not reached yet): every recorded key is not due
    assert store.grid_keys("factory", 13, "2026-09-01T05", "2026-09-01T06") == (
        "2026-09-01T06",
        ["2026-W30", *hours, *days],
    )
    assert store.grid_keys("factory", 10, "2026-08-31") == (
        "2026-08-30",
        ["2026-W30", *hours, "2026-09-01"],
    )
    assert store.grid_keys("factory", 7, "2026-09") == (None, ["2026-W30", *hours, *days])
    assert store.grid_keys("nope", 13, "2026-09-01T08") == (None, [])
    assert store.list_partitions("factory", limit=2, until="2026-09-01T05") == [
        "2026-09-01T05",
        "2026-09-01",
    ]


def test_the_keys_not_due_are_counted_by_prefix_read_by_span_and_recounted_after_a_commit(store):
    """``grid_extras``: the recorded production keys not due (another length, or the due
    length outside the due range), counted per length and prefix, read and counted by span;
    keys of no period's length apart. The counts are kept while nothing is committed, and a
    commit (by any connection) makes the next page count afresh."""
    hours = ["2026-08-31T22", "2026-09-01T05", "2026-09-01T06", "2026-09-02T00"]
    for key in [*hours, "2026-08-30", "2026-09-01", "2026-W30", "2026-W36", "x"]:
        run_partition(store, key, {"ingest": ("success", [])})
    run_partition(store, "2026-07-01", {"ingest": ("success", [])}, mode="test")  # not a row
    run_partition(store, "2026-06-01", {"load": ("success", [])}, pipeline="other")
    prefixes = {13: 7, 10: 7, 8: 6, 7: 4}

    def read(last: str, first: str | None = None):
        with store.grid_extras("factory", 10, last, first, prefixes=prefixes) as x:
            found = (
                x.first,
                sorted(x.buckets()),
                x.unknown_count(),
                sorted(x.keys([(13, "2026-09-01T00", None), (8, None, "2026-W35")])),
                x.count((13, None, "2026-09-01T05")),
                x.unknown_keys(),
            )
        return found

    assert read("2026-08-31") == (
        "2026-08-30",  # the oldest day: the due days run from it to the 31st
        [
            (8, "2026-W30", "2026-W36", 2),
            (10, "2026-09-01", "2026-09-01", 1),  # after the last due day
            (13, "2026-08-31T22", "2026-08-31T22", 1),
            (13, "2026-09-01T05", "2026-09-02T00", 3),
        ],
        1,
        ["2026-09-01T05", "2026-09-01T06", "2026-09-02T00", "2026-W30"],
        2,
        ["x"],
    )
    # `start:` after both days: both before the first due day
    assert [b for b in read("2026-09-05", "2026-09-03")[1] if b.length == 10] == [
        (10, "2026-08-30", "2026-08-30", 1),  # a bucket a month
        (10, "2026-09-01", "2026-09-01", 1),
    ]
    run_partition(store, "2026-08", {"report": ("success", [])})  # committed: counted afresh
    assert (7, "2026", "2026", 1) not in read("2026-08-31")[1]
    assert (7, "2026-08", "2026-08", 1) in read("2026-08-31")[1]
    with store.grid_extras("nope", 10, "2026-08-31", prefixes=prefixes) as x:
        assert (x.first, x.buckets(), x.unknown_count(), x.keys([(13, None, None)])) == (
            None,
            [],
            0,
            [],
        )
