"""``dataops scheduler`` as a real service: real processes, real time, real kernels (tiny
steps), SQLite and PostgreSQL. Two schedulers on one store start each tick once; SIGTERM stops
cleanly; SIGKILL leaves the run interrupted and the restarted scheduler neither loses nor
repeats a tick; a broken edit of dataops.yaml is logged and the last good version keeps going."""

from __future__ import annotations

import logging
import os
import signal
import statistics
import subprocess
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from builders import dataops_process, promoted, sleep_notebook, wait_for
from builders import json_events as events

from jupyter_dataops.pipeline.scheduling.scheduler import Scheduler
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def make_project(root: Path, url: str, seconds: float = 0.0) -> Path:
    """A project with one promoted step ``tick`` that runs every second."""
    sleep_notebook(root / "tick.ipynb")
    promoted(root, "tick", f"pipeline: clock\nstore: '{url}'\n")
    write_yaml(root, url, seconds)
    return root


def unpromoted_project(root: Path, url: str) -> Path:
    """The same project with nothing promoted: the scheduler's own passes, no run started."""
    sleep_notebook(root / "tick.ipynb")
    write_yaml(root, url, 0)
    return root


class RecordingScheduler(Scheduler):
    """Records each tick it would start (``launched``) instead of starting a run."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.launched: list[datetime] = []

    def launch(self, scheduled_for, claims, now=None):
        self.launched.append(scheduled_for)


def write_yaml(root: Path, url: str, seconds: float, schedule: str = "* * * * * *") -> None:
    (root / "dataops.yaml").write_text(
        textwrap.dedent(f"""\
        pipeline: clock
        store: '{url}'
        steps:
          tick:
            notebook: tick.ipynb
            schedule: "{schedule}"
            parameters: {{seconds: {seconds}}}
        """)
    )


def start_scheduler(root: Path, *args: str) -> subprocess.Popen:
    return dataops_process("scheduler", "--interval", "0.2", *args, cwd=root)


def scheduled_pipeline_runs(store) -> list[dict]:
    return [r for r in store.list_pipeline_runs(limit=1000) if r["trigger"] == "schedule"]


def claimants(store) -> set[int]:
    """The schedulers that have claimed a tick of the clock pipeline."""
    return {c["scheduler_id"] for c in store.list_scheduled_runs(pipeline="clock", limit=10_000)}


def assert_each_tick_once(claims: list[dict], runs: list[dict]) -> None:
    """Every second between the first and last claimed tick has exactly one claim (none lost),
    and every scheduled pipeline run belongs to exactly one claim (none run twice)."""
    ticks = sorted(datetime.fromisoformat(c["scheduled_for"]) for c in claims)
    assert len(ticks) == len(set(ticks))
    span = int((ticks[-1] - ticks[0]).total_seconds()) + 1
    assert ticks == [ticks[0] + timedelta(seconds=i) for i in range(span)]
    started = [c["pipeline_run_id"] for c in claims if c["status"] == "started"]
    assert len(started) == len(set(started))
    assert sorted(started) == sorted(r["id"] for r in runs)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_scheduler_processes_start_each_tick_once_and_stop_cleanly(tmp_path, backend):
    with store_url(backend, tmp_path) as url:
        root = make_project(tmp_path / "proj", url)
        a, b = start_scheduler(root), start_scheduler(root)
        try:
            with open_store(url) as store:
                # both must be up and racing before the count starts: under load the second
                # process can still be importing when the first has run three ticks
                wait_for(lambda: len(claimants(store)) == 2, 90, "a tick claimed by each")
                wait_for(lambda: len(scheduled_pipeline_runs(store)) >= 3, 90, "three runs")
        finally:
            for p in (a, b):
                p.send_signal(signal.SIGTERM)
            outs = [p.communicate(timeout=90)[1] for p in (a, b)]
        assert [a.returncode, b.returncode] == [0, 0], outs
        for out in outs:
            names = [e["event"] for e in events(out)]
            assert names[0] == "scheduler_started" and names[-1] == "scheduler_stopped"
        with open_store(url) as store:
            claims = store.list_scheduled_runs(pipeline="clock", limit=10_000)
            runs = scheduled_pipeline_runs(store)
            assert_each_tick_once(claims, runs)
            assert len({c["scheduler_id"] for c in claims}) == 2  # both competed for ticks
            assert all(r["status"] in ("success", "interrupted") for r in runs)
            assert [s["alive"] for s in store.schedulers(pipeline="clock")] == [False, False]
            lags = []
            for c in claims:
                if c["status"] == "started":
                    run = store.get_pipeline_run(c["pipeline_run_id"])
                    if run["steps"] and run["steps"][0]["started_at"]:
                        began = datetime.fromisoformat(run["steps"][0]["started_at"])
                        lags.append(
                            (began - datetime.fromisoformat(c["scheduled_for"])).total_seconds()
                        )
            print(
                f"\n{backend}: {len(claims)} ticks claimed, {len(runs)} runs started, 0 duplicates, "
                f"tick-to-step-start median {statistics.median(lags):.3f} s"
            )
            assert statistics.median(lags) < 5


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scheduler_killed_mid_run_leaves_it_interrupted_and_the_next_one_repeats_nothing(
    tmp_path, backend
):
    with store_url(backend, tmp_path) as url:
        root = make_project(tmp_path / "proj", url, seconds=30)
        first = start_scheduler(root)
        with open_store(url) as store:
            try:
                run = wait_for(
                    lambda: [r for r in store.list_runs(step="tick") if r["status"] == "running"],
                    90,
                    "a running step",
                )[0]
            finally:
                first.send_signal(signal.SIGKILL)
                first.communicate(timeout=30)
            # The run dies with its scheduler and records its step interrupted.
            wait_for(lambda: store.get_run(run["id"])["status"] == "interrupted", 60, "interrupted")
            killed_claim = next(
                c
                for c in store.list_scheduled_runs(pipeline="clock", limit=10_000)
                if c["pipeline_run_id"] == run["pipeline_run_id"]
            )
            second = start_scheduler(root, "--stop-timeout", "0")
            try:
                wait_for(
                    lambda: len(scheduled_pipeline_runs(store)) >= 2, 90, "a run after restart"
                )
            finally:
                second.send_signal(signal.SIGTERM)
                err = second.communicate(timeout=90)[1]
            assert second.returncode == 0, err
            claims = store.list_scheduled_runs(pipeline="clock", limit=10_000)
            assert_each_tick_once(claims, scheduled_pipeline_runs(store))
            again = [
                (c["id"], c["status"], c["pipeline_run_id"])
                for c in claims
                if c["scheduled_for"] == killed_claim["scheduled_for"]
            ]
            # its tick was not run a second time
            assert again == [(killed_claim["id"], "started", killed_claim["pipeline_run_id"])]
            # --stop-timeout 0: the restarted scheduler's run was stopped too; nothing is left
            # running or queued, and each run says it was interrupted.
            runs = scheduled_pipeline_runs(store)
            assert [r["status"] for r in runs] == ["interrupted"] * len(runs), err
            steps = store.list_runs(step="tick", mode="production", limit=100)
            assert {r["status"] for r in steps} <= {"interrupted"}, err


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broken_edit_is_logged_and_the_last_good_version_keeps_running(tmp_path, backend, caplog):
    with store_url(backend, tmp_path) as url:
        root = unpromoted_project(tmp_path / "proj", url)
        with open_store(url) as store:
            s = RecordingScheduler(root / "dataops.yaml", store=store)
            t0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
            s.tick(t0)
            (root / "dataops.yaml").write_text("pipeline: clock\nsteps:\n  tick: [\n")
            with caplog.at_level(logging.INFO, logger="jupyter_dataops.scheduler"):
                s.tick(t0 + timedelta(seconds=1))
                s.tick(t0 + timedelta(seconds=2))
            [failed] = [r for r in caplog.records if r.getMessage() == "reload_failed"]
            assert failed.fields["line"] is not None and failed.fields["path"].endswith(
                "dataops.yaml"
            )
            assert "not valid YAML" in failed.fields["error"]
            assert s.launched == [t0 + timedelta(seconds=i) for i in range(3)]  # kept going
            # A good edit is picked up: now every 10 seconds.
            write_yaml(root, url, 0, schedule="* * * * * */10")
            os.utime(root / "dataops.yaml")
            s.launched.clear()
            for i in range(3, 23):
                s.tick(t0 + timedelta(seconds=i))
            assert all(t.second % 10 == 0 for t in s.launched) and len(s.launched) == 2


@pytest.mark.parametrize("catchup", ["skip", "latest", "all"])
def test_catchup_after_downtime_claims_from_the_store(tmp_path, catchup):
    with store_url("sqlite", tmp_path) as url:
        root = tmp_path / "proj"
        sleep_notebook(root / "tick.ipynb")
        (root / "dataops.yaml").write_text(
            textwrap.dedent(f"""\
            pipeline: clock
            store: '{url}'
            steps:
              tick: {{notebook: tick.ipynb, schedule: "0 6 * * *", catchup: {catchup},
                      max_catchup: 2}}
            """)
        )
        day = datetime(2026, 11, 8, 6, tzinfo=timezone.utc)
        with open_store(url) as store:
            assert store.claim_scheduled_run("clock", "tick", day)  # the last run before downtime
            s = RecordingScheduler(root / "dataops.yaml", store=store)
            s.tick(day + timedelta(days=5, hours=8))  # back on the 13th at 14:00
            expected = {
                "skip": [],
                "latest": [day + timedelta(days=5)],
                "all": [day + timedelta(days=4), day + timedelta(days=5)],
            }[catchup]
            assert s.launched == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_runner_dead_on_another_host_is_marked_interrupted_within_minutes(tmp_path, backend):
    from sqlalchemy import update

    from jupyter_dataops.pipeline.scheduling.scheduler import STALE_AFTER, Scheduler
    from jupyter_dataops.store.models import PipelineRun, StepRun

    with store_url(backend, tmp_path) as url:
        root = unpromoted_project(tmp_path / "proj", url)
        with open_store(url) as store:
            runs = {}
            for age in (4, 6):  # minutes since the runner's last heartbeat
                prid = store.create_pipeline_run("clock", host="elsewhere", pid=4242)
                srid = store.create_step_run(prid, "tick", host="elsewhere", pid=4242)
                store.start_step_run(srid, host="elsewhere", pid=4242)
                then = datetime.now(timezone.utc) - timedelta(minutes=age)
                with store._write() as conn:
                    conn.execute(
                        update(PipelineRun).where(PipelineRun.id == prid).values(heartbeat_at=then)
                    )
                    conn.execute(
                        update(StepRun)
                        .where(StepRun.id == srid)
                        .values(updated_at=then, created_at=then)
                    )
                runs[age] = srid
            assert timedelta(minutes=5) == STALE_AFTER
            Scheduler(root / "dataops.yaml", store=store).maintenance()
            assert store.get_run(runs[4])["status"] == "running"  # heard from 4 minutes ago
            dead = store.get_run(runs[6])
            assert dead["status"] == "interrupted" and "elsewhere" in dead["error"]


def test_after_a_short_restart_the_newest_on_time_tick_runs_and_the_rest_are_recorded_skipped(
    tmp_path,
):
    with store_url("sqlite", tmp_path) as url:
        root = unpromoted_project(tmp_path / "proj", url)
        t0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
        with open_store(url) as store:
            assert store.claim_scheduled_run("clock", "tick", t0)  # then down for 10 s
            s = RecordingScheduler(root / "dataops.yaml", store=store)
            s.tick(t0 + timedelta(seconds=10, milliseconds=200))
            assert s.launched == [t0 + timedelta(seconds=10)]
            rows = store.list_scheduled_runs(pipeline="clock", limit=100)
            skipped = [r for r in rows if r["status"] == "skipped"]
            assert len(skipped) == 9 and {r["reason"] for r in skipped} == {
                "a newer tick of this schedule was due in the same pass"
            }
