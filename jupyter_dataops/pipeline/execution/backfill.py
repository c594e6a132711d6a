"""Backfill: run a pipeline once per partition of a range, oldest first (``dataops backfill``).

A partition whose steps all succeeded is done and is not run again (unless ``rerun="all"``);
a partition stopped half-way runs again from its steps that did not succeed. With ``jobs`` > 1
partitions overlap, and what is recorded stays that of one run after another: step S of
partition P starts only after step S of the partition before it has finished (or was skipped),
and P's runs are created after the previous partition's, so every SPC history is in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

RERUN = ("failed", "all")
# rerun=None: a step is done once it succeeded; "finished" (the demo's): also once it failed or
# was skipped after a failure, so only partitions never run or stopped half-way run again
_DONE = {None: ("success",), "failed": ("success",), "finished": ("success", "failed", "skipped")}


@dataclass
class PartitionPlan:
    """A partition to run and which of its steps (None: all of them)."""

    partition: str
    steps: list[str] | None = None


def plan_backfill(
    pipeline: Any,
    store: Store,
    first: str,
    last: str,
    *,
    rerun: str | None = None,
    steps: Sequence[str] | None = None,
) -> list[PartitionPlan]:
    """The partitions from ``first`` to ``last`` that need a run, oldest first: not yet
    successful (their steps that did not succeed), or every one with ``rerun="all"``."""
    if pipeline.partitions is None:
        raise PipelineError(
            f"{pipeline.path}: backfill needs `partitions:` in dataops.yaml (e.g. `partitions: "
            "{every: day, parameter: run_date, start: 2026-09-01}`)."
        )
    if rerun is not None and rerun not in (*RERUN, "finished"):
        raise PipelineError(f"--rerun must be one of {', '.join(RERUN)}, not {rerun!r}.")
    try:
        keys = pipeline.partitions.range(first, last)
    except ValueError as exc:
        raise PipelineError(f"{pipeline.path}: backfill: {exc}") from None
    names = list(steps or pipeline.steps)
    if rerun == "all":
        return [PartitionPlan(k, None if steps is None else names) for k in keys]
    done = store.partition_statuses(pipeline.name, keys) if store is not None else {}
    plans = []
    for key in keys:
        todo = [n for n in names if done.get(key, {}).get(n) not in _DONE[rerun]]
        if todo:
            whole = len(todo) == len(names) and steps is None
            plans.append(PartitionPlan(key, None if whole else todo))
    return plans


class _Turns:
    """Step S of partition i may start once step S of partition i-1 has finished or been
    skipped."""

    def __init__(self, plans: Sequence[PartitionPlan], steps: Sequence[str]) -> None:
        self.index = {p.partition: i for i, p in enumerate(plans)}
        self._done = {(s, i): threading.Event() for i in range(len(plans)) for s in steps}
        self.steps = list(steps)
        for i, p in enumerate(plans):
            for step in steps:
                if p.steps is not None and step not in p.steps:
                    self._done[(step, i)].set()  # not part of this partition's run

    def wait(self, step: str, partition: str) -> None:
        i = self.index[partition]
        if i > 0:
            self._done[(step, i - 1)].wait()

    def done(self, step: str, partition: str) -> None:
        self._done[(step, self.index[partition])].set()

    def partition_done(self, partition: str) -> None:
        for step in self.steps:
            self.done(step, partition)


class _Shared:
    """Set while a backfill runs: its process pool, turns, and each run thread's partition."""

    pool: ProcessPoolExecutor | None = None
    turns: _Turns | None = None
    local = threading.local()


def _in_order_executor() -> type:
    from jupyter_dataops.pipeline.execution.execute import execute_notebook
    from jupyter_dataops.pipeline.execution.executors import Executor

    class InOrderExecutor(Executor):
        """The backfill's local pool, started once; an attempt waits for its step's turn."""

        name = "backfill"

        def start(self, job: Any) -> Future:
            assert _Shared.turns is not None
            _Shared.turns.wait(job.step, _Shared.local.partition)
            return super().start(job)

        def execute(self, job: Any) -> Future:
            assert _Shared.pool is not None
            return _Shared.pool.submit(execute_notebook, job.notebook_job)

    return InOrderExecutor


class _PartitionReporter:
    """Runner events of one partition: release turns, advance the progress, pass them on."""

    def __init__(self, partition: str, turns: _Turns, advance: Callable[[str, str], None],
                 inner: Any = None) -> None:  # fmt: skip
        self.partition = partition
        self.turns = turns
        self.advance = advance
        self.inner = inner
        self.created = threading.Event()
        self.result: Any = None

    def run_started(self, run_id: int, plans: dict) -> None:
        self.created.set()
        if self.inner is not None:
            self.inner.run_started(run_id, plans)

    def step_started(self, step: str, attempt: int) -> None:
        if self.inner is not None:
            self.inner.step_started(step, attempt)

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        if self.inner is not None:
            self.inner.step_retrying(step, attempt, error, delay)

    def step_finished(self, outcome: Any) -> None:
        self.turns.done(outcome.step, self.partition)
        self.advance(self.partition, outcome.step)
        if self.inner is not None:
            self.inner.step_finished(outcome)

    def run_finished(self, result: Any) -> None:
        self.result = result
        self.turns.partition_done(self.partition)
        if self.inner is not None:
            self.inner.run_finished(result)


def backfill(
    pipeline: Any,
    plans: Sequence[PartitionPlan],
    *,
    store_url: str,
    jobs: int = 1,
    params: Sequence[str] = (),
    advance: Callable[[str, str], None] = lambda partition, step: None,
    reporter: Callable[[str], Any] | None = None,
    trigger: str = "backfill",
) -> dict[str, Any]:
    """Run ``pipeline`` once per planned partition (``run_pipeline(partition=...)``), ``jobs``
    partitions overlapping, in order per step. Returns partition -> ``RunResult``.
    ``reporter(partition)`` may give each run a runner Reporter (e.g. alerts)."""
    from jupyter_dataops.pipeline.execution.executors import executors
    from jupyter_dataops.pipeline.execution.forking import started_pool
    from jupyter_dataops.pipeline.execution.runner import run_pipeline
    from jupyter_dataops.store import open_store

    if jobs < 1:
        raise PipelineError(f"--jobs must be at least 1, not {jobs}.")
    if not plans:
        return {}
    turns = _Turns(plans, list(pipeline.steps))
    executor = _in_order_executor()
    executors.register(executor.name, executor)
    from jupyter_dataops.pipeline.execution import warm

    # One kernel template for the whole backfill, started before the workers are forked so they
    # all share it: every step of every partition forks its kernel from it (its imports are
    # paid once, not once per worker or per partition).
    warm.prestart()
    # Started before any thread, so no worker is forked while another thread holds a lock.
    pool = started_pool(jobs)
    _Shared.pool, _Shared.turns = pool, turns
    errors: list[BaseException] = []
    results: dict[str, Any] = {}
    # a partition's thread frees its place as it ends: the next one starts at once (a 0.2 s
    # join poll here left a core idle up to 0.2 s per partition)
    places = threading.BoundedSemaphore(jobs)

    def run_one(plan: PartitionPlan, rep: _PartitionReporter) -> None:
        _Shared.local.partition = plan.partition
        try:
            with open_store(store_url) as store:
                results[plan.partition] = run_pipeline(
                    pipeline,
                    plan.steps,
                    params,
                    executor=executor.name,
                    executor_options={},
                    workers=1,
                    store=store,
                    reporter=rep,
                    trigger=trigger,
                    partition=plan.partition,
                )
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
        finally:
            rep.created.set()
            turns.partition_done(plan.partition)
            places.release()

    threads: list[threading.Thread] = []
    try:
        for plan in plans:
            while not places.acquire(timeout=0.5):  # a timeout: Ctrl-C is seen here
                pass
            if errors:
                places.release()
                break
            inner = reporter(plan.partition) if reporter is not None else None
            rep = _PartitionReporter(plan.partition, turns, advance, inner)
            thread = threading.Thread(
                target=run_one, args=(plan, rep), daemon=True, name=f"backfill {plan.partition}"
            )
            thread.start()
            threads.append(thread)
            while not rep.created.wait(0.2):  # P's runs exist before the next partition's
                pass
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    finally:
        _Shared.pool = _Shared.turns = None
        pool.shutdown(wait=not any(t.is_alive() for t in threads), cancel_futures=True)
    if errors:
        raise errors[0]
    return results
