"""Due ticks as pure functions of (schedule, cursor, now), with fixed datetimes: on-time ticks,
catch-up policies after downtime, time zones, the upstream rule, and two schedulers stepping a
simulated clock through 100 ticks of an every-second schedule in real processes."""

from __future__ import annotations

import multiprocessing
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.scheduling.schedules import (
    Schedule,
    due_runs,
    next_run,
    schedules,
    upstream_closure,
)
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url

UTC = timezone.utc
DAY = Schedule("load", "0 6 * * *")  # every day at 06:00 UTC


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def test_a_tick_is_due_once_when_its_time_comes():
    cursor = at(10, 5, 59)
    assert due_runs(DAY, cursor, at(10, 5, 59, 59)).run == []
    due = due_runs(DAY, cursor, at(10, 6, 0, 0))
    assert due.run == [at(10, 6)] and due.missed == []
    # 50 s late (a slow pass) is still on time; the next pass (cursor moved) has nothing.
    assert due_runs(DAY, cursor, at(10, 6, 0, 50)).run == [at(10, 6)]
    assert due_runs(DAY, at(10, 6, 0, 50), at(10, 6, 1, 40)).run == []


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        ("skip", []),
        ("latest", [at(13, 6)]),
        ("all", [at(11, 6), at(12, 6), at(13, 6)]),
    ],
)
def test_catchup_after_three_days_down(catchup, expected):
    sched = Schedule("load", "0 6 * * *", catchup=catchup, max_catchup=3)
    # Last tick handled: the 8th; back at 14:00 on the 13th. Missed: 9th..13th at 06:00.
    due = due_runs(sched, at(8, 6), at(13, 14))
    assert due.run == expected
    assert sorted(due.missed + due.run) == [at(d, 6) for d in range(9, 14)]


def test_latest_runs_no_late_tick_when_one_is_on_time():
    sched = Schedule("load", "*/10 * * * *", catchup="latest")
    due = due_runs(sched, at(10, 5), at(10, 6, 0, 20))
    assert due.run == [at(10, 6)]
    assert at(10, 5, 50) in due.missed


def test_all_is_bounded_by_max_catchup():
    sched = Schedule("load", "* * * * *", catchup="all", max_catchup=5)
    due = due_runs(sched, at(1, 0), at(30, 0))  # a month of minutes missed
    assert len(due.run) == 5 + 1  # the five newest late ones, then the on-time one
    assert due.run[-1] == at(30, 0)


def test_time_zone_and_daylight_saving():
    paris = Schedule("load", "0 6 * * *", timezone="Europe/Paris")
    # Winter (UTC+1): 06:00 in Paris is 05:00 UTC; summer (UTC+2): 04:00 UTC.
    assert due_runs(paris, at(10, 4, 59), at(10, 5, 0)).run == [at(10, 5)]
    summer = datetime(2026, 7, 1, 3, 59, tzinfo=UTC)
    assert due_runs(paris, summer, summer + timedelta(minutes=1)).run == [
        summer + timedelta(minutes=1)
    ]
    assert next_run(paris, at(10, 5)) == at(11, 5).isoformat()


def test_every_second_schedule_yields_each_second_once_over_100_passes():
    sched = Schedule("tick", "* * * * * *")
    cursor, seen = at(10, 12) - timedelta(seconds=1), []
    for i in range(100):
        now = at(10, 12) + timedelta(seconds=i, microseconds=250_000)
        seen += due_runs(sched, cursor, now).run
        cursor = now.replace(microsecond=0)
    assert seen == [at(10, 12) + timedelta(seconds=i) for i in range(100)]


PIPE = """
pipeline: sales
schedule: "0 1 * * *"
timezone: Europe/Paris
catchup: all
steps:
  extract: {notebook: a.ipynb}
  transform: {notebook: a.ipynb, depends_on: [extract]}
  report: {notebook: a.ipynb, depends_on: [transform], schedule: "0 6 * * *", catchup: skip}
  side: {notebook: a.ipynb, depends_on: [extract]}
"""


def test_schedules_inherit_the_pipeline_settings_and_run_their_upstream_steps(tmp_path):
    (tmp_path / "dataops.yaml").write_text(textwrap.dedent(PIPE))
    pipeline = load_pipeline(tmp_path)
    got = schedules(pipeline)
    assert set(got) == {"*", "report"}
    assert got["report"].timezone == "Europe/Paris" and got["report"].catchup == "skip"
    assert got["*"].catchup == "all"
    # The rule: a scheduled step runs after everything upstream of it; not what is downstream
    # or beside it.
    assert upstream_closure(pipeline, "report") == ["extract", "transform", "report"]
    assert got["*"].steps(pipeline) == ["extract", "transform", "report", "side"]


# -- two schedulers, one store, a simulated clock: 100 ticks, each claimed and started once ----

YAML = """
pipeline: clock
steps:
  tick: {notebook: tick.ipynb, schedule: "* * * * * *"}
"""


def _scheduler_process(path, url, start, barrier, out):
    from jupyter_dataops.pipeline.scheduling.scheduler import Scheduler

    class CountingScheduler(Scheduler):
        """Records what it would start instead of starting kernels: this test counts claims."""

        def launch(self, scheduled_for, claims, now=None):
            for _, claim in claims:
                self.store.close_scheduled_run(claim, "skipped", "counted by the test")
            out.put(scheduled_for.isoformat())

    store = open_store(url)
    s = CountingScheduler(path, store=store)
    s.register()
    barrier.wait()
    for i in range(100):
        s.tick(start + timedelta(seconds=i, milliseconds=300))
    out.put("done")
    store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_schedulers_share_100_ticks_exactly_once(tmp_path, backend):
    (tmp_path / "dataops.yaml").write_text(textwrap.dedent(YAML))
    with store_url(backend, tmp_path) as url:
        open_store(url).close()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        ctx = multiprocessing.get_context("fork")
        barrier, out = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(target=_scheduler_process, args=(tmp_path, url, start, barrier, out))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        started, done = [], 0
        while done < 2:
            item = out.get(timeout=240)
            if item == "done":
                done += 1
            else:
                started.append(item)
        for p in procs:
            p.join(30)
        expected = [(start + timedelta(seconds=i)).isoformat() for i in range(100)]
        assert sorted(started) == expected  # every tick started once: 0 lost, 0 duplicates
        with open_store(url) as store:
            rows = store.list_scheduled_runs(pipeline="clock", limit=1000)
            assert len(rows) == 100
            assert len({r["scheduler_id"] for r in rows}) == 2  # both really competed


def test_a_schedule_never_run_starts_with_its_newest_on_time_tick_only():
    from jupyter_dataops.pipeline.scheduling.schedules import first_cursor

    every_second = Schedule("tick", "* * * * * *")
    now = at(10, 6, 0, 20)
    assert due_runs(every_second, first_cursor(every_second, now), now).run == [now]
    assert due_runs(DAY, first_cursor(DAY, now), now).run == [at(10, 6)]
    later = at(10, 9)
    assert due_runs(DAY, first_cursor(DAY, later), later).run == []  # 06:00 was long ago
