"""Promotion (``dataops promote``) and the innovation-pipeline test (``dataops test``).

Promotion turns an analyst's notebook into a versioned pipeline step, gated: the parameters are
checked before any kernel starts, then the notebook runs once in ``test`` mode and must pass
every ``%%dataops_test``. Only then is the version recorded and ``dataops.yaml`` written.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.dag import check_graph
from jupyter_dataops.pipeline.definition.model import (
    PIPELINE_FILE,
    STATE_DIR,
    STEP_NAME,
    Pipeline,
    StepSpec,
    ensure_state_dir,
)
from jupyter_dataops.pipeline.definition.notebook import (
    content_hash,
    notebook_parameters,
    read_notebook,
)
from jupyter_dataops.pipeline.definition.project import Project, refuse_a_renamed_pipeline
from jupyter_dataops.pipeline.definition.secret_params import (
    Parameter,
    as_written,
    from_file,
    kernel_values,
    parse_overrides,
    refuse_literal_secrets,
    secret_names,
    values_of,
)
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.definition.spec_writer import write_step
from jupyter_dataops.pipeline.definition.values import validate_schedule
from jupyter_dataops.pipeline.definition.versions import save_snapshot
from jupyter_dataops.pipeline.execution.context import RunContext
from jupyter_dataops.pipeline.execution.execute import AttemptResult, NotebookJob, execute_notebook
from jupyter_dataops.pipeline.execution.executors import StepJob, executors

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


class PromotionRefused(PipelineError):
    """The gate run failed: ``failures`` lists what failed, ``notebook`` is the executed copy."""

    def __init__(self, step: str, failures: list[str], notebook: str | None) -> None:
        self.step = step
        self.failures = failures
        self.notebook = notebook
        lines = [f"promotion of step {step!r} refused: the gate run failed."]
        lines += [f"  - {f}" for f in failures]
        if notebook:
            lines.append(f"Executed notebook kept at {notebook}")
        lines.append("Fix the notebook (or its test parameters) and promote again.")
        super().__init__("\n".join(lines))


@dataclass
class PromotionResult:
    """A successful promotion: the step as written, its version record and the gate run."""

    step: StepSpec
    pipeline_file: Path
    version: dict[str, Any]
    gate: AttemptResult
    gate_run_id: int | None = None


@dataclass
class NotebookTestResult:
    """The outcome of ``dataops test``: ``passed`` and, when not, what failed."""

    notebook: Path
    output: Path
    attempt: AttemptResult
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.attempt.ok


def notebook_failures(path: Path | str) -> list[str]:
    """Every error shown in an executed notebook, as ``cell 4 (code cell 3) Name: message``.

    A failed ``%%dataops_test`` shows ``DataOpsTestFailure`` with the failing check lines.
    """
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return []
    out = []
    number = code_number = 0  # as JupyterLab numbers the user's notebook (execute.cell_name)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue
        number += 1
        if cell.cell_type != "code":
            continue
        code_number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = f"cell {number} (code cell {code_number})"
                out.append(
                    f"{where} {output.get('ename')}: {str(output.get('evalue', '')).strip()}"
                )
    return out


def _gate_failures(store: Store, step_run_id: int, attempt: AttemptResult) -> list[str]:
    failures = []
    run = store.get_run(step_run_id) or {}
    for check in run.get("check_results", []):
        if check["status"] in ("fail", "error"):
            failures.append(
                f"check {check['source']!r} ({check['suite']}, line {check['line']}): "
                f"{check['status']} - {check['message']}"
            )
    executed = notebook_failures(attempt.output) if Path(attempt.output).exists() else []
    # Data tests are listed check by check above; other errors (a cell raising) come from the
    # notebook, or from the attempt when the kernel could not even start.
    others = [f for f in executed if "DataOpsTestFailure" not in f]
    if not failures and not others:
        others = list(executed) or [attempt.error or "the notebook failed"]
    return failures + others


def _pipeline_file(notebook: Path, pipeline_file: Path | str | None) -> Path:
    if pipeline_file is not None:
        path = Path(pipeline_file).resolve()
        return path / PIPELINE_FILE if path.is_dir() else path
    from jupyter_dataops.pipeline.definition.project import Project

    found = Project.find(Path.cwd())
    return found.pipeline_file if found is not None else (Path.cwd() / PIPELINE_FILE).resolve()


def promote(
    notebook: Path | str,
    step: str,
    *,
    params: Sequence[str] = (),
    depends_on: Sequence[str] | None = None,
    schedule: str | None = None,
    pipeline_file: Path | str | None = None,
    store: Store | None = None,
    promoted_by: str | None = None,
    executor: str = "local",
) -> PromotionResult:
    """Promote ``notebook`` to step ``step`` of the nearest ``dataops.yaml`` (made if missing).

    Refuses (``PipelineError``) before any kernel starts when the notebook has no parameters
    cell, a ``-p`` names an unknown parameter or has the wrong type, the schedule is not cron,
    or a dependency is missing; refuses (``PromotionRefused``) when the gate run fails.
    Re-promoting keeps the step's other settings; a changed notebook records a new version.

    The gate runs through an executor (``executor``, the registry's ``local`` by default) on a
    snapshot of the notebook taken before it starts; that exact notebook is kept as
    ``.dataops/versions/<content hash>.ipynb`` and is what production runs from then on.
    """
    nb_path = Path(notebook).resolve()
    nb = read_notebook(nb_path)
    data = nb_path.read_bytes()  # the exact notebook gated, promoted and run in production
    if not STEP_NAME.match(step):
        raise PipelineError(
            f"step name {step!r} must start with a letter or '_' and hold only letters, digits, "
            "'_' and '-'."
        )
    params_cell = notebook_parameters(nb_path)
    overrides = parse_overrides(list(params), params_cell, where=f"{nb_path.name}: ")
    path = _pipeline_file(nb_path, pipeline_file)
    pipeline = (
        load_pipeline(path, allow_no_steps=True)  # promotion adds the first step
        if path.exists()
        else Pipeline(path, path.parent.name, {})
    )
    old = pipeline.steps.get(step)
    parameters: dict[str, Parameter] = {}
    if old is not None:  # keep earlier defaults the notebook still defines
        for key, value in old.parameters.items():
            if key in params_cell:
                given = from_file(key, value)
                parameters[key] = given.typed(params_cell[key], where=f"step {step!r}: ")
    parameters.update(overrides)
    # dataops.yaml is kept in git: secrets go in as ${NAME} references, never as values.
    refuse_literal_secrets(parameters, where=f"step {step!r}: ")
    values = values_of(parameters)
    gate_values = kernel_values(values, secret_names(parameters), where=f"step {step!r}: ")
    written = as_written(values)
    rel = os.path.relpath(nb_path, pipeline.project_dir)
    spec = (
        replace(old, notebook=rel, parameters=written)
        if old
        else StepSpec(name=step, notebook=rel, parameters=written)
    )
    if depends_on is not None:
        spec = replace(spec, depends_on=tuple(dict.fromkeys(depends_on)))
    if schedule is not None:
        try:
            spec = replace(spec, schedule=validate_schedule(schedule))
        except ValueError as exc:
            raise PipelineError(f"--schedule: {exc}") from None
    # Validate the pipeline as it will be (missing dependencies, cycles) before running anything.
    steps = dict(pipeline.steps)
    steps[step] = spec
    _check_new_graph(Pipeline(path, pipeline.name, steps, pipeline.store))

    digest = content_hash(nb)
    executor_cls = executors.get(executor)
    own_store = store is None
    if own_store:
        project = Project.of(pipeline) if path.exists() else Project(path.parent)
        store = project.open_store()
    # `pipeline:` renamed while this folder's history is under the old name: say how to move it
    refuse_a_renamed_pipeline(Project.of(pipeline), store)
    snapshot, new_snapshot = save_snapshot(path.parent, digest, data)
    try:
        store.mark_interrupted()
        store.upsert_pipeline(pipeline.name, project_dir=str(path.parent))
        store.upsert_step(pipeline.name, step, notebook=rel)
        run_id = store.create_pipeline_run(
            pipeline.name, mode="test", parameters=written, trigger="promote"
        )
        srid = store.create_step_run(run_id, step, parameters=written)
        output = ensure_state_dir(path.parent) / "runs" / str(run_id) / f"{step}.ipynb"
        ctx = RunContext(
            mode="test",
            step=step,
            step_run_id=str(srid),
            store_url=store.url,
            project_dir=str(path.parent),
            pipeline=pipeline.name,
        )
        job = StepJob(
            step=step,
            attempt=1,
            step_run_id=srid,
            notebook_job=NotebookJob(
                notebook=str(snapshot),
                output=str(output),
                parameters=gate_values[0],
                secrets=gate_values[1],
                cwd=str(nb_path.parent),
                env=ctx.env(),
                kernel=spec.kernel,
                timeout=spec.timeout,
            ),
        )
        # before_start -> execute -> on_complete | on_failure, as every step run
        with executor_cls(store, workers=1) as gate:
            attempt = gate.finish(job, gate.start(job))
        store.finish_pipeline_run(run_id, attempt.status)
        if not attempt.ok:
            if new_snapshot:
                snapshot.unlink(missing_ok=True)  # nothing was promoted
            raise PromotionRefused(
                step, _gate_failures(store, srid, attempt), str(output) if output.exists() else None
            )
        write_step(path, spec)
        version = store.record_step_version(
            pipeline.name,
            step,
            notebook_path=rel,
            content_hash=digest,
            parameters=written,
            promoted_by=promoted_by or _user(),
        )
        return PromotionResult(spec, path, version, attempt, run_id)
    finally:
        if own_store:
            store.close()


def _check_new_graph(pipeline: Pipeline) -> None:
    check_graph(pipeline)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def test_notebook(
    notebook: Path | str, *, params: Sequence[str] = (), output: Path | str | None = None
) -> NotebookTestResult:
    """Run a notebook once in ``test`` mode (the innovation pipeline) and report what failed.

    Nothing is written to the run store. When the notebook is a step of a pipeline, its ``spc``
    lines judge against that step's production history, as they will after promotion.
    """
    nb_path = Path(notebook).resolve()
    read_notebook(nb_path)
    params_cell = notebook_parameters(nb_path, require=bool(params))
    values = parse_overrides(list(params), params_cell, where=f"{nb_path.name}: ")
    from jupyter_dataops.pipeline.definition.project import Project

    project = Project.find(nb_path.parent) or Project.find(Path.cwd())
    ctx = RunContext(mode="test")
    home = nb_path.parent
    kernel = timeout = None
    if project is not None:
        try:
            pipeline = project.pipeline
        except PipelineError:
            pipeline = None
        spec = pipeline.step_for_notebook(nb_path) if pipeline else None
        if pipeline is not None and spec is not None:
            home = pipeline.project_dir
            kernel, timeout = spec.kernel, spec.timeout
            defaults = {
                k: from_file(k, v).typed(params_cell[k], where=f"step {spec.name!r}: ")
                for k, v in spec.parameters.items()
                if k in params_cell
            }
            values = {**defaults, **values}
            ctx = RunContext(
                mode="test",
                step=spec.name,
                store_url=_existing_store_url(project),
                project_dir=str(pipeline.project_dir),
                pipeline=pipeline.name,
            )
    out = Path(output) if output else home / STATE_DIR / "tests" / nb_path.name
    public, secret = kernel_values(
        values_of(values), secret_names(values), where=f"{nb_path.name}: "
    )
    attempt = execute_notebook(
        NotebookJob(
            notebook=str(nb_path),
            output=str(out),
            parameters=public,
            secrets=secret,
            cwd=str(nb_path.parent),
            env=ctx.env(),
            kernel=kernel,
            timeout=timeout,
        )
    )
    failures = [] if attempt.ok else (notebook_failures(out) or [attempt.error or "failed"])
    return NotebookTestResult(nb_path, out, attempt, failures)


test_notebook.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _existing_store_url(project: Any) -> str | None:
    """The project's store URL, unless it is a SQLite file that does not exist yet."""
    from jupyter_dataops.pipeline.definition.project import store_exists

    url = project.store_url
    return url if store_exists(url) else None


__all__ = [
    "NotebookTestResult",
    "PromotionRefused",
    "PromotionResult",
    "notebook_failures",
    "promote",
    "test_notebook",
]
