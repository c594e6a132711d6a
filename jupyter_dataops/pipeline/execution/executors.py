"""Executors: where step attempts run. A registry, like papermill's engines.

Every executor follows one template: ``before_start`` (the step run becomes ``running`` in the
store) -> ``execute`` (start the attempt somewhere, return a future) -> ``on_failure`` or
``on_complete`` (record how it ended). Subclasses only say *where* it runs: ``local`` runs each
attempt in a local process pool; a distributed engine (e.g. dask) is one more subclass and one
``register`` line.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.execution.execute import AttemptResult, NotebookJob, execute_notebook
from jupyter_dataops.pipeline.execution.forking import started_pool
from jupyter_dataops.plugins import Registry

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


@dataclass
class StepJob:
    """One attempt of one step: the notebook job plus what the store needs to record it."""

    step: str
    attempt: int
    step_run_id: int
    notebook_job: NotebookJob
    retries_left: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(ABC):
    """Runs step attempts; subclasses implement ``execute`` (and may open/close resources)."""

    name: ClassVar[str] = ""

    def __init__(self, store: Store, *, workers: int | None = None) -> None:
        self.store = store
        self.workers = max(1, workers or 1)

    # -- resources -------------------------------------------------------------------------
    def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire workers before the first attempt (called once per run)."""

    def close(self, *, cancel: bool = False) -> None:  # noqa: B027 - optional hook
        """Release workers; with ``cancel`` stop attempts still running (Ctrl-C)."""

    def __enter__(self) -> Executor:
        self.open()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close(cancel=exc_type is not None)

    # -- the template ----------------------------------------------------------------------
    def start(self, job: StepJob) -> Future:
        """``before_start`` then ``execute``: the attempt is running when this returns."""
        self.before_start(job)
        return self.execute(job)

    def finish(self, job: StepJob, future: Future) -> AttemptResult:
        """Collect an attempt's result and dispatch to ``on_failure`` or ``on_complete``."""
        try:
            result = future.result()
        except Exception as exc:  # the worker itself broke (not the notebook)
            result = AttemptResult(
                "failed",
                job.notebook_job.output,
                0.0,
                reason="setup",
                error=f"the executor could not run the step: {type(exc).__name__}: {exc}",
                ename=type(exc).__name__,
                evalue=str(exc),
            )
        if result.ok:
            self.on_complete(job, result)
        else:
            self.on_failure(job, result)
        return result

    def before_start(self, job: StepJob) -> None:
        """Mark the step run ``running`` with its executed-notebook path."""
        self.store.start_step_run(job.step_run_id, notebook_path=job.notebook_job.output)

    @abstractmethod
    def execute(self, job: StepJob) -> Future:
        """Start the attempt and return a future of its ``AttemptResult``."""

    def on_complete(self, job: StepJob, result: AttemptResult) -> None:
        """Record success."""
        self.store.finish_step_run(job.step_run_id, "success", notebook_path=result.output)

    def on_failure(self, job: StepJob, result: AttemptResult) -> None:
        """Record failure; an attempt that will be retried keeps its notebook under its own name."""
        output = Path(result.output)
        if job.retries_left > 0 and output.exists():
            kept = output.with_name(f"{output.stem}.attempt-{job.attempt}{output.suffix}")
            os.replace(output, kept)
            result.output = str(kept)
        self.store.finish_step_run(
            job.step_run_id,
            "failed",
            error=result.error,
            notebook_path=result.output if Path(result.output).exists() else None,
        )


def _run_job(job: NotebookJob) -> AttemptResult:
    return execute_notebook(job)


class LocalExecutor(Executor):
    """Attempts run in a pool of local processes (``workers`` at a time).

    Workers are forked where the platform allows (they start in milliseconds, with papermill
    already imported) and spawned elsewhere (``forking.started_pool``).
    """

    name = "local"

    def __init__(self, store: Store, *, workers: int | None = None) -> None:
        super().__init__(store, workers=workers)
        self._pool: ProcessPoolExecutor | None = None

    def open(self) -> None:
        import papermill  # noqa: F401  - imported once here, inherited by forked workers

        from jupyter_dataops.pipeline.execution import warm

        warm.prestart()  # one kernel template for the run, shared by the forked workers
        self._pool = started_pool(self.workers)

    def close(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
        else:
            pool.shutdown(wait=True)

    def execute(self, job: StepJob) -> Future:
        if self._pool is None:
            raise PipelineError("the local executor is not open")
        try:
            return self._pool.submit(_run_job, job.notebook_job)
        except BrokenProcessPool:
            # A worker was killed (e.g. out of memory): its step already failed; start a new pool
            # so the remaining steps still run.
            self.close(cancel=True)
            self.open()
            return self._pool.submit(_run_job, job.notebook_job)


#: executor classes by name; another package adds one through the entry-point group
#: ``jupyter_dataops.executor`` (an unknown name: ``UnknownPluginError`` listing the known ones)
executors = Registry("executor", "jupyter_dataops.executor", base=Executor)
executors.register("local", LocalExecutor)
