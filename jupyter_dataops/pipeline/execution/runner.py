"""``dataops run``: plan a pipeline run, execute its steps in dependency order, record everything.

Planning checks every notebook, parameter and override before anything runs; execution hands
ready steps to an executor (in parallel where the graph allows), retries failed attempts after
their delay, and marks the downstream steps of a failed step ``skipped`` with the reason.
"""

from __future__ import annotations

import functools
import graphlib
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition import dag
from jupyter_dataops.pipeline.definition.model import Pipeline, ensure_state_dir
from jupyter_dataops.pipeline.definition.notebook import (
    ParameterError,
    notebook_parameters,
    unknown_parameter,
)
from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.definition.secret_params import (
    Parameter,
    as_written,
    from_file,
    kernel_values,
    literal_secret_warning,
    literal_secrets,
    parse_item,
    secret_names,
    values_of,
)
from jupyter_dataops.pipeline.definition.versions import StepState, promoted_notebook, step_state
from jupyter_dataops.pipeline.execution.context import RunContext
from jupyter_dataops.pipeline.execution.execute import AttemptResult, NotebookJob
from jupyter_dataops.pipeline.execution.executors import StepJob, executors
from jupyter_dataops.pipeline.observers.attach import WAIT_SECONDS, watch
from jupyter_dataops.pipeline.observers.base import Watched
from jupyter_dataops.store.processes import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


@dataclass(frozen=True)
class StepPlan:
    """A step ready to run: its notebook, typed parameters and limits, all checked.

    A ``${NAME}`` parameter is a ``secret_params.EnvReference``, read when the step runs;
    ``secret`` names the parameters judged secret when they were parsed (they reach the kernel
    through its environment).
    """

    name: str
    notebook: Path
    parameters: dict[str, Any]
    depends_on: tuple[str, ...]
    kernel: str | None
    timeout: float | None
    retries: int
    retry_delay: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the working notebook (its folder is the kernel's cwd)
    version: int | None = None  # the promoted version that runs; None: the working copy
    unpromoted: bool = False  # `--unpromoted`: the working copy runs on purpose
    warning: str | None = None  # e.g. "notebook edited since promotion"
    secret_warnings: tuple[str, ...] = ()  # literal secrets given with -p or in dataops.yaml
    secret: frozenset[str] = frozenset()

    @property
    def cwd(self) -> Path:
        return (self.source or self.notebook).parent


@dataclass
class StepOutcome:
    """How a step ended in a run: ``success``, ``failed``, ``skipped`` or ``interrupted``."""

    step: str
    status: str = "queued"
    attempts: int = 0
    error: str | None = None
    reason: str | None = None
    notebook: str | None = None
    duration: float | None = None
    step_run_ids: list[int] = field(default_factory=list)


@dataclass
class RunResult:
    """A finished pipeline run."""

    run_id: int
    status: str
    run_dir: Path
    steps: dict[str, StepOutcome]
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"


class Reporter(Protocol):
    """Receives progress events (the CLI shows them with rich; tests may collect them)."""

    def run_started(self, run_id: int, plans: dict[str, StepPlan]) -> None: ...
    def step_started(self, step: str, attempt: int) -> None: ...
    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None: ...
    def step_finished(self, outcome: StepOutcome) -> None: ...
    def run_finished(self, result: RunResult) -> None: ...


class NullReporter:
    """A reporter that ignores every event."""

    def run_started(self, run_id: int, plans: dict[str, StepPlan]) -> None:
        pass

    def step_started(self, step: str, attempt: int) -> None:
        pass

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        pass

    def step_finished(self, outcome: StepOutcome) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass


def _sources(
    pipeline: Pipeline, names: Sequence[str], store: Store, promoted: bool
) -> dict[str, tuple[Path, StepState | None]]:
    """The notebook each step runs: its promoted snapshot (``promoted``; a store that does not
    exist yet holds no version), else the working file."""
    out: dict[str, tuple[Path, StepState | None]] = {}
    for name in names:
        if not promoted and store is None:
            out[name] = (pipeline.notebook_path(name), None)
            continue
        state = step_state(pipeline, name, store)
        out[name] = (promoted_notebook(pipeline, state) if promoted else state.notebook, state)
    return out


def plan_run(
    pipeline: Pipeline,
    steps: Sequence[str] | None = None,
    params: Sequence[str] = (),
    *,
    store: Store | None = None,
    unpromoted: bool = False,
    promoted: bool | None = None,
    partition: str | None = None,
) -> dict[str, StepPlan]:
    """Check everything a run needs, before anything runs, and return one plan per step.

    ``params`` are ``key=value`` (to every selected step whose parameters cell defines ``key``) or
    ``step.key=value`` (to one step). Missing notebooks, notebooks without a parameters cell,
    unknown keys and values of the wrong type are refused here.

    ``promoted`` (the default when a ``store`` is given, unless ``unpromoted``): each step runs
    its promoted notebook (``.dataops/versions/``, the version read from ``store``) and a step
    never promoted is refused. Otherwise the working files are planned.

    ``partition`` (a key of ``partitions:``) goes to every step whose parameters cell has the
    partition parameter (``-p`` still wins).
    """
    if promoted is None:
        promoted = store is not None and not unpromoted
    deps = dag.select(pipeline, steps)
    sources = _sources(pipeline, list(deps), store, promoted)
    nb_params = {}
    values: dict[str, dict[str, Parameter]] = {}
    overrides: dict[str, dict[str, Parameter]] = {name: {} for name in deps}
    for name in deps:
        spec = pipeline.steps[name]
        path = sources[name][0]
        where = f"{pipeline.path}, step {name!r}: "
        if not path.exists():
            raise PipelineError(
                f"{where}notebook {spec.notebook!r} does not exist (looked for {path}). Fix "
                "`notebook:` in dataops.yaml or restore the file."
            )
        nb_params[name] = notebook_parameters(path)
        values[name] = {}
        for key, value in spec.parameters.items():
            if key not in nb_params[name]:
                raise unknown_parameter(key, nb_params[name], where=f"{where}dataops.yaml ")
            values[name][key] = from_file(key, value).typed(nb_params[name][key], where=where)
        by_partition = pipeline.partitions.parameter if partition and pipeline.partitions else None
        if by_partition in nb_params[name]:
            values[name][by_partition] = from_file(by_partition, partition).typed(
                nb_params[name][by_partition], where=f"{where}partition {partition!r}: "
            )
    for given in map(parse_item, params):
        target, key, quoted = given.step, given.name, given.quoted  # a secret is never quoted
        if target is not None:
            if target not in deps:
                known = ", ".join(deps)
                raise ParameterError(
                    f"-p {quoted!r}: {target!r} is not a selected step (selected: {known})."
                )
            if key not in nb_params[target]:
                raise unknown_parameter(
                    key, nb_params[target], where=f"-p {quoted!r}: step {target!r}: "
                )
            typed = given.typed(nb_params[target][key], where=f"-p {quoted!r}: ")
            values[target][key] = overrides[target][key] = typed
            continue
        takers = [n for n in deps if key in nb_params[n]]
        if not takers:
            raise ParameterError(
                f"-p {quoted!r}: no selected step defines a parameter {key!r} in its parameters "
                f"cell ({', '.join(deps)}). Check the name, or use step.key=value."
            )
        for name in takers:
            typed = given.typed(nb_params[name][key], where=f"-p {quoted!r}: step {name!r}: ")
            values[name][key] = overrides[name][key] = typed
    plans = {}
    for name in deps:
        state = sources[name][1]
        given = literal_secrets(overrides[name])
        in_file = [k for k in literal_secrets(values[name]) if k not in overrides[name]]
        notes = [literal_secret_warning(name, given, in_file=False)] if given else []
        notes += [literal_secret_warning(name, in_file, in_file=True)] if in_file else []
        plans[name] = StepPlan(
            name=name,
            notebook=sources[name][0],
            parameters=values_of(values[name]),
            depends_on=deps[name],
            kernel=pipeline.steps[name].kernel,
            timeout=pipeline.steps[name].timeout,
            retries=pipeline.steps[name].retries,
            retry_delay=pipeline.steps[name].retry_delay,
            inputs=pipeline.steps[name].inputs,
            outputs=pipeline.steps[name].outputs,
            overrides=values_of(overrides[name]),
            source=pipeline.notebook_path(name),
            version=state.promoted_version if promoted and state else None,
            unpromoted=not promoted,
            warning=state.warning if promoted and state else None,
            secret_warnings=tuple(notes),
            secret=secret_names(values[name]),
        )
    return plans


def check_partition(pipeline: Pipeline, partition: str | None) -> str | None:
    """``partition`` in its canonical form; PipelineError when the pipeline has no
    ``partitions:`` or the key is not one of its periods."""
    if partition is None:
        return None
    if pipeline.partitions is None:
        raise PipelineError(
            f"{pipeline.path}: --partition {partition!r} needs `partitions:` in dataops.yaml "
            "(e.g. `partitions: {every: day, parameter: run_date, start: 2026-09-01}`)."
        )
    try:
        return pipeline.partitions.check(partition)
    except ValueError as exc:
        raise PipelineError(f"{pipeline.path}: --partition: {exc}") from None


def open_pipeline_store(pipeline: Pipeline) -> Any:
    """The run store of a pipeline (env ``DATAOPS_STORE_URL`` > ``store:`` > ``.dataops/``)."""
    return Project.of(pipeline).open_store()


def default_workers(n_steps: int) -> int:
    """Pool size when none is given: one per step, at most the number of CPUs (at least 2)."""
    return max(1, min(n_steps, max(2, os.cpu_count() or 1)))


class RunnerStopped(KeyboardInterrupt):
    """The runner got SIGTERM (a service manager or scheduler stopping it): handled like Ctrl-C,
    so unfinished steps are recorded ``interrupted`` before the process ends."""


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise RunnerStopped(f"stopped by signal {signum}")


class _Run:
    """The state of one pipeline run while it executes (one per ``run_pipeline`` call)."""

    def __init__(
        self,
        pipeline: Pipeline,
        plans: dict[str, StepPlan],
        store: Store,
        run_id: int,
        reporter: Reporter,
    ) -> None:
        self.pipeline = pipeline
        self.plans = plans
        self.store = store
        self.run_id = run_id
        self.reporter = reporter
        self.run_dir = pipeline.state_dir / "runs" / str(run_id)
        self.outcomes = {name: StepOutcome(name) for name in plans}
        self.queued_ids: dict[str, int] = {}
        self.deps = {name: plan.depends_on for name, plan in plans.items()}

    def create_step_run(self, name: str, attempt: int) -> int:
        plan = self.plans[name]
        srid = self.store.create_step_run(
            self.run_id,
            name,
            attempt=attempt,
            parameters=as_written(plan.parameters),  # ${NAME}, never a value read from it
            inputs=list(plan.inputs),
            outputs=list(plan.outputs),
            notebook_path=str(self.output(name)),
            promoted=not plan.unpromoted,
        )
        self.outcomes[name].step_run_ids.append(srid)
        self.queued_ids[name] = srid
        return srid

    def output(self, name: str) -> Path:
        return self.run_dir / f"{name}.ipynb"

    def job(self, name: str, attempt: int) -> StepJob:
        """The attempt to start; ``${NAME}`` parameters are read from the environment now (an
        unset variable raises ``UnsetVariable`` before any kernel starts)."""
        plan = self.plans[name]
        srid = self.queued_ids[name]
        public, secret = kernel_values(plan.parameters, plan.secret, where=f"step {name!r}: ")
        ctx = RunContext(
            mode="production",
            step=name,
            step_run_id=str(srid),
            store_url=self.store.url,
            project_dir=str(self.pipeline.project_dir),
            pipeline=self.pipeline.name,
        )
        return StepJob(
            step=name,
            attempt=attempt,
            step_run_id=srid,
            retries_left=plan.retries - (attempt - 1),
            notebook_job=NotebookJob(
                notebook=str(plan.notebook),
                output=str(self.output(name)),
                parameters=public,
                secrets=secret,
                cwd=str(plan.cwd),
                env=ctx.env(),
                kernel=plan.kernel,
                timeout=plan.timeout,
            ),
        )

    def fail_before_start(self, name: str, attempt: int, error: str) -> StepOutcome:
        """A step that cannot start (an unset environment variable): failed, no kernel."""
        outcome = self.outcomes[name]
        outcome.status, outcome.error, outcome.reason = "failed", error, "setup"
        outcome.attempts, outcome.duration = attempt, 0.0
        self.store.finish_step_run(self.queued_ids[name], "failed", error=error)
        return outcome

    def skip_downstream(self, failed: str) -> None:
        for name in dag.downstream(self.deps, failed):
            outcome = self.outcomes[name]
            if outcome.status != "queued":
                continue
            outcome.status = "skipped"
            outcome.reason = f"upstream step {failed!r} failed"
            self.store.finish_step_run(self.queued_ids[name], "skipped", skip_reason=outcome.reason)
            self.reporter.step_finished(outcome)

    def interrupt(self, message: str) -> None:
        for name, outcome in self.outcomes.items():
            if outcome.status in ("queued", "running"):
                outcome.status = "interrupted"
                outcome.error = message
                self.store.finish_step_run(self.queued_ids[name], "interrupted", error=message)


def run_pipeline(
    pipeline: Pipeline,
    steps: Sequence[str] | None = None,
    params: Sequence[str] = (),
    *,
    executor: str | None = None,
    workers: int | None = None,
    store: Store | None = None,
    reporter: Reporter | None = None,
    trigger: str = "manual",
    unpromoted: bool = False,
    executor_options: dict[str, Any] | None = None,
    partition: str | None = None,
) -> RunResult:
    """Run the selected steps (all by default) of ``pipeline`` and return how each ended.

    Each step runs the notebook its promotion gated (``.dataops/versions/<hash>.ipynb``), not
    the working file; a step never promoted is refused. ``unpromoted`` runs the working files
    on purpose, and their step runs are recorded as unpromoted (tied to no version).

    Every executed notebook is kept under ``.dataops/runs/<run id>/<step>.ipynb`` (an attempt
    that is retried keeps ``<step>.attempt-<n>.ipynb``). Raises ``PipelineError`` before anything
    runs when the plan is invalid; a failing step does not raise, it shows in the result.

    ``executor`` (default: ``executor:`` of dataops.yaml, else ``local``) is built with
    ``executor_options`` (default: what dataops.yaml says to it, e.g. ``dask_address``)
    before anything is recorded. Every run is watched by its observers (operations SPC, the
    pipeline's ``alerts:``, OpenLineage when configured: ``observers.attach``); pending alerts
    are delivered (at most ``attach.WAIT_SECONDS``) before this returns or raises.

    ``partition``: the period the run is for (a key of ``partitions:``, e.g. ``2026-09-01``),
    given to each step's partition parameter and recorded on every step run.
    """
    partition = check_partition(pipeline, partition)
    reporter = reporter or NullReporter()
    name = executor or pipeline.executor or "local"
    options = pipeline.executor_options(name) if executor_options is None else executor_options
    executor_cls = functools.partial(executors.get(name), **options)
    own_store = store is None
    if own_store:  # planning only reads: a refused plan creates no store
        store = Project.of(pipeline).open_store(create=False)
    plans = plan_run(
        pipeline, steps, params, store=store, promoted=not unpromoted, partition=partition
    )
    store = store or open_pipeline_store(pipeline)
    # The run's observers (operations SPC, alerts, lineage) hang on it here, for every door.
    watched = watch(reporter, pipeline, store)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main else None
    try:
        return _execute(pipeline, plans, store, executor_cls, workers, watched, trigger, partition)
    finally:
        # Pending alerts and lineage events go out before the process may exit (bounded; a
        # repeated stop signal does not cut them short).
        if main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            watched.close(WAIT_SECONDS)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            if own_store:
                store.close()


def _execute(
    pipeline: Pipeline,
    plans: dict[str, StepPlan],
    store: Store,
    executor_cls: Any,
    workers: int | None,
    reporter: Watched,
    trigger: str,
    partition: str | None = None,
) -> RunResult:
    # The executor first: one that refuses (e.g. a SQLite store for remote Dask workers)
    # refuses before the run is recorded.
    pool = executor_cls(store, workers=workers or default_workers(len(plans)))
    store.upsert_pipeline(pipeline.name, project_dir=str(pipeline.project_dir))
    for name in plans:
        store.upsert_step(pipeline.name, name, notebook=pipeline.steps[name].notebook)
    # The -p overrides by step (the store redacts secret-like names, nested ones too).
    overrides = {name: as_written(plan.overrides) for name, plan in plans.items() if plan.overrides}
    run_id = store.create_pipeline_run(
        pipeline.name,
        mode="production",
        parameters=overrides or None,
        trigger=trigger,
        partition=partition,
    )
    run = _Run(pipeline, plans, store, run_id, reporter)
    ensure_state_dir(pipeline.project_dir)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    for name in dag.order(run.deps):
        run.create_step_run(name, 1)

    sorter = graphlib.TopologicalSorter(run.deps)
    sorter.prepare()
    running: dict[Future, StepJob] = {}
    delayed: list[tuple[float, str, int]] = []  # (due time, step, attempt)
    started_at: dict[str, float] = {}
    beat = time.monotonic()
    reporter.run_started(run_id, plans)
    try:
        with pool:
            while sorter.is_active() or running or delayed:
                for name in sorter.get_ready():
                    if run.outcomes[name].status == "skipped":
                        sorter.done(name)
                        continue
                    delayed.append((0.0, name, 1))
                now = time.monotonic()
                for item in sorted(d for d in delayed if d[0] <= now):
                    delayed.remove(item)
                    _, name, attempt = item
                    try:
                        job = run.job(name, attempt)
                    except ParameterError as exc:
                        reporter.step_finished(run.fail_before_start(name, attempt, str(exc)))
                        run.skip_downstream(name)
                        sorter.done(name)
                        continue
                    started_at.setdefault(name, time.monotonic())
                    run.outcomes[name].status = "running"
                    run.outcomes[name].attempts = attempt
                    running[pool.start(job)] = job
                    reporter.step_started(name, attempt)
                if not running and not delayed:
                    continue
                timeout = HEARTBEAT_SECONDS
                if delayed:
                    timeout = min(timeout, max(0.0, min(d[0] for d in delayed) - time.monotonic()))
                done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
                if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                    store.heartbeat(run_id)  # liveness, for stores shared between hosts
                    beat = time.monotonic()
                for future in done:
                    job = running.pop(future)
                    result: AttemptResult = pool.finish(job, future)
                    reporter.attempt_finished(plans[job.step], job.step_run_id, result)
                    outcome = run.outcomes[job.step]
                    outcome.notebook = result.output
                    if result.ok:
                        outcome.status = "success"
                        outcome.error = None
                    elif job.retries_left > 0:
                        plan = plans[job.step]
                        run.create_step_run(job.step, job.attempt + 1)
                        delayed.append(
                            (time.monotonic() + plan.retry_delay, job.step, job.attempt + 1)
                        )
                        outcome.status = "queued"
                        reporter.step_retrying(
                            job.step, job.attempt, result.error, plan.retry_delay
                        )
                        continue
                    else:
                        outcome.status = "failed"
                        outcome.error = result.error
                        outcome.reason = result.reason
                    outcome.duration = time.monotonic() - started_at[job.step]
                    reporter.step_finished(outcome)
                    if outcome.status == "failed":
                        run.skip_downstream(job.step)
                    sorter.done(job.step)
    except BaseException:
        # A repeated stop signal (a scheduler re-sends SIGTERM until its run ends) must not cut
        # the recording short: nothing may be left "running" by a runner that is gone.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN) if main else None
        try:
            run.interrupt("the runner was stopped (Ctrl-C or a signal) before the step finished")
            store.finish_pipeline_run(run_id, "interrupted")
            reporter.run_interrupted(run_id)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
        raise
    statuses = {o.status for o in run.outcomes.values()}
    status = "failed" if statuses & {"failed", "skipped", "interrupted"} else "success"
    store.finish_pipeline_run(run_id, status)
    warnings = [plan.warning for plan in plans.values() if plan.warning]
    warnings += [note for plan in plans.values() for note in plan.secret_warnings]
    result = RunResult(run_id, status, run.run_dir, run.outcomes, warnings)
    reporter.run_finished(result)
    return result
