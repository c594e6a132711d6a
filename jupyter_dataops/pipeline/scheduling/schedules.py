"""Schedules of a pipeline and their due ticks: pure functions of (schedule, cursor, now).

A schedule is a cron expression (five fields, or six with seconds last) read in its time zone
(croniter + zoneinfo, so daylight-saving changes are handled by the calendar, not by us), with a
catch-up policy for ticks missed while no scheduler ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from jupyter_dataops.pipeline.definition import dag
from jupyter_dataops.pipeline.definition.spec import Pipeline

WHOLE_PIPELINE = "*"  # the claim key of the pipeline's own ``schedule:`` (every step)
GRACE = timedelta(seconds=60)  # a tick up to this late is on time; later, it was missed
DEFAULT_CATCHUP = "latest"
DEFAULT_MAX_CATCHUP = 10


@dataclass(frozen=True)
class Schedule:
    """One schedule of a pipeline: ``key`` is a step name or ``*`` (the whole pipeline)."""

    key: str
    cron: str
    timezone: str = "UTC"
    catchup: str = DEFAULT_CATCHUP
    max_catchup: int = DEFAULT_MAX_CATCHUP

    def steps(self, pipeline: Pipeline) -> list[str]:
        """The steps a tick runs: the scheduled step, every step downstream of it (as an Airflow
        DAG runs), and everything those depend on."""
        if self.key == WHOLE_PIPELINE:
            return list(pipeline.steps)
        deps = dag.graph(pipeline)
        chain = {self.key}
        grew = True
        while grew:
            more = {n for n, ups in deps.items() if n not in chain and chain & set(ups)}
            chain |= more
            grew = bool(more)
        found: set[str] = set()
        for step in chain:
            found.update(upstream_closure(pipeline, step))
        return [n for n in dag.order(deps) if n in found]


def upstream_closure(pipeline: Pipeline, step: str) -> list[str]:
    """``step`` and every step it depends on, directly or not, in run order."""
    deps = dag.graph(pipeline)
    found, frontier = {step}, [step]
    while frontier:
        for dep in deps[frontier.pop()]:
            if dep not in found:
                found.add(dep)
                frontier.append(dep)
    return [n for n in dag.order(deps) if n in found]


def schedules(pipeline: Pipeline) -> dict[str, Schedule]:
    """Every schedule of a pipeline, with the pipeline's settings as each step's defaults."""

    def pick(spec: Any, key: str, default: Any) -> Any:
        value = getattr(spec, key, None) if spec is not None else None
        if value is None:
            value = getattr(pipeline, key, None)
        return default if value is None else value

    def schedule(key: str, spec: Any, cron: str) -> Schedule:
        return Schedule(
            key,
            cron,
            pick(spec, "timezone", "UTC"),
            pick(spec, "catchup", DEFAULT_CATCHUP),
            pick(spec, "max_catchup", DEFAULT_MAX_CATCHUP),
        )

    out = {}
    if pipeline.schedule:
        out[WHOLE_PIPELINE] = schedule(WHOLE_PIPELINE, None, pipeline.schedule)
    for name, spec in pipeline.steps.items():
        if spec.schedule:
            out[name] = schedule(name, spec, spec.schedule)
    return out


# -- due ticks: pure functions of (schedule, cursor, now) -----------------------------------------


def _cron(schedule: Schedule, base: datetime) -> Any:
    from zoneinfo import ZoneInfo

    from croniter import croniter

    return croniter(schedule.cron, base.astimezone(ZoneInfo(schedule.timezone)))


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc)


def ticks_between(schedule: Schedule, after: datetime, until: datetime, limit: int = 10_000):
    """The schedule's ticks in ``(after, until]``, oldest first (at most ``limit``)."""
    it = _cron(schedule, after)
    out: list[datetime] = []
    while len(out) < limit:
        t = _utc(it.get_next(datetime))
        if t > until:
            break
        out.append(t)
    return out


def newest_ticks(schedule: Schedule, after: datetime, until: datetime, n: int) -> list[datetime]:
    """The newest ``n`` ticks in ``(after, until]``, oldest first (cheap after long downtime)."""
    it = _cron(schedule, until.replace(microsecond=0) + timedelta(seconds=1))
    out: list[datetime] = []
    while len(out) < n:
        t = _utc(it.get_prev(datetime))
        if t <= after:
            break
        out.append(t)
    return out[::-1]


@dataclass
class Due:
    """What one tick of the scheduler does for one schedule."""

    run: list[datetime] = field(default_factory=list)  # ticks to claim and start, oldest first
    missed: list[datetime] = field(default_factory=list)  # late ticks that will not run


def due_runs(schedule: Schedule, cursor: datetime, now: datetime, grace: timedelta = GRACE) -> Due:
    """The ticks of ``schedule`` after ``cursor`` (the newest tick already handled) up to
    ``now`` that should run. Ticks at most ``grace`` old are on time and always run; older ones
    were missed, and ``catchup`` decides: ``skip`` none of them, ``latest`` the newest one
    (only when no tick is on time), ``all`` the newest ``max_catchup``."""
    now = now.replace(microsecond=0)
    late_until = now - grace
    on_time = ticks_between(schedule, max(cursor, late_until), now)
    due = Due(run=list(on_time))
    if cursor >= late_until:
        return due
    if schedule.catchup == "all":
        keep = newest_ticks(schedule, cursor, late_until, schedule.max_catchup)
    elif schedule.catchup == "latest" and not on_time:
        keep = newest_ticks(schedule, cursor, late_until, 1)
    else:
        keep = []
    due.run = keep + due.run
    # For the log only: which late ticks do not run (bounded, the count is what matters).
    missed = ticks_between(schedule, cursor, late_until, limit=1000)
    due.missed = [t for t in missed if t not in keep]
    return due


def first_cursor(schedule: Schedule, now: datetime, grace: timedelta = GRACE) -> datetime:
    """Where a schedule never claimed before starts: just before its newest tick if that tick
    is on time (a scheduler started at 06:00:20 still runs the 06:00 tick), else ``now``."""
    now = now.replace(microsecond=0)
    newest = newest_ticks(schedule, now - grace, now, 1)
    return newest[0] - timedelta(seconds=1) if newest else now


def next_run(schedule: Schedule, now: datetime | None = None) -> str | None:
    """The next tick after ``now``, ISO-8601 UTC."""
    now = now or datetime.now(timezone.utc)
    return _utc(_cron(schedule, now).get_next(datetime)).isoformat()
