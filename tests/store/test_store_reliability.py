"""The store under real processes: parallel writers lose nothing, a killed runner is detected."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from jupyter_dataops.store import open_store
from jupyter_dataops.store.models import CheckResultRow, MetricRecord, StepRun
from jupyter_dataops.store.testing import store_url as make_store_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
WRITERS = 8
RUNS_PER_WRITER = 10
CHECKS_PER_SUITE = 3

# fork is cheap and keeps the test lean on small machines; the children open their own store.
CTX = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with make_store_url(request.param, tmp_path) as u:
        yield u


def _suite(i: int):
    return SimpleNamespace(
        name="orders",
        results=[
            SimpleNamespace(
                line=n + 1,
                source=f"check {n}",
                status="pass",
                observed=i,
                threshold="> 0",
                metric=f"m{n}",
                message="ok",
            )
            for n in range(CHECKS_PER_SUITE)
        ],
        metrics={"row_count": float(i)},
    )


def _writer(url: str, writer: int, start, errors) -> None:
    """One runner process: its own pipeline run, several step runs, checks and metrics."""
    try:
        start.wait(30)
        store = open_store(url)  # all writers open (and migrate) a fresh store at once
        pr = store.create_pipeline_run("sales")
        for i in range(RUNS_PER_WRITER):
            sr = store.create_step_run(
                pr,
                f"step{i % 4}",
                parameters={"writer": writer, "i": i},
                inputs=[f"in{writer}"],
                outputs=[f"out{writer}"],
            )
            store.start_step_run(sr)
            store.record_suite(sr, _suite(writer * 1000 + i))
            store.finish_step_run(sr, "success")
        store.finish_pipeline_run(pr)
        store.close()
    except BaseException as exc:  # reported to the parent: a child traceback alone is easy to miss
        errors.put(f"writer {writer}: {exc!r}")
        raise


def test_eight_parallel_writers_lose_nothing(url):
    start = CTX.Event()
    errors = CTX.Queue()
    procs = [CTX.Process(target=_writer, args=(url, w, start, errors)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == [] and [p.exitcode for p in procs] == [0] * WRITERS

    total = WRITERS * RUNS_PER_WRITER
    with open_store(url) as store:
        assert store.count_runs() == total
        assert store.count_runs(status="success") == total
        runs = store.list_runs(limit=None)
        assert len({r["id"] for r in runs}) == total
        assert all(r["checks"]["pass"] == CHECKS_PER_SUITE for r in runs)
        assert [p["status"] for p in store.list_pipeline_runs()] == ["success"] * WRITERS
        expected = sorted(
            float(w * 1000 + i) for w in range(WRITERS) for i in range(RUNS_PER_WRITER)
        )
        history = [v for s in range(4) for v in store.metric_history(f"step{s}", "row_count")]
        assert sorted(history) == expected
        assert len(store.list_pipelines()[0]["steps"]) == 4
        with store.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(CheckResultRow)) == (
                total * CHECKS_PER_SUITE
            )
        if store.dialect == "sqlite":
            _assert_sqlite_intact(store)


def _killable_writer(url: str, ready, ids) -> None:
    """A runner that records checks in a tight loop until it is killed."""
    store = open_store(url)
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    ids.put((pr, sr))
    i = 0
    while True:
        store.record_suite(sr, _suite(i))
        i += 1
        if i == 5:
            ready.set()


def test_a_runner_killed_mid_run_leaves_running_rows_that_are_then_marked_interrupted(url):
    with open_store(url) as store:  # a live runner in this process must stay untouched
        live_pr = store.create_pipeline_run("sales")
        live = store.create_step_run(live_pr, "report")
        store.start_step_run(live)

    ready, ids = CTX.Event(), CTX.Queue()
    proc = CTX.Process(target=_killable_writer, args=(url, ready, ids))
    proc.start()
    assert ready.wait(60), "the writer never got going"
    time.sleep(0.05)  # let it be in the middle of a write
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    pr, sr = ids.get(timeout=5)

    with open_store(url) as store:
        assert store.get_run(sr)["status"] == "running"
        assert store.get_pipeline_run(pr)["status"] == "running"
        assert store.mark_interrupted() == [sr]
        run = store.get_run(sr)
        assert run["status"] == "interrupted" and str(proc.pid) in run["error"]
        assert store.get_pipeline_run(pr)["status"] == "interrupted"
        assert store.get_run(live)["status"] == "running"
        # every suite write was all-or-nothing: whole suites of checks, one metric point each
        checks = run["checks"]["pass"]
        assert checks >= 5 * CHECKS_PER_SUITE and checks % CHECKS_PER_SUITE == 0
        assert len(run["metrics"]) == checks // CHECKS_PER_SUITE
        with store.engine.connect() as conn:
            orphans = conn.scalar(
                select(func.count())
                .select_from(MetricRecord)
                .where(MetricRecord.step_run_id.not_in(select(StepRun.id)))
            )
        assert orphans == 0
        if store.dialect == "sqlite":
            _assert_sqlite_intact(store)
        # the store keeps working after the crash
        store.finish_step_run(live, "success")
        assert store.get_run(live)["status"] == "success"


def _assert_sqlite_intact(store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []


def _use_inherited_store(store, pr, done) -> None:
    """In a forked child: keep using the Store object created by the parent."""
    try:
        for _ in range(20):
            sr = store.create_step_run(pr, "child")
            store.start_step_run(sr)
            store.finish_step_run(sr, "success")
        done.put("ok")
    except BaseException as exc:
        done.put(repr(exc))
        raise


def test_a_forked_worker_and_its_parent_can_share_one_store_object(url):
    if not sys.platform.startswith("linux"):
        pytest.skip("fork start method")
    with open_store(url) as store:
        pr = store.create_pipeline_run("sales")
        assert store.count_runs() == 0  # the parent holds a pooled connection when it forks
        done = CTX.Queue()
        proc = CTX.Process(target=_use_inherited_store, args=(store, pr, done))
        proc.start()
        for _ in range(20):
            sr = store.create_step_run(pr, "parent")
            store.start_step_run(sr)
            store.finish_step_run(sr, "success")
        proc.join(60)
        assert done.get(timeout=5) == "ok" and proc.exitcode == 0
        assert store.count_runs(step="child") == store.count_runs(step="parent") == 20
        if store.dialect == "sqlite":
            _assert_sqlite_intact(store)


def test_threads_reading_while_a_thread_writes_see_consistent_pages(url):
    from concurrent.futures import ThreadPoolExecutor

    with open_store(url) as store:
        pr = store.create_pipeline_run("sales")

        def write() -> int:
            for i in range(30):
                sr = store.create_step_run(pr, "load")
                store.start_step_run(sr)
                store.record_suite(sr, _suite(i))
                store.finish_step_run(sr, "success")
            return 30

        def read() -> int:
            pages = 0
            for _ in range(30):
                for row in store.list_runs(limit=10):
                    # a run's checks are written in one transaction: all or none are visible
                    assert sum(row["checks"].values()) in (0, CHECKS_PER_SUITE)
                pages += 1
            return pages

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(write)] + [pool.submit(read) for _ in range(3)]
            assert [f.result(timeout=120) for f in futures] == [30, 30, 30, 30]
        assert store.count_runs(status="success") == 30


def test_opening_a_store_waits_for_a_writer_on_a_database_not_yet_in_wal(tmp_path):
    """SQLite refuses the switch to WAL at once ("database is locked", no busy wait) while
    another connection holds a write lock on a rollback-journal database, as when processes open
    a fresh store together: opening waits for the writer instead of failing."""
    import sqlite3
    import threading

    path = tmp_path / "store.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE held (x)")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO held VALUES (1)")
    probe = sqlite3.connect(path, isolation_level=None, timeout=5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        probe.execute("PRAGMA journal_mode=WAL")  # what the store's connect used to do
    probe.close()
    threading.Timer(1.0, lambda: other.execute("COMMIT")).start()
    with open_store(f"sqlite:///{path}") as store:  # opened once the writer committed
        assert store.count_runs() == 0
    other.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()
