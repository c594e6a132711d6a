"""``dataops scheduler``: run the pipeline's schedules unattended, each tick exactly once.

Every ``interval`` the service re-reads ``dataops.yaml`` if it changed (a broken edit is logged
with its file and line; the last good version keeps running), computes each schedule's due ticks
(cron in the schedule's time zone; ``catchup`` decides what runs after downtime), claims each
tick in the run store (a unique key on pipeline + step + scheduled time: of several schedulers
on one store exactly one wins), and starts the claimed steps through the same runner as
``dataops run``, in a child process per run, for the tick's partition (``partitions:``: the
period that ended ``offset`` periods before the tick). A scheduled step runs with the steps
downstream of it (as an Airflow DAG does) after all the steps they depend on, in one pipeline
run; the pipeline's ``schedule:`` runs them all. Every tick is a row in the store with its
partition: run, skipped (and why) or missed while no scheduler ran. Partitions past their
``expect_by`` are noticed at start and every maintenance pass (one ``late`` alert each).

Stopping (SIGTERM or Ctrl-C) stops claiming, lets running steps finish for ``stop_timeout``
seconds, then stops them (they are recorded ``interrupted``). A scheduler killed outright takes
its runs with it (each run dies with its scheduler and records its steps ``interrupted``); its
claims stay, so the tick is never run twice, and the next scheduler reports what happened.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition import dag
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.forking import frozen_for_fork
from jupyter_dataops.pipeline.scheduling.schedule_status import STALE_AFTER
from jupyter_dataops.pipeline.scheduling.scheduled_run import RESIGNAL_SECONDS, run_claimed
from jupyter_dataops.pipeline.scheduling.scheduler_log import log, log_event
from jupyter_dataops.pipeline.scheduling.schedules import (
    GRACE,
    Schedule,
    due_runs,
    first_cursor,
    next_run,
    schedules,
)

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

MAINTENANCE_SECONDS = 10.0
KILL_AFTER_SECONDS = 30.0  # ... and SIGKILL after this long


# -- the service -------------------------------------------------------------------------------------


@dataclass
class _Child:
    process: Any
    scheduled_for: datetime
    keys: list[str]
    claim_ids: list[int]
    steps: list[str]
    terminated: bool = False


class Scheduler:
    """The scheduler of one pipeline file over its run store. ``run()`` is the service loop;
    ``tick(now)`` is one pass of it (tests drive it with a simulated clock)."""

    def __init__(
        self,
        path: Path | str,
        *,
        store: Store | None = None,
        interval: float = 1.0,
        stop_timeout: float = 60.0,
        executor: str | None = None,  # None: `executor:` of dataops.yaml, else local
        workers: int | None = None,
        grace: timedelta = GRACE,
    ) -> None:
        self.pipeline = load_pipeline(path)
        self.path = self.pipeline.path
        self._stamp = self._file_stamp()
        if store is None:
            from jupyter_dataops.pipeline.execution.runner import open_pipeline_store

            store = open_pipeline_store(self.pipeline)
        self.store = store
        self.interval = interval
        self.stop_timeout = stop_timeout
        self.executor = executor
        self.workers = workers
        self.grace = grace
        self.cursors: dict[str, datetime] = {}
        self.children: list[_Child] = []
        self.queue: dict[str, list[tuple[datetime, int]]] = {}  # claimed ticks waiting their turn
        self.stopping = threading.Event()
        self.id: int | None = None
        self._last_maintenance = 0.0
        self.started = 0  # runs started by this scheduler (for its log)

    # -- lifecycle ------------------------------------------------------------------------------

    def register(self) -> int:
        import papermill  # noqa: F401 - imported once here, inherited by every forked run

        self.id = self.store.register_scheduler(
            self.pipeline.name, project_dir=str(self.pipeline.project_dir)
        )
        log_event(
            logging.INFO,
            "scheduler_started",
            pipeline=self.pipeline.name,
            file=str(self.path),
            scheduler_id=self.id,
            pid=os.getpid(),
            host=self.store.host,
            store=self.store.display_url,
            schedules=self._describe(),
        )
        self.notice_late()
        return self.id

    def notice_late(self) -> None:
        """Partitions past their ``expect_by`` become ``late`` incidents, alerted when one opens
        and when it resolves."""
        from jupyter_dataops.pipeline.observers.lateness import notice_late

        for line in notice_late(self.pipeline, self.store):
            log_event(logging.WARNING, "late", **_delivery(line))

    def remind(self) -> None:
        """Alert again the incidents still open past a channel's ``remind_after`` (every tick,
        so a reminder is due on time even when no run ends)."""
        alerts = [a for a in self.pipeline.alerts if a.options.get("remind_after")]
        if not alerts:
            return
        from jupyter_dataops.pipeline.observers.alerts import remind_open

        for line in remind_open(alerts, self.store, self.pipeline.name):
            log_event(logging.INFO, "reminded", **_delivery(line))

    def _describe(self) -> dict[str, str]:
        return {
            k: f"{s.cron} ({s.timezone}, catchup {s.catchup})"
            for k, s in schedules(self.pipeline).items()
        }

    def run(self) -> None:
        """Tick every ``interval`` seconds until SIGTERM/SIGINT (or ``stop()``), then shut down
        cleanly. Must run in the main thread (it installs the signal handlers)."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if self.id is None:
                self.register()
            while not self.stopping.is_set():
                try:
                    self.tick()
                except DataOpsError as exc:  # the store is unreachable for a while: keep going
                    log_event(logging.ERROR, "tick_failed", error=str(exc))
                except Exception as exc:  # noqa: BLE001 - a service logs and goes on
                    log.exception("tick_failed", extra={"fields": {"error": repr(exc)}})
                self.stopping.wait(self._sleep_seconds())
            self.shutdown()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stopping.is_set():  # a second signal: stop running steps now
            for child in self.children:
                self._terminate(child)
            return
        log_event(
            logging.INFO,
            "stopping",
            signal=signal.Signals(signum).name,
            running=len(self.children),
            stop_timeout=self.stop_timeout,
        )
        self.stopping.set()

    def stop(self) -> None:
        self.stopping.set()

    def _sleep_seconds(self) -> float:
        now = datetime.now(timezone.utc)
        soonest = self.interval
        for s in schedules(self.pipeline).values():
            nxt = datetime.fromisoformat(next_run(s, now))
            soonest = min(soonest, max(0.0, (nxt - now).total_seconds()) + 0.01)
        return soonest

    def shutdown(self) -> None:
        """Let running steps finish for ``stop_timeout`` s, then stop them (interrupted)."""
        deadline = time.monotonic() + self.stop_timeout
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.1)
        for child in self.children:
            self._terminate(child)
        # A stop signal can land where Python cannot raise it (inside logging's lock release,
        # say) and be lost: repeat it every RESIGNAL_SECONDS, then kill. A run killed outright
        # leaves its records to mark_interrupted (in reap), so nothing stays "running".
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        resignal = time.monotonic() + RESIGNAL_SECONDS
        while self.children and time.monotonic() < deadline:
            self.reap()
            if time.monotonic() >= resignal:
                resignal = time.monotonic() + RESIGNAL_SECONDS
                for child in self.children:
                    if child.process.is_alive():
                        child.process.terminate()
            time.sleep(0.1)
        for child in self.children:
            child.process.kill()
            child.process.join(10)
        self.reap()
        for key, waiting in self.queue.items():
            for t, claim in waiting:
                self.store.close_scheduled_run(
                    claim, "interrupted", "the scheduler stopped before this tick's turn came"
                )
                log_event(logging.WARNING, "not_started", key=key, scheduled_for=t)
        self.queue.clear()
        if self.id is not None:
            self.store.stop_scheduler(self.id)
        log_event(
            logging.INFO, "scheduler_stopped", scheduler_id=self.id, runs_started=self.started
        )

    def _terminate(self, child: _Child) -> None:
        if not child.terminated and child.process.is_alive():
            child.terminated = True
            log_event(logging.WARNING, "run_stopping", keys=child.keys, pid=child.process.pid)
            child.process.terminate()

    # -- one pass --------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[_Child]:
        """Reload the file if it changed, heartbeat, close finished runs, then claim and start
        every due tick. Returns the runs started."""
        real_now = datetime.now(timezone.utc)
        now = now or real_now
        self.reload()
        if self.id is not None:
            self.store.scheduler_heartbeat(self.id)
        self.reap()
        if time.monotonic() - self._last_maintenance >= MAINTENANCE_SECONDS:
            self._last_maintenance = time.monotonic()
            self.maintenance()
        self.remind()
        scheds = schedules(self.pipeline)
        for key, sched in scheds.items():
            cursor = self.cursors.get(key)
            if cursor is None:
                last = self.store.last_scheduled(self.pipeline.name, key)
                cursor = last if last is not None else first_cursor(sched, now, self.grace)
            due = due_runs(sched, cursor, now, self.grace)
            if due.missed:
                log_event(
                    logging.WARNING,
                    "missed",
                    key=key,
                    count=len(due.missed),
                    first=due.missed[0],
                    last=due.missed[-1],
                    catchup=sched.catchup,
                )
            for t in due.missed:  # a row per tick not run, not only a log line
                claim = self.store.claim_scheduled_run(
                    self.pipeline.name,
                    key,
                    t,
                    scheduler_id=self.id,
                    partition=self.partition_of(key, t),
                )
                if claim is not None:
                    why = f"missed while no scheduler ran (catchup: {sched.catchup})"
                    self.store.close_scheduled_run(claim, "skipped", why)
            for t in due.run:
                claim = self.store.claim_scheduled_run(
                    self.pipeline.name,
                    key,
                    t,
                    scheduler_id=self.id,
                    partition=self.partition_of(key, t),
                )
                if claim is None:
                    continue  # another scheduler has it
                reason = self._skip_reason(sched, t, due.run, now)
                if reason:
                    self.store.close_scheduled_run(claim, "skipped", reason)
                    log_event(logging.WARNING, "skipped", key=key, scheduled_for=t, reason=reason)
                    continue
                self.queue.setdefault(key, []).append((t, claim))
            self.cursors[key] = max(cursor, now.replace(microsecond=0))
        started = []
        while True:
            ready = [
                (q[0][0], k)
                for k, q in self.queue.items()
                if q and k in scheds and not self._busy(k)
            ]
            if not ready:
                break
            first = min(t for t, _ in ready)
            claims = [(k, self.queue[k].pop(0)[1]) for t, k in sorted(ready) if t == first]
            started.append(self.launch(first, claims, real_now))
        return started

    def _skip_reason(
        self, sched: Schedule, t: datetime, due: list[datetime], now: datetime
    ) -> str | None:
        """Why a claimed tick does not run, or None: it waits in the queue for its turn.

        With ``catchup: all`` every tick waits its turn (at most ``max_catchup`` waiting). Else a
        late tick kept by catch-up waits; an on-time tick is skipped when a newer one is due in
        the same pass, or while an earlier run of its schedule is running or waiting."""
        waiting = self.queue.get(sched.key, [])
        if sched.catchup == "all":
            if len(waiting) >= sched.max_catchup:
                return f"{sched.max_catchup} ticks of this schedule (max_catchup) were waiting"
            return None
        if t < now.replace(microsecond=0) - self.grace:
            return None
        if any(u > t for u in due):
            return "a newer tick of this schedule was due in the same pass"
        busy = self._busy(sched.key)
        if busy:
            return f"step {busy!r} was still running"
        if waiting:
            return "an earlier tick of this schedule was still waiting"
        return None

    def _busy(self, key: str) -> str | None:
        """A step of the schedule that is queued or running (here or by any runner)."""
        sched = schedules(self.pipeline).get(key)
        for step in sched.steps(self.pipeline) if sched else []:
            if self._running(step) or self.store.step_active(self.pipeline.name, step):
                return step
        return None

    def _running(self, step: str) -> bool:
        return any(step in c.steps for c in self.children if c.process.is_alive())

    def partition_of(self, key: str, tick: datetime) -> str | None:
        """The partition a tick of schedule ``key`` processes (None: no ``partitions:``)."""
        parts = self.pipeline.partitions
        if parts is None:
            return None
        return parts.key_of_tick(tick, schedules(self.pipeline)[key].timezone)

    def launch(
        self, scheduled_for: datetime, claims: list[tuple[str, int]], now: datetime | None = None
    ) -> _Child:
        """Start one pipeline run for the claimed keys of one tick, in a child process."""
        keys = [k for k, _ in claims]
        steps: list[str] = []
        for key in keys:
            for s in schedules(self.pipeline)[key].steps(self.pipeline):
                if s not in steps:
                    steps.append(s)
        steps = [s for s in dag.order(dag.select(self.pipeline, steps)) if s in steps]
        claim_ids = [c for _, c in claims]
        partition = self.partition_of(keys[0], scheduled_for)
        ctx = multiprocessing.get_context("fork")
        process = ctx.Process(
            target=run_claimed,
            args=(
                self.pipeline,
                steps,
                claim_ids,
                self.store.url,
                self.executor,
                self.workers,
                os.getpid(),
                partition,
            ),
            name=f"dataops-run-{'+'.join(keys)}",
        )
        with frozen_for_fork():  # the child never finalizes what the scheduler's threads held
            process.start()
        self.store.set_claim_runner(claim_ids, process.pid)
        child = _Child(process, scheduled_for, keys, claim_ids, steps)
        self.children.append(child)
        self.started += 1
        lag = ((now or datetime.now(timezone.utc)) - scheduled_for).total_seconds()
        log_event(
            logging.INFO,
            "run_started",
            keys=keys,
            steps=steps,
            scheduled_for=scheduled_for,
            claims=claim_ids,
            pid=process.pid,
            lag_seconds=round(lag, 3),
        )
        return child

    def reap(self) -> None:
        """Forget finished child runs; a run that never started gets its claim closed."""
        for child in list(self.children):
            if child.process.is_alive():
                continue
            child.process.join()
            code = child.process.exitcode
            self.children.remove(child)
            self.store.adopt_scheduled_runs(child.claim_ids)  # stopped before it said so
            self.store.mark_interrupted(stale_after=STALE_AFTER)  # and what it left running
            for cid in child.claim_ids:  # no-op when the run started (claim is "started")
                self.store.close_scheduled_run(
                    cid,
                    "interrupted" if child.terminated else "failed",
                    f"the run process ended with code {code} before the run started",
                )
            log_event(
                logging.INFO,
                "run_ended",
                keys=child.keys,
                exit_code=code,
                scheduled_for=child.scheduled_for,
            )
            self.retention()

    def maintenance(self) -> None:
        """Close what dead runners and schedulers left behind, and alert about it."""
        marked = self.store.mark_interrupted(stale_after=STALE_AFTER)
        claims = self.store.mark_claims_interrupted(stale_after=STALE_AFTER)
        if marked or claims:
            log_event(logging.WARNING, "interrupted_runs_found", step_runs=marked, claims=claims)
        mine = [
            i for i in marked if (self.store.get_run(i) or {}).get("pipeline") == self.pipeline.name
        ]
        if mine and self.pipeline.alerts:
            from jupyter_dataops.pipeline.observers.alerts import alert_step_runs

            alert_step_runs(self.pipeline.alerts, self.store, mine)
        self.notice_late()

    def retention(self) -> None:
        if self.pipeline.retention is None and not any(
            s.retention for s in self.pipeline.steps.values()
        ):
            return
        from jupyter_dataops.pipeline.scheduling.retention import apply_retention

        try:
            apply_retention(self.pipeline, self.store)
        except Exception as exc:  # noqa: BLE001 - retention never stops the scheduler
            log_event(logging.ERROR, "retention_failed", error=str(exc))

    # -- hot reload ------------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> bool:
        """Load ``dataops.yaml`` again if it changed; keep the last good version on error."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            new = load_pipeline(self.path)
        except DataOpsError as exc:
            fields = {k: getattr(exc, k, None) for k in ("path", "line", "step", "key")}
            log_event(
                logging.ERROR, "reload_failed", error=str(exc), **fields, keeps=self._describe()
            )
            return False
        old = schedules(self.pipeline)
        self.pipeline = new
        for key, sched in schedules(new).items():
            if old.get(key) != sched:
                self.cursors.pop(key, None)  # a new or changed schedule starts from now
        log_event(logging.INFO, "reloaded", file=str(self.path), schedules=self._describe())
        return True


def _delivery(line: dict[str, Any]) -> dict[str, Any]:
    """An alert delivery's fields for a log line (its ``event`` is the log line's own name)."""
    fields = dict(line)
    fields["delivery"] = fields.pop("event", None)
    return fields
