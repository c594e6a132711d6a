"""The run store API, on a real SQLite file and on a real PostgreSQL (DATAOPS_TEST_PG_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from builders import check_line as check
from builders import suite_result as suite
from sqlalchemy import event, update

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store import REDACTED
from jupyter_dataops.store.api import process_started
from jupyter_dataops.store.models import PipelineRun, StepRun


def run_step(
    store, step, status="success", metrics=None, mode="production", pipeline="sales", checks=()
):
    """One pipeline run with one finished step run; returns the step run id."""
    pr = store.create_pipeline_run(pipeline, mode=mode)
    sr = store.create_step_run(pr, step)
    store.start_step_run(sr)
    if metrics or checks:
        store.record_suite(sr, suite("s", *checks, metrics=metrics))
    store.finish_step_run(sr, status, error=None if status == "success" else f"{step} {status}")
    store.finish_pipeline_run(pr)
    return sr


def test_step_versions_count_up_per_step_and_repromoting_unchanged_makes_no_version(store):
    v1 = store.record_step_version(
        "sales",
        "load",
        notebook_path="load.ipynb",
        content_hash="aaa",
        parameters={"n": 1},
        promoted_by="ana",
    )
    same = store.record_step_version(
        "sales", "load", notebook_path="load.ipynb", content_hash="aaa", parameters={"n": 1}
    )
    v2 = store.record_step_version(
        "sales", "load", notebook_path="load.ipynb", content_hash="bbb", parameters={"n": 1}
    )
    v3 = store.record_step_version(
        "sales", "load", notebook_path="load.ipynb", content_hash="bbb", parameters={"n": 2}
    )
    other = store.record_step_version(
        "sales", "report", notebook_path="r.ipynb", content_hash="aaa", parameters={}
    )
    assert (v1["version"], v1["created"]) == (1, True)
    assert (same["version"], same["created"]) == (1, False)
    assert (v2["version"], v3["version"], other["version"]) == (2, 3, 1)
    assert v1["promoted_by"] == "ana"
    assert store.latest_version("sales", "load")["content_hash"] == "bbb"
    assert [v["version"] for v in store.list_versions("load")] == [3, 2, 1]
    assert store.latest_version("sales", "nope") is None


def test_upserts_are_idempotent_and_update_the_notebook(store):
    p1 = store.upsert_pipeline("sales", project_dir="/proj")
    s1 = store.upsert_step("sales", "load", notebook="a.ipynb")
    assert store.upsert_pipeline("sales") == p1
    assert store.upsert_step("sales", "load", notebook="b.ipynb") == s1
    (pipe,) = store.list_pipelines()
    assert pipe["project_dir"] == "/proj"
    assert pipe["steps"][0]["notebook"] == "b.ipynb"


def test_run_lifecycle_records_times_redacted_parameters_lineage_and_errors(store):
    store.record_step_version(
        "sales",
        "load",
        notebook_path="load.ipynb",
        content_hash="h",
        parameters={"day": "2026-01-01"},
    )
    pr = store.create_pipeline_run("sales", parameters={"api_token": "s3cr3t", "day": "x"})
    sr = store.create_step_run(
        pr,
        "load",
        parameters={"db_password": "hunter2", "day": "2026-01-02", "url": "postgresql://u:pw@db/x"},
        inputs=["raw/orders.csv"],
        outputs=["clean.orders"],
    )
    queued = store.get_run(sr)
    assert queued["status"] == "queued" and queued["started_at"] is None
    store.start_step_run(sr, notebook_path=".dataops/runs/1/load.ipynb")
    assert store.get_run(sr)["status"] == "running"
    store.finish_step_run(sr, "failed", error="ZeroDivisionError: division by zero")
    run = store.get_run(sr)
    assert run["status"] == "failed"
    assert run["error"] == "ZeroDivisionError: division by zero"
    assert run["notebook_path"] == ".dataops/runs/1/load.ipynb"
    assert run["parameters"] == {
        "db_password": REDACTED,
        "day": "2026-01-02",
        "url": f"postgresql://u:{REDACTED}@db/x",
    }
    assert run["inputs"] == ["raw/orders.csv"] and run["outputs"] == ["clean.orders"]
    assert run["version"]["version"] == 1
    start = datetime.fromisoformat(run["started_at"])
    end = datetime.fromisoformat(run["ended_at"])
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert run["duration"] == pytest.approx((end - start).total_seconds(), abs=1e-3)
    assert "s3cr3t" not in json.dumps(store.get_pipeline_run(pr))
    assert "hunter2" not in json.dumps(run)


def test_skipped_step_keeps_its_reason_and_has_no_duration(store):
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "report")
    store.finish_step_run(sr, "skipped", skip_reason="upstream step 'load' failed")
    run = store.get_run(sr)
    assert (run["status"], run["skip_reason"], run["duration"]) == (
        "skipped",
        "upstream step 'load' failed",
        None,
    )
    assert store.finish_pipeline_run(pr) == "failed"


def test_pipeline_status_follows_the_last_attempt_of_each_step(store):
    pr = store.create_pipeline_run("sales")
    first = store.create_step_run(pr, "load", attempt=1)
    store.start_step_run(first)
    store.finish_step_run(first, "failed", error="flaky")
    retry = store.create_step_run(pr, "load", attempt=2)
    store.start_step_run(retry)
    store.finish_step_run(retry, "success")
    assert store.finish_pipeline_run(pr) == "success"
    prun = store.get_pipeline_run(pr)
    assert prun["status"] == "success" and prun["ended_at"] is not None
    assert [(s["attempt"], s["status"]) for s in prun["steps"]] == [(1, "failed"), (2, "success")]


def test_record_suite_stores_each_check_line_and_metric(store):
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    n = store.record_suite(
        sr,
        suite(
            "orders",
            check(1, "pass", 120, "row_count", "> 0"),
            check(2, "warn", 1.5, "missing_percent(email)", "< 1%", "1.5% missing"),
            check(3, "fail", float("nan"), "avg(amount)", "between 1 and 9"),
            check(4, "error", None, None, None, "column 'x' not found"),
            metrics={"row_count": 120, "missing_percent(email)": 1.5, "avg(amount)": float("nan")},
        ),
    )
    # the same shape as a dict (SuiteResult.to_dict()) is accepted too
    store.record_suite(
        sr,
        {
            "name": "customers",
            "metrics": {"row_count": 7},
            "results": [
                {
                    "line": 1,
                    "source": "row_count > 0",
                    "status": "pass",
                    "observed": 7,
                    "threshold": "> 0",
                    "metric": "row_count",
                    "message": "ok",
                }
            ],
        },
    )
    assert n == 4
    run = store.get_run(sr)
    assert run["checks"] == {"pass": 2, "warn": 1, "fail": 1, "error": 1, "baseline": 0}
    rows = run["check_results"]
    assert [(r["suite"], r["line"], r["status"]) for r in rows] == [
        ("orders", 1, "pass"),
        ("orders", 2, "warn"),
        ("orders", 3, "fail"),
        ("orders", 4, "error"),
        ("customers", 1, "pass"),
    ]
    assert rows[1] | {} == {
        "suite": "orders",
        "line": 2,
        "source": "line 2",
        "status": "warn",
        "observed": 1.5,
        "threshold": "< 1%",
        "metric": "missing_percent(email)",
        "message": "1.5% missing",
        "spc": None,
    }
    assert rows[2]["observed"] is None  # NaN is not a number JSON can carry
    assert {(m["suite"], m["metric"], m["value"]) for m in run["metrics"]} == {
        ("orders", "row_count", 120.0),
        ("orders", "missing_percent(email)", 1.5),
        ("customers", "row_count", 7.0),
    }
    json.dumps(run, allow_nan=False)


def test_writing_to_an_unknown_step_run_is_a_clear_error(store):
    with pytest.raises(StoreError, match="no step run 999"):
        store.record_suite(999, suite("s", check(1, "pass")))
    with pytest.raises(StoreError, match="no pipeline run 42"):
        store.create_step_run(42, "load")
    with pytest.raises(StoreError, match="whole number"):
        store.get_run("abc")
    with pytest.raises(StoreError, match="Unknown final run status 'done'"):
        store.finish_step_run(1, "done")
    assert store.get_run(12345) is None
    assert store.get_pipeline_run("777") is None


def test_metric_history_is_earlier_successful_production_points_oldest_first(store):
    for value in (10, 11, 12):
        run_step(store, "load", metrics={"row_count": value})
    run_step(store, "load", status="failed", metrics={"row_count": 999})
    run_step(store, "load", mode="test", metrics={"row_count": 555})
    run_step(store, "other", metrics={"row_count": 777})
    run_step(store, "load", metrics={"row_count": 13}, pipeline="finance")
    # the current run: running, its point recorded but never part of its own baseline
    pr = store.create_pipeline_run("sales")
    current = store.create_step_run(pr, "load")
    store.start_step_run(current)
    store.record_metric(current, "row_count", 5000)

    assert store.metric_history("load", "row_count") == [10, 11, 12, 13]
    assert store.metric_history("load", "row_count", pipeline="sales") == [10, 11, 12]
    assert store.metric_history("load", "row_count", pipeline="sales", limit=2) == [11, 12]
    assert store.metric_history("load", "row_count", suite="nope") == []
    assert store.metric_history("load", "avg(x)") == []


def test_metric_series_shows_every_production_point_with_its_status(store):
    ok = run_step(store, "load", metrics={"row_count": 10})
    bad = run_step(store, "load", status="failed", metrics={"row_count": 99})
    run_step(store, "load", mode="test", metrics={"row_count": 1})
    series = store.metric_series("load", "row_count")
    assert [(p["step_run_id"], p["value"], p["status"]) for p in series] == [
        (ok, 10.0, "success"),
        (bad, 99.0, "failed"),
    ]
    assert series[0]["time"] <= series[1]["time"]
    assert store.metric_series("load", "row_count", limit=1)[0]["step_run_id"] == bad
    metrics = store.list_metrics("load")
    assert [(m["metric"], m["points"], m["last_value"]) for m in metrics] == [("row_count", 3, 1.0)]


def test_list_runs_pages_newest_first_with_filters_matching_count_runs(store):
    ids = [
        run_step(
            store,
            "load" if i % 2 else "report",
            status="failed" if i % 3 == 0 else "success",
            checks=[check(1, "pass"), check(2, "fail" if i % 3 == 0 else "warn")],
        )
        for i in range(12)
    ]
    runs = store.list_runs(limit=5)
    assert [r["id"] for r in runs] == ids[::-1][:5]
    assert [r["id"] for r in store.list_runs(limit=5, offset=5)] == ids[::-1][5:10]
    loads = store.list_runs(step="load", limit=100)
    assert {r["step"] for r in loads} == {"load"} and len(loads) == 6
    failed = store.list_runs(status="failed")
    assert all(r["status"] == "failed" for r in failed)
    assert all(
        r["checks"] == {"pass": 1, "warn": 0, "fail": 1, "error": 0, "baseline": 0} for r in failed
    )
    assert len(failed) == store.count_runs(status="failed") == 4
    assert store.count_runs(step="load", status=["failed", "success"]) == 6
    assert store.count_runs() == 12 and store.count_runs(step="nope") == 0
    assert store.count_runs(mode="test") == 0
    assert len(store.list_runs(pipeline="sales", limit=None)) == 12
    with pytest.raises(StoreError, match="Unknown run status 'ok'"):
        store.list_runs(status="ok")


def test_list_runs_is_one_query_for_a_whole_page(store):
    for i in range(30):
        run_step(store, f"step{i % 3}", checks=[check(1, "pass"), check(2, "warn")])
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        page = store.list_runs(limit=25)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(page) == 25
    assert all(r["checks"]["pass"] == 1 and r["checks"]["warn"] == 1 for r in page)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 1, statements


def test_list_pipelines_shows_steps_latest_version_and_last_status(store):
    store.record_step_version(
        "sales", "load", notebook_path="load.ipynb", content_hash="a", parameters={}
    )
    store.record_step_version(
        "sales", "load", notebook_path="load.ipynb", content_hash="b", parameters={}
    )
    store.upsert_step("sales", "report", notebook="report.ipynb")
    run_step(store, "load")
    last = run_step(store, "load", status="failed")
    (pipe,) = store.list_pipelines()
    steps = {s["name"]: s for s in pipe["steps"]}
    assert steps["load"]["latest_version"]["version"] == 2
    assert steps["load"]["last_run"]["id"] == last
    assert steps["load"]["last_run"]["status"] == "failed"
    assert steps["report"]["latest_version"] is None and steps["report"]["last_run"] is None


def test_every_answer_is_json_with_utc_iso_timestamps(store):
    sr = run_step(store, "load", metrics={"row_count": 3}, checks=[check(1, "pass", 3)])
    pr = store.get_run(sr)["pipeline_run_id"]
    answers = [
        store.list_runs(),
        store.get_run(sr),
        store.get_pipeline_run(pr),
        store.list_pipeline_runs(),
        store.list_pipelines(),
        store.metric_series("load", "row_count"),
        store.list_metrics("load"),
    ]
    text = json.dumps(answers, allow_nan=False)
    stamps = [store.get_run(sr)[k] for k in ("created_at", "started_at", "ended_at")]
    assert all(s.endswith("+00:00") for s in stamps)
    assert "+00:00" in text


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_interrupted_catches_runs_whose_runner_process_is_gone(store):
    dead = _dead_pid()
    pr_dead = store.create_pipeline_run("sales", pid=dead)
    running = store.create_step_run(pr_dead, "load")
    store.start_step_run(running, pid=dead)
    queued = store.create_step_run(pr_dead, "report")  # never started: the runner's pid counts
    pr_alive = store.create_pipeline_run("sales")  # this process: alive
    alive = store.create_step_run(pr_alive, "load")
    store.start_step_run(alive)

    marked = store.mark_interrupted()
    assert sorted(marked) == sorted([running, queued])
    run = store.get_run(running)
    assert run["status"] == "interrupted"
    assert f"process {dead}" in run["error"] and run["ended_at"] is not None
    assert store.get_run(queued)["status"] == "interrupted"
    assert store.get_pipeline_run(pr_dead)["status"] == "interrupted"
    assert store.get_run(alive)["status"] == "running"
    assert store.get_pipeline_run(pr_alive)["status"] == "running"
    assert store.mark_interrupted() == []


def test_mark_interrupted_waits_for_the_staleness_window_on_other_hosts(store):
    pr = store.create_pipeline_run("sales", host="elsewhere", pid=1)
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr, host="elsewhere", pid=1)
    assert store.mark_interrupted(stale_after=timedelta(hours=1)) == []
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    with store.engine.begin() as conn:
        conn.execute(update(StepRun).values(updated_at=old, created_at=old, started_at=old))
        conn.execute(update(PipelineRun).values(heartbeat_at=old, created_at=old))
    assert store.mark_interrupted(stale_after=timedelta(hours=1)) == [sr]
    assert "no news" in store.get_run(sr)["error"]


def test_mark_interrupted_notices_a_pid_now_used_by_another_process(store):
    if process_started(os.getpid()) is None:
        pytest.skip("process start times are unknown on this platform")
    pr = store.create_pipeline_run("sales")  # runner: this process
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    assert store.mark_interrupted() == []
    # the recorded runner started an hour before this process: same pid, another process
    with store.engine.begin() as conn:
        conn.execute(update(StepRun).values(pid_started=StepRun.pid_started - 3600))
        conn.execute(update(PipelineRun).values(pid_started=PipelineRun.pid_started - 3600))
    assert store.mark_interrupted() == [sr]
    assert "pid was reused" in store.get_run(sr)["error"]
    assert store.get_pipeline_run(pr)["status"] == "interrupted"


def test_a_failed_or_interrupted_run_must_say_why(store):
    run = store.create_pipeline_run("sales")
    for status in ("failed", "interrupted"):
        srid = store.create_step_run(run, "load")
        with pytest.raises(StoreError, match=f"needs an error summary: a {status} run"):
            store.finish_step_run(srid, status, error="  ")
        assert store.get_run(srid)["status"] == "queued"  # nothing half-written
