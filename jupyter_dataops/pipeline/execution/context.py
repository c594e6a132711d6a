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
        project_dir: str | None = None,
    ) -> None:
        self.store, self.step, self.pipeline, self.exclude = store, step, pipeline, exclude
        # two %%dataops_test cells of one step may both measure e.g. row_count: each suite (its
        # --name, else the frame's name) keeps its own SPC series
        self.suite = suite
        self.project_dir = project_dir
        self._points: Any = None

    def _phased(self) -> Any:
        if self._points is None:
            from jupyter_dataops.pipeline.execution.spc_history import PhasedPoints

            self._points = PhasedPoints(
                self.store, self.step, self.pipeline, self.suite, self.exclude
            )
        return self._points

    def phase(self, metric_key: str) -> dict | None:
        """The phase (after ``dataops spc rebaseline``) this run is in; None without phases."""
        return self._phased().phase(metric_key)

    def seasonal(self, metric_key: str) -> tuple[list[tuple[Any, float]], Any]:
        """``(points, now)`` for a seasonal spc line: the history (of this run's phase) as
        ``(date, value)`` pairs, oldest first, and this run's date (partition, else start)."""
        from jupyter_dataops.pipeline.execution.spc_history import point_time, project_timezone

        tz = project_timezone(self.project_dir, self.step)
        phased = self._phased()
        points = [
            (point_time(p["partition"], p["started_at"], tz), p["value"])
            for p in phased.points(metric_key)
        ]
        run = phased.current_run()
        return points, point_time(run["partition"], run["started_at"], tz)

    def __call__(self, metric_key: str) -> list[float]:
        if self._phased().phases(metric_key):
            return [p["value"] for p in self._phased().points(metric_key)]
        return self.store.metric_history(
            self.step,
            metric_key,
            pipeline=self.pipeline,
            suite=self.suite,
            exclude_step_run=self.exclude,
        )

    def profile(self, column: str) -> dict | None:
        """The stored profile, with ``"reference"``: the run it came from, in words (its id,
        partition and parameters), which a drift line's message names."""
        found = self.store.last_profile(
            self.step, column, pipeline=self.pipeline, exclude_step_run=self.exclude, with_run=True
        )
        if found is None:
            return None
        return {**found["profile"], "reference": self._run_words(found["step_run_id"])}

    def _run_words(self, step_run_id: int) -> str:
        from jupyter_dataops.checks.display import parameters_text

        run = self.store.get_run(step_run_id) or {}
        said = [f"run {step_run_id}"]
        if run.get("partition"):
            said.append(f"partition {run['partition']}")
        if run.get("parameters"):
            said.append(parameters_text(run["parameters"]))
        return ", ".join(said)


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


def _test_cell(source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """A ``%%dataops_test`` cell as (magic line words, check lines), blank edges and trailing
    spaces ignored; None for any other cell."""
    lines = [line.rstrip() for line in source.strip().splitlines()]
    if not lines or not lines[0].startswith("%%dataops_test"):
        return None
    body = tuple(lines[1:])
    while body and not body[-1]:
        body = body[:-1]
    return tuple(lines[0].split()[1:]), body


def _steps_with_cell(pipeline: Any, cell: str) -> list[str]:
    """The steps whose notebook holds this ``%%dataops_test`` cell (a kernel that was not told
    its notebook, under papermill or nbclient, still knows the cell it runs)."""
    import json

    wanted = _test_cell(cell)
    if wanted is None:
        return []
    found = []
    for name in pipeline.steps:
        try:
            nb = json.loads(pipeline.notebook_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for c in nb.get("cells", []) if isinstance(nb, dict) else []:
            source = c.get("source", "") if isinstance(c, dict) else ""
            source = "".join(source) if isinstance(source, list) else str(source)
            if c.get("cell_type") == "code" and _test_cell(source) == wanted:
                found.append(name)
                break
    return found


def _interactive_provider(
    suite: str | None = None, cell: str | None = None
) -> HistoryProvider | None:
    """The production history of the step this notebook (or this ``%%dataops_test`` cell) is,
    found as JupyterLab, papermill and nbclient leave it findable; else a ``NoHistory`` saying
    which project, step or store it looked for, and where."""
    from jupyter_dataops.checks.inputs import NoHistory
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project

    notebook = _current_notebook()
    given = os.environ.get(ENV_PROJECT_DIR)
    cwd = Path.cwd()
    if given:
        project = Project(given) if Project(given).exists else None
    else:
        project = (notebook and Project.find(notebook.parent)) or Project.find(cwd)
    if project is None:
        told = (
            f"the notebook {notebook} is in no project"
            if notebook is not None
            else "this kernel was not told its notebook (JupyterLab says it in JPY_SESSION_NAME; "
            "papermill and nbclient do not)"
        )
        where = f"{ENV_PROJECT_DIR}={given} holds" if given else f"{cwd} and its parents hold"
        return NoHistory(
            f"{told} and {where} no dataops.yaml. Run the notebook in its project folder "
            "(papermill: cwd=FOLDER or --cwd FOLDER; nbclient: resources={'metadata': {'path': "
            f"FOLDER}}}}) or set {ENV_PROJECT_DIR}=FOLDER"
        )
    try:
        pipeline = project.pipeline
        step = pipeline.step_for_notebook(notebook) if notebook is not None else None
        names = [step.name] if step is not None else _steps_with_cell(pipeline, cell or "")
        if len(names) != 1:
            what = f"the notebook {notebook.name}" if notebook is not None else "this kernel"
            which = (
                f"this %%dataops_test cell is in the notebooks of steps {', '.join(names)}"
                if names
                else f"no step of pipeline {pipeline.name!r} ({project.pipeline_file}) has "
                "this notebook or this %%dataops_test cell"
            )
            return NoHistory(f"{which}: {what} cannot tell whose history to read")
        store = project.open_store(create=False)  # do not create a store just by looking
    except DataOpsError as exc:
        return NoHistory(f"{project.pipeline_file} cannot be read: {exc}")
    if store is None:
        return NoHistory(
            f"step {names[0]!r} of pipeline {pipeline.name!r} has no run store yet at "
            f"{project.store_url} (nothing ran in production)"
        )
    return StepHistory(store, names[0], pipeline.name, suite=suite, project_dir=str(project.root))


def history_provider(
    ctx: RunContext | None, suite: str | None = None, cell: str | None = None
) -> HistoryProvider | None:
    """The production metric history of the step this notebook is, for ``spc`` check lines.

    In a pipeline run (or gate) it reads the step named by ``ctx``. Interactively it finds the
    project from the notebook's path (JupyterLab's ``JPY_SESSION_NAME``), the kernel's cwd
    (papermill's ``cwd``, nbclient's ``resources['metadata']['path']``) or
    ``DATAOPS_PROJECT_DIR``, and the step whose notebook is this one or, when the kernel does not
    know its notebook, holds this ``%%dataops_test`` ``cell``. When it finds none it returns a
    ``NoHistory`` saying why (spc lines then report "collecting baseline 0/N (...)").
    ``suite``: the suite's name; its lines read only what that suite recorded.
    """
    if ctx is None:
        return _interactive_provider(suite, cell)
    if not ctx.step or not ctx.store_url:
        return None
    return StepHistory(
        _store(ctx.store_url), ctx.step, ctx.pipeline, ctx.step_run_id, suite, ctx.project_dir
    )
