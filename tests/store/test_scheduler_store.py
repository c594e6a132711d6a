"""The store's scheduling tables: exactly-once claims raced by real processes, scheduler
liveness, claims left by a dead scheduler, the alert log and retention marks (SQLite and
PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with store_url(request.param, tmp_path) as u:
        open_store(u).close()  # migrate once, before processes race
        yield u


def test_a_tick_is_claimed_once(url):
    with open_store(url) as store:
        first = store.claim_scheduled_run("p", "load", T0, scheduler_id=1)
        again = store.claim_scheduled_run("p", "load", T0, scheduler_id=2)
        other_step = store.claim_scheduled_run("p", "report", T0)
        next_tick = store.claim_scheduled_run("p", "load", T0 + timedelta(seconds=1))
        assert first and other_step and next_tick
        assert again is None
        assert store.last_scheduled("p", "load") == T0 + timedelta(seconds=1)
        rows = store.list_scheduled_runs(pipeline="p", step="load")
        assert [r["scheduled_for"] for r in rows] == [
            (T0 + timedelta(seconds=1)).isoformat(),
            T0.isoformat(),
        ]
        assert rows[1]["status"] == "claimed" and rows[1]["scheduler_id"] == 1


def _race(url: str, ticks: int, barrier, out) -> None:
    store = open_store(url)
    won = []
    barrier.wait()
    for i in range(ticks):
        if store.claim_scheduled_run(
            "p", "load", T0 + timedelta(seconds=i), scheduler_id=os.getpid()
        ):
            won.append(i)
    out.put(won)
    store.close()


def test_processes_racing_for_the_same_ticks_each_win_distinct_ones(url):
    # Three real processes try to claim the same 100 ticks at the same moment.
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, 100, barrier, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    claimed = sorted(i for won in results for i in won)
    assert claimed == list(range(100))  # every tick once: none lost, none twice
    with open_store(url) as store:
        assert len(store.list_scheduled_runs(pipeline="p", limit=1000)) == 100


def test_scheduler_liveness_and_claims_it_left(url):
    with open_store(url) as store:
        me = store.register_scheduler("p", project_dir="/x")
        [row] = store.schedulers(pipeline="p")
        assert row["alive"] and row["pid"] == os.getpid() and row["host"] == store.host
        store.stop_scheduler(me)
        assert store.schedulers(pipeline="p")[0]["alive"] is False

        # A scheduler process that dies after claiming a tick, before starting its run.
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        dead = store.register_scheduler("p")
        from sqlalchemy import update

        from jupyter_dataops.store.models import SchedulerProcess

        with store._write() as conn:
            conn.execute(
                update(SchedulerProcess)
                .where(SchedulerProcess.id == dead)
                .values(pid=child.pid, pid_started=None)
            )
        claim = store.claim_scheduled_run("p", "load", T0, scheduler_id=dead)
        assert store.mark_claims_interrupted() == []  # still alive
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert store.mark_claims_interrupted() == [claim]
        [row] = store.list_scheduled_runs(pipeline="p")
        assert row["status"] == "interrupted" and "died before the run started" in row["reason"]
        # ...and the tick is still taken: the next scheduler does not run it again.
        assert store.claim_scheduled_run("p", "load", T0) is None


def test_alert_log(url):
    with open_store(url) as store:
        store.record_alert(
            pipeline="p",
            step="load",
            event="failure",
            channel="webhook",
            target="http://h/***",
            status="failed",
            attempts=3,
            error="boom",
        )
        [row] = store.list_alerts(pipeline="p")
        assert row["status"] == "failed" and row["attempts"] == 3 and row["error"] == "boom"


def test_retention_candidates_keep_newest_and_young_runs_and_skip_running_ones(url):
    with open_store(url) as store:
        ids = []
        for _ in range(5):
            prid = store.create_pipeline_run("p")
            sr = store.create_step_run(prid, "load")
            store.start_step_run(sr)
            store.finish_step_run(sr, "success")
            store.finish_pipeline_run(prid)
            ids.append(sr)
        running_prid = store.create_pipeline_run("p")
        running = store.create_step_run(running_prid, "load")
        store.start_step_run(running)
        got = [r["id"] for r in store.retention_candidates("p", "load", keep_runs=2)]
        assert got == ids[:3][::-1]  # newest two finished kept; the running one never listed
        assert store.retention_candidates("p", "load", keep_days=1) == []
        later = datetime.now(timezone.utc) + timedelta(days=2)
        assert len(store.retention_candidates("p", "load", keep_days=1, now=later)) == 5
        store.mark_pruned(ids[0], ["/x.ipynb"])
        store.mark_pruned(ids[0], ["/x.ipynb"])  # twice is harmless
        assert list(store.pruned_runs(ids)) == [ids[0]]
        got = [r["id"] for r in store.retention_candidates("p", "load", keep_runs=2)]
        assert got == [ids[2], ids[1]]


def test_step_active(url):
    with open_store(url) as store:
        prid = store.create_pipeline_run("p")
        sr = store.create_step_run(prid, "load")
        assert store.step_active("p", "load")
        store.start_step_run(sr)
        assert store.step_active("p", "load") and not store.step_active("p", "report")
        store.finish_step_run(sr, "success")
        assert not store.step_active("p", "load")


def test_a_run_whose_process_stopped_before_reporting_it_is_adopted_by_its_claim(url):
    with open_store(url) as store:
        claim = store.claim_scheduled_run("p", "load", T0)
        other = store.claim_scheduled_run("p", "load", T0 + timedelta(seconds=1))
        store.set_claim_runner([claim], os.getpid())
        assert store.adopt_scheduled_runs() == []  # no run yet
        prid = store.create_pipeline_run("p", trigger="schedule")
        store.create_pipeline_run("p", trigger="manual")  # not a scheduled run: never adopted
        assert store.adopt_scheduled_runs([claim, other]) == [claim]
        rows = {r["id"]: r for r in store.list_scheduled_runs(pipeline="p")}
        assert rows[claim]["status"] == "started" and rows[claim]["pipeline_run_id"] == prid
        assert rows[other]["status"] == "claimed"
