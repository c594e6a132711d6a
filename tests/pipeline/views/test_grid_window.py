"""The grid pages a long history by arithmetic: each page's due keys are built from the newest
due one back (not every key since ``start:``), and the pages, read one after another, are the
rows the grid always meant: every due partition, recorded or missing, plus the recorded keys
outside the due range, newest first, with the late steps of the page's partitions. Real store
(SQLite and PostgreSQL), real pipeline file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from builders import write_notebook

from jupyter_dataops.pipeline.definition.partitions import Partitions, late_partitions
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.views.grid import grid_page

STEPS = ("ingest", "report")


def pipeline_file(root: Path, every: str, start: str) -> Path:
    for step in STEPS:
        write_notebook(root / f"{step}.ipynb", "run_date = ''")
    path = root / "dataops.yaml"
    path.write_text(
        f"pipeline: factory\npartitions: {{every: {every}, start: '{start}'}}\n"
        "expect_by: '00:00'\nsteps:\n" + "".join(f"  {s}: {{notebook: {s}.ipynb}}\n" for s in STEPS)
    )
    return path


def record(store, partition: str, status: str = "success") -> None:
    pr = store.create_pipeline_run("factory", partition=partition)
    for step in STEPS:
        sr = store.create_step_run(pr, step)
        store.start_step_run(sr)
        store.finish_step_run(sr, status, error=None if status == "success" else "broke")
    store.finish_pipeline_run(pr)


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
    record(store, "2020-W10" if every != "week" else "2020-01-01")  # another period's key

    due = parts.range(start, newest)
    expected = sorted(set(due) | {before_start, ahead, middle}, reverse=True)
    late = late_partitions(pipeline, store)  # over the whole lookback, as before paging
    seen, offset = [], 0
    while True:
        page = grid_page(pipeline, store, limit=7, offset=offset)
        assert page["total"] == len(expected) and page["steps"] == list(STEPS)
        for row in page["partitions"]:
            key = row["partition"]
            seen.append(key)
            assert row["late"] == late.get(key, [])
            cells = [c["status"] if c else None for c in row["cells"]]
            want = "failed" if key == middle else "success" if key in recorded else None
            assert cells == [want, want], key
        offset += 7
        if offset >= page["total"]:
            break
    if pipeline.partitions.newest_due(datetime.now(timezone.utc)) != newest:
        pytest.skip("a new period began while the pages were read")  # once an hour at most
    assert seen == expected
    assert any(key != middle for key in late)  # missing partitions past their deadline
    past = grid_page(pipeline, store, limit=7, offset=len(expected) + 3)
    assert past["partitions"] == [] and past["total"] == len(expected)
