"""What each REST route does, in plain functions (no tornado): room calls plus path mapping.

The store answers the queries, the pipeline room runs and promotes (the same functions the
``dataops`` CLI calls), the spc room draws the chart. This module only joins them to the project
the server sees and turns absolute paths into paths relative to the Jupyter root, so the panel can
open them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.server.locator import (
    ProjectLocator,
    ProjectState,
    file_stamp,
    next_scheduled,
    resolve_in_root,
    settled,
)


class NotFound(DataOpsError):
    """The thing asked for does not exist (HTTP 404)."""


def _empty(state: ProjectState, key: str, **extra: Any) -> dict[str, Any]:
    return {key: [], "hint": state.hint, "project_dir": state.relative(state.project_dir), **extra}


def pipelines(locator: ProjectLocator) -> dict[str, Any]:
    """The project's pipeline with its steps: schedule, next time, last run, latest version."""
    state = locator.state()
    if state.pipeline is None:
        return _empty(state, "pipelines", pipeline_file=None)
    from jupyter_dataops.pipeline.definition.secret_params import shown_parameters
    from jupyter_dataops.pipeline.definition.versions import state_of
    from jupyter_dataops.pipeline.views.status import stored_steps

    pipe = state.pipeline
    known = stored_steps(locator.store(state), pipe.name)
    steps = []
    for name, spec in pipe.steps.items():
        stored = known.get(name, {})
        notebook = pipe.notebook_path(name)
        promoted = state_of(pipe, name, stored.get("latest_version"))
        steps.append(
            {
                "name": name,
                "notebook": state.relative(notebook),
                "notebook_exists": notebook.is_file(),
                "parameters": shown_parameters(spec.parameters),
                "depends_on": list(spec.depends_on),
                "schedule": spec.schedule,
                "next_run": next_scheduled(spec.schedule),
                "retries": spec.retries,
                "timeout": spec.timeout,
                "last_run": stored.get("last_run"),
                "latest_version": stored.get("latest_version"),
                "promoted_version": promoted.promoted_version,
                "edited_since_promotion": promoted.edited_since_promotion,
            }
        )
    return {
        "pipelines": [{"name": pipe.name, "steps": steps}],
        "hint": state.hint,
        "project_dir": state.relative(state.project_dir),
        "pipeline_file": state.relative(pipe.path),
    }


def notebook_stamps(locator: ProjectLocator) -> tuple[Any, ...] | None:
    """The stamp of each step's notebook, which ``pipelines`` reads besides the store (whether
    it exists, whether it changed since promotion); None while one has just been written."""
    pipe = locator.state().pipeline
    if pipe is None:
        return ()
    stamps = tuple(file_stamp(pipe.notebook_path(name)) for name in pipe.steps)
    return stamps if all(settled(s) for s in stamps) else None


def status(locator: ProjectLocator) -> dict[str, Any]:
    """Whether a scheduler is running for the project (heartbeat, host, pid) and each
    schedule's next and last tick: ``dataops status``'s scheduling part."""
    from jupyter_dataops.pipeline.scheduling.schedule_status import schedule_status, scheduler_state

    state = locator.state()
    if state.pipeline is None:
        none = scheduler_state(None, "")
        return {"pipeline": None, "scheduler": none, "schedules": [], "hint": state.hint}
    answer = schedule_status(state.pipeline, locator.store(state))
    return {"pipeline": state.pipeline.name, **answer, "hint": state.hint}


def runs(
    locator: ProjectLocator,
    *,
    step: str | None = None,
    status: str | None = None,
    pipeline: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of step runs, newest first, with the total count for paging."""
    from jupyter_dataops.store import STATUSES

    state = locator.state()
    if status is not None and status not in STATUSES:
        raise DataOpsError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}.")
    if state.pipeline is None:
        return _empty(state, "runs", total=0, limit=limit, offset=offset)
    store = locator.store(state)
    if store is None:
        hint = 'No runs yet. Press "Run now" on a step, or run `dataops run` in the project folder.'
        return {"runs": [], "total": 0, "limit": limit, "offset": offset, "hint": hint}
    rows = store.list_runs(step=step, status=status, limit=limit, offset=offset, pipeline=pipeline)
    total = store.count_runs(step=step, status=status, pipeline=pipeline)
    hint = state.hint
    if total == 0 and hint is None:
        hint = 'No runs yet. Press "Run now" on a step, or run `dataops run` in the project folder.'
    return {"runs": rows, "total": total, "limit": limit, "offset": offset, "hint": hint}


def run_detail(locator: ProjectLocator, run_id: int) -> dict[str, Any]:
    """One step run with its checks, metrics, parameters and its executed notebook's Lab path."""
    state = locator.state()
    if state.pipeline is None:
        raise NotFound(f"run {run_id} not found: {state.hint}")
    store = locator.store(state)
    run = store.get_run(run_id) if store is not None else None
    if run is None:
        raise NotFound(f"run {run_id} not found in the run store of {state.project_dir}.")
    run["executed_notebook"] = _notebook_link(state, run.get("notebook_path"))
    for check in run.get("check_results") or []:
        with_display(check)
    return run


def observed_display(check: dict[str, Any]) -> str | None:
    """A stored check's observed value as every front door shows it (the one formatter)."""
    from jupyter_dataops.checks.display import format_value, unit_of

    if check.get("observed") is None:
        return None
    return format_value(check["observed"], unit_of(check.get("metric")))


def with_display(check: dict[str, Any]) -> dict[str, Any]:
    """A stored check row plus ``observed_display`` and its metric's ``unit`` (count, percent,
    seconds, value or None), from which the panel says the number in the browser's locale."""
    from jupyter_dataops.checks.display import unit_of

    check["observed_display"] = observed_display(check)
    check["unit"] = unit_of(check.get("metric"))
    return check


def executed_notebook(
    locator: ProjectLocator, run_id: int, *, content: bool = True
) -> dict[str, Any]:
    """The executed notebook a run kept, as a read-only Jupyter contents model.

    Executed notebooks live in ``.dataops/runs/`` (hidden from Jupyter's file API): only the
    file recorded for this run is served, and only when it is a regular ``.ipynb`` file inside
    the project's ``.dataops/runs/`` once symlinks are resolved; anything else is 404 without
    reading it.
    """
    import nbformat

    state = locator.state()
    if state.pipeline is None:
        raise NotFound(f"run {run_id} not found: {state.hint}")
    store = locator.store(state)
    run = store.get_run(run_id) if store is not None else None
    if run is None:
        raise NotFound(f"run {run_id} not found in the run store of {state.project_dir}.")
    from datetime import datetime, timezone

    absolute = _kept_notebook(state, run_id, run.get("notebook_path"))
    stat = absolute.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat()
    model: dict[str, Any] = {
        "name": absolute.name,
        "path": f"{run_id}/{absolute.name}",
        "type": "notebook",
        "format": None,
        "mimetype": None,
        "writable": False,
        "created": modified,
        "last_modified": modified,
        "size": stat.st_size,
        "content": None,
    }
    if content:
        try:
            nb = nbformat.read(absolute, as_version=4)
        except Exception as exc:  # noqa: BLE001 - a damaged file is reported, not raised
            # the reason only: a parser's message may quote the file's bytes
            raise DataOpsError(
                f"run {run_id}: its executed notebook {absolute.name!r} is not a readable "
                f"notebook ({type(exc).__name__}); open the run folder to look at it."
            ) from None
        model["content"] = nb
        model["format"] = "json"
    return model


def _kept_notebook(state: ProjectState, run_id: int, path: str | None) -> Path:
    """The real path of a run's executed notebook when it may be served, else ``NotFound``."""
    if not path:
        raise NotFound(f"run {run_id}: this run kept no executed notebook.")
    absolute = Path(path)
    if not absolute.is_absolute():
        absolute = state.project_dir / absolute
    runs = (state.pipeline.state_dir / "runs").resolve()
    real = absolute.resolve()
    if real.suffix != ".ipynb" or not real.is_relative_to(runs):
        raise NotFound(
            f"run {run_id}: its executed notebook is not served: only notebooks kept in "
            f"{state.relative(runs) or '.dataops/runs'} are."
        )
    if not real.is_file():
        raise NotFound(f"run {run_id}: its executed notebook {absolute.name!r} no longer exists.")
    return real


def _notebook_link(state: ProjectState, path: str | None) -> dict[str, Any]:
    if not path:
        return {"path": None, "exists": False, "message": "this run kept no executed notebook."}
    from pathlib import Path

    absolute = Path(path)
    if not absolute.is_absolute():
        absolute = state.project_dir / absolute
    relative = state.relative(absolute)
    if relative is None:
        return {
            "path": None,
            "exists": absolute.is_file(),
            "message": f"the executed notebook {absolute} is outside the Jupyter root folder.",
        }
    exists = absolute.is_file()
    return {
        "path": relative,
        "exists": exists,
        "message": None if exists else f"the executed notebook {relative} no longer exists.",
    }


def step_metrics(
    locator: ProjectLocator, step: str, *, pipeline: str | None = None
) -> dict[str, Any]:
    """The metrics a step has recorded (name, points, last value)."""
    state = locator.state()
    if state.pipeline is None:
        return _empty(state, "metrics", step=step)
    store = locator.store(state)
    metrics = store.list_metrics(step, pipeline=pipeline) if store is not None else []
    hint = None
    if not metrics:
        hint = (
            f"Step {step!r} has recorded no metrics yet. Add checks in a %%dataops_test cell of "
            "its notebook and run the step."
        )
    return {"step": step, "metrics": metrics, "hint": hint}


def metric_chart(
    locator: ProjectLocator,
    *,
    step: str,
    metric: str,
    pipeline: str | None = None,
    limit: int | None = None,
    before: int | None = None,
) -> dict[str, Any]:
    """A metric's chart as its spc line judged it (``pipeline.charts.metric_chart``): options,
    limits, violations, the window (``limit`` points before position ``before``) and a
    Vega-Lite v5 spec whose data holds each point once."""
    from jupyter_dataops.pipeline.views.charts import metric_chart as build_chart

    state = locator.state()
    if state.pipeline is None:
        raise NotFound(f"no metric {metric!r} for step {step!r}: {state.hint}")
    store = locator.store(state)
    chart = (
        build_chart(store, step, metric, pipeline=pipeline, last=limit, before=before)
        if store
        else None
    )
    if chart is None or not chart.points:
        raise NotFound(
            f"step {step!r} has no production values of metric {metric!r} yet; run the step "
            '("Run now" or `dataops run`) to record some.'
        )
    return chart.to_dict(points=False)


def start_step_run(
    locator: ProjectLocator,
    step: str,
    *,
    parameters: dict[str, Any],
    launcher: Any,
) -> dict[str, Any]:
    """Start ``dataops run STEP`` in the background; return its run ids at once."""
    state = locator.state()
    if state.pipeline is None:
        raise NotFound(f"cannot run step {step!r}: {state.hint}")
    if step not in state.pipeline.steps:
        known = ", ".join(state.pipeline.steps) or "none"
        raise NotFound(f"no step {step!r} in {state.pipeline_file}; steps: {known}.")
    check_parameters(parameters)
    return launcher.start(
        state, step, parameters=parameters, store=locator.store(state, create=True)
    )


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuse at once (``ParameterError``, HTTP 400) a parameter the run would refuse for its
    form or size, before a worker process starts: the same ``parse_item`` as ``-p``."""
    from jupyter_dataops.pipeline.definition.secret_params import parse_item
    from jupyter_dataops.server.launcher import parameter_args

    for item in parameter_args(parameters):
        parse_item(item)


def promote_notebook(
    locator: ProjectLocator,
    *,
    notebook: str,
    step: str,
    parameters: dict[str, Any],
    launcher: Any,
    schedule: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """Promote a notebook (path relative to the Jupyter root) through the gate into a step.

    Answers ``{"promoted": bool, "message", "failures", "checks", "executed_notebook", ...}``;
    the executed gate notebook's path is relative to the Jupyter root when it is inside it.
    """
    try:
        path = resolve_in_root(locator.root_dir, notebook)
        found = path.is_file()
    except ValueError:  # a NUL byte or a lone surrogate: no file can have that name
        shown = notebook if len(notebook) <= 80 else f"{notebook[:80]}…"
        raise DataOpsError(
            f"notebook {shown!r} is not a valid file name; give the notebook's path relative to "
            "the Jupyter root folder, as the file browser shows it."
        ) from None
    if not found:
        raise NotFound(f"notebook {notebook!r} not found under the Jupyter root folder.")
    if path.suffix != ".ipynb":
        raise DataOpsError(
            f"{notebook!r} is not a notebook (.ipynb); only notebooks can be promoted."
        )
    check_parameters(parameters)
    result = launcher.promote(
        locator.project_dir,
        path,
        step,
        {"parameters": parameters, "schedule": schedule, "user": user},
    )
    state = locator.state()
    executed = result.get("executed_notebook")
    result["executed_notebook"] = _notebook_link(state, executed) if executed else None
    result.pop("pipeline_file", None)
    result["pipeline_file"] = state.relative(state.pipeline_file)
    for check in result.get("checks") or []:
        with_display(check)
    return result


def grid(
    locator: ProjectLocator,
    *,
    pipeline: str | None = None,
    limit: int = 14,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the pipeline's grid: partitions (newest first) × steps, each cell the latest
    production run of that step for that partition, late partitions marked."""
    from jupyter_dataops.pipeline.views.grid import grid_page

    state = locator.state()
    if state.pipeline is None:
        return _empty(
            state,
            "partitions",
            pipeline=None,
            steps=[],
            total=0,
            limit=limit,
            offset=offset,
            every=None,
        )
    if pipeline is not None and pipeline != state.pipeline.name:
        raise NotFound(
            f"no pipeline {pipeline!r} here; this project's pipeline is {state.pipeline.name!r}."
        )
    page = grid_page(state.pipeline, locator.store(state), limit=limit, offset=offset)
    return {**page, "hint": page.get("hint") or state.hint}


def rerun_partition(locator: ProjectLocator, partition: str, *, launcher: Any) -> dict[str, Any]:
    """Start ``dataops run --partition KEY`` (every step of the pipeline for that period) in the
    background; return its pipeline run id at once."""
    state = locator.state()
    if state.pipeline is None:
        raise NotFound(f"cannot re-run {partition!r}: {state.hint}")
    from jupyter_dataops.pipeline.views.grid import check_partition

    key = check_partition(state.pipeline, partition)
    return launcher.start_partition(state, key, store=locator.store(state, create=True))
