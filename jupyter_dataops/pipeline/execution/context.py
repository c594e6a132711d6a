"""The contract between the pipeline runner and the ``%%dataops_test`` magic.

The runner starts each papermill kernel with these environment variables; the magic asks
``current()`` whether it runs in production (or as a test/promotion gate) and, if so, where to
record its results. This module is the only place that reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the kernel imports this module: no polars or SQLAlchemy at run time
    from jupyter_dataops.checks.inputs import HistoryProvider
    from jupyter_dataops.store.api import Store

ENV_MODE = "DATAOPS_MODE"
ENV_STORE_URL = "DATAOPS_STORE_URL"
ENV_STEP = "DATAOPS_STEP"
ENV_STEP_RUN_ID = "DATAOPS_STEP_RUN_ID"
ENV_PROJECT_DIR = "DATAOPS_PROJECT_DIR"
ENV_PIPELINE = "DATAOPS_PIPELINE"

Mode = Literal["production", "test"]
MODES: tuple[str, ...] = ("production", "test")


@dataclass(frozen=True)
class RunContext:
    """Where a notebook runs when it is not interactive."""

    mode: Mode
    step: str | None = None
    step_run_id: str | None = None
    store_url: str | None = None
    project_dir: str | None = None
    pipeline: str | None = None

    def env(self) -> dict[str, str]:
        """The environment variables that reproduce this context in a kernel."""
        out = {ENV_MODE: self.mode}
        for key, value in (
            (ENV_STEP, self.step),
            (ENV_STEP_RUN_ID, self.step_run_id),
            (ENV_STORE_URL, self.store_url),
            (ENV_PROJECT_DIR, self.project_dir),
            (ENV_PIPELINE, self.pipeline),
        ):
            if value is not None:
                out[key] = str(value)
        return out

    def record(self, suite_result: Any) -> int:
        """Write a suite's results and metrics under this step run (see ``record_suite``)."""
        return record_suite(self, suite_result)

    @property
    def history(self) -> HistoryProvider | None:
        """The step's production metric history (see ``history_provider``)."""
        return history_provider(self)


def current(environ: dict[str, str] | None = None) -> RunContext | None:
    """The run context of this process, or ``None`` when the notebook runs interactively."""
    env = os.environ if environ is None else environ
    mode = env.get(ENV_MODE, "").strip().lower()
    if mode not in MODES:
        return None
    return RunContext(
        mode=mode,  # type: ignore[arg-type]
        step=env.get(ENV_STEP) or None,
        step_run_id=env.get(ENV_STEP_RUN_ID) or None,
        store_url=env.get(ENV_STORE_URL) or None,
        project_dir=env.get(ENV_PROJECT_DIR) or None,
        pipeline=env.get(ENV_PIPELINE) or None,
    )


def _store(url: str) -> Store:
    """The process-wide open store at ``url`` (opening migrates, so it is done once)."""
    from jupyter_dataops.pipeline.definition.project import cached_store

    return cached_store(url)


def record_suite(ctx: RunContext | None, suite_result: Any) -> int:
    """Write a suite's check results and metrics to the store under the step run of ``ctx``.

    Does nothing (returns 0) interactively or when no step run is given (``dataops test``):
    only runs the runner created are recorded. Production step runs feed SPC history; the
    promotion gate's runs are recorded in ``test`` mode, which SPC never reads.
    """
    if ctx is None or not ctx.step_run_id or not ctx.store_url:
        return 0
    return _store(ctx.store_url).record_suite(ctx.step_run_id, suite_result)


class StepHistory:
    """A step's production history: ``history(metric_key)`` gives a metric's values (spc
    lines), ``history.profile(column)`` the column profile the previous successful production
    run stored (drift lines' ``against last``); the current run never counts."""

    def __init__(
        self,
        store: Store,
        step: str,
        pipeline: str | None,
        exclude: str | None = None,
        suite: str | None = None,
    ) -> None:
        self.store, self.step, self.pipeline, self.exclude = store, step, pipeline, exclude
        # two %%dataops_test cells of one step may both measure e.g. row_count: each suite (its
        # --name, else the frame's name) keeps its own SPC series
        self.suite = suite

    def __call__(self, metric_key: str) -> list[float]:
        return self.store.metric_history(
            self.step,
            metric_key,
            pipeline=self.pipeline,
            suite=self.suite,
            exclude_step_run=self.exclude,
        )

    def profile(self, column: str) -> dict | None:
        return self.store.last_profile(
            self.step, column, pipeline=self.pipeline, exclude_step_run=self.exclude
        )


def _current_notebook() -> Path | None:
    """The notebook this kernel belongs to, when the front end says so.

    jupyter_server sets ``JPY_SESSION_NAME`` (absolute, or relative to the server root); VS Code
    sets ``__vsc_ipynb_file__`` in the user namespace. The kernel's cwd is the notebook's folder.
    """
    candidates: list[str] = []
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            for name in ("__vsc_ipynb_file__", "__session__"):
                value = shell.user_ns.get(name)
                if isinstance(value, str) and value:
                    candidates.append(value)
    except ImportError:  # pragma: no cover - IPython is a dependency
        pass
    if os.environ.get("JPY_SESSION_NAME"):
        candidates.append(os.environ["JPY_SESSION_NAME"])
    for value in candidates:
        path = Path(value)
        if path.suffix != ".ipynb":
            continue
        if path.is_absolute() and path.is_file():
            return path.resolve()
        local = Path.cwd() / path.name
        if local.is_file():
            return local.resolve()
    return None


def _interactive_provider(suite: str | None = None) -> HistoryProvider | None:
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project

    notebook = _current_notebook()
    if notebook is None:
        return None
    project = Project.find(Path.cwd()) or Project.find(notebook.parent)
    if project is None:
        return None
    try:
        step = project.pipeline.step_for_notebook(notebook)
        if step is None:
            return None
        store = project.open_store(create=False)  # do not create a store just by looking
    except DataOpsError:
        return None
    if store is None:
        return None  # nothing recorded yet
    return StepHistory(store, step.name, project.pipeline.name, suite=suite)


def history_provider(ctx: RunContext | None, suite: str | None = None) -> HistoryProvider | None:
    """The production metric history of the step this notebook is, for ``spc`` check lines.

    In a pipeline run (or gate) it reads the step named by ``ctx``; interactively it looks for a
    ``dataops.yaml`` in the cwd or its parents with a step whose notebook is this one. ``None``
    when the notebook is not a pipeline step (spc lines then report "collecting baseline").
    ``suite``: the suite's name; its lines read only what that suite recorded.
    """
    if ctx is None:
        return _interactive_provider(suite)
    if not ctx.step or not ctx.store_url:
        return None
    return StepHistory(_store(ctx.store_url), ctx.step, ctx.pipeline, ctx.step_run_id, suite)
