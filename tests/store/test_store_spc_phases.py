"""SPC phases (``dataops spc rebaseline``, migration 0010) on a real SQLite file and a real
PostgreSQL: a phase starts at a partition or a run; the history a step's spc line reads holds
only the points of the current run's phase; wrong steps, metrics and runs are clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from jupyter_dataops.errors import StoreError
from jupyter_dataops.pipeline.execution.context import StepHistory


def day_run(store, day: str, value: float, status: str = "success") -> int:
    pr = store.create_pipeline_run("sales", partition=day)
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    store.record_metric(sr, "row_count", value)
    store.finish_step_run(sr, status)
    return sr


def test_a_phase_from_a_partition_keeps_only_its_points(store):
    days = [f"2026-09-{d:02d}" for d in range(1, 9)]
    ids = [day_run(store, day, float(i)) for i, day in enumerate(days)]
    assert store.spc_phases("sales", "load") == []
    phase = store.add_spc_phase(
        "sales", "load", "row_count", from_partition="2026-09-05", reason="new supplier"
    )
    assert phase["phase"] == 2 and phase["from_partition"] == "2026-09-05"
    assert phase["reason"] == "new supplier"
    # a run for the 8th (re-run) is in phase 2: its history is the 5th..7th
    current = store.create_step_run(
        store.create_pipeline_run("sales", partition="2026-09-08"), "load"
    )
    hist = StepHistory(store, "load", "sales", str(current))
    assert hist("row_count") == [4.0, 5.0, 6.0]
    assert hist.phase("row_count") == {"phase": 2, "reason": "new supplier", "from": "2026-09-05"}
    # a re-run of the 3rd is in phase 1: the days before the boundary, its own day left out
    old = store.create_step_run(store.create_pipeline_run("sales", partition="2026-09-03"), "load")
    hist1 = StepHistory(store, "load", "sales", str(old))
    assert hist1("row_count") == [0.0, 1.0, 3.0]
    assert hist1.phase("row_count") == {"phase": 1, "reason": None, "from": None}
    points, now = hist.seasonal("row_count")
    assert now == dt.datetime(2026, 9, 8)
    assert points == [(dt.datetime(2026, 9, d), float(d - 1)) for d in (5, 6, 7)]
    # another metric of the step has no phase: its history is whole
    assert store.metric_history("load", "row_count") == [float(i) for i in range(8)]
    assert ids


def test_a_phase_from_a_run_on_an_unpartitioned_pipeline(store):
    ids = []
    for v in (1.0, 2.0, 3.0, 4.0):
        pr = store.create_pipeline_run("sales")
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        store.record_metric(sr, "row_count", v)
        store.finish_step_run(sr, "success")
        ids.append(sr)
    store.add_spc_phase("sales", "load", "row_count", from_step_run_id=ids[2], reason="price")
    current = store.create_step_run(store.create_pipeline_run("sales"), "load")
    assert StepHistory(store, "load", "sales", str(current))("row_count") == [3.0, 4.0]
    (p,) = store.spc_phases("sales", "load", "row_count")
    assert p["from_step_run_id"] == ids[2] and p["phase"] == 2


def test_wrong_steps_metrics_and_runs_are_refused_with_what_exists(store):
    sr = day_run(store, "2026-09-01", 1.0)
    with pytest.raises(StoreError, match="no step 'lod'"):
        store.add_spc_phase("sales", "lod", "row_count", from_partition="2026-09-01", reason="x")
    with pytest.raises(StoreError, match="no metric 'rows'.*row_count"):
        store.add_spc_phase("sales", "load", "rows", from_partition="2026-09-01", reason="x")
    with pytest.raises(StoreError, match="needs a reason"):
        store.add_spc_phase("sales", "load", "row_count", from_partition="2026-09-01", reason=" ")
    other = store.create_step_run(store.create_pipeline_run("sales"), "report")
    with pytest.raises(StoreError, match=f"step run {other} is not a run of step 'load'"):
        store.add_spc_phase("sales", "load", "row_count", from_step_run_id=other, reason="x")
    assert store.spc_phases("sales", "load") == []
    assert sr
