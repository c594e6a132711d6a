"""What a pipeline file is once loaded: ``Pipeline`` and its ``StepSpec`` steps, the keys the
file may hold, ``PipelineFileError`` (file, line, step, key) and where the file and the
project's ``.dataops/`` folder are. ``spec`` loads and validates the file into these."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.values import _plain_number

PIPELINE_FILE = "dataops.yaml"
STATE_DIR = ".dataops"
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
TOP_KEYS = ("pipeline", "store", "steps", "schedule", "timezone", "catchup", "max_catchup")
TOP_KEYS += ("alerts", "retention", "incidents")
TOP_KEYS += ("executor", "dask_address")  # where `dataops run` runs steps
TOP_KEYS += ("partitions", "expect_by")  # the period each run is for; when it should be done
SCHEDULING_KEYS = ("timezone", "catchup", "max_catchup", "retention")
CATCHUP = ("skip", "latest", "all")
STEP_KEYS = (
    "notebook",
    "parameters",
    "depends_on",
    "schedule",
    "retries",
    "retry_delay",
    "timeout",
    "kernel",
    "inputs",
    "outputs",
    "operations",
    "expect_by",
    *SCHEDULING_KEYS,
)


class PipelineFileError(PipelineError):
    """A ``dataops.yaml`` that cannot be used; names the file, line, step and key."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        step: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.step = step
        self.key = key
        self.line = line
        self.message = message
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if step is not None:
            where.append(f"step {step!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class StepSpec:
    """One step of a pipeline as declared in ``dataops.yaml``.

    ``notebook`` is the path as written (relative to the pipeline folder); ``retry_delay`` and
    ``timeout`` are seconds; ``timeout`` bounds the whole step, not one cell.
    """

    name: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    schedule: str | None = None
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    kernel: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timezone: str | None = (
        None  # scheduling: see pipeline/scheduling/scheduler.py; None = the pipeline's
    )
    catchup: str | None = None
    max_catchup: int | None = None
    retention: Any = None  # retention_policy.Retention
    operations: Any = None  # operations_options.OperationsOptions; None = judged with the defaults
    expect_by: str | None = None  # "07:00": a partition not successful by then is late

    def to_yaml(self) -> dict[str, Any]:
        """The mapping written under ``steps.<name>``: only keys that differ from the defaults."""
        out: dict[str, Any] = {"notebook": self.notebook}
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.depends_on:
            out["depends_on"] = list(self.depends_on)
        if self.schedule:
            out["schedule"] = self.schedule
        if self.retries:
            out["retries"] = self.retries
        if self.retry_delay:
            out["retry_delay"] = _plain_number(self.retry_delay)
        if self.timeout is not None:
            out["timeout"] = _plain_number(self.timeout)
        if self.kernel:
            out["kernel"] = self.kernel
        if self.inputs:
            out["inputs"] = list(self.inputs)
        if self.outputs:
            out["outputs"] = list(self.outputs)
        for key in ("timezone", "catchup", "max_catchup", "expect_by"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.retention is not None:
            out["retention"] = {k: v for k, v in vars(self.retention).items() if v is not None}
        if self.operations is not None:
            out["operations"] = self.operations.to_yaml()
        return out


@dataclass(frozen=True)
class Pipeline:
    """A loaded, validated pipeline file."""

    path: Path
    name: str
    steps: dict[str, StepSpec]
    store: str | None = None
    schedule: str | None = None  # runs every step; scheduling keys are each step's defaults
    timezone: str | None = None
    catchup: str | None = None
    max_catchup: int | None = None
    alerts: tuple[Any, ...] = ()  # alerts.AlertSpec
    retention: Any = None  # retention_policy.Retention
    incidents: Any = None  # incident_options.IncidentOptions; None: the defaults
    executor: str | None = None  # `dataops run` / the scheduler without --executor
    dask_address: str | None = None  # the dask executor's scheduler (none: a local cluster)
    partitions: Any = None  # partitions.Partitions; None: runs are for no period
    expect_by: str | None = None  # "07:00": each step's default deadline after its partition

    def executor_options(self, name: str) -> dict[str, Any]:
        """What this file says to executor ``name`` (``dask_address`` for ``dask``)."""
        return {"address": self.dask_address} if name == "dask" and self.dask_address else {}

    @property
    def project_dir(self) -> Path:
        """The folder holding ``dataops.yaml``; relative paths in the file start here."""
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        """``.dataops/`` beside the pipeline file: the default store and the executed notebooks."""
        return self.project_dir / STATE_DIR

    def notebook_path(self, step: str) -> Path:
        """Absolute path of a step's notebook."""
        return (self.project_dir / self.steps[step].notebook).resolve()

    def step_for_notebook(self, notebook: Path | str) -> StepSpec | None:
        """The step whose notebook is ``notebook`` (compared as resolved paths), if any."""
        target = Path(notebook).resolve()
        for name in self.steps:
            if self.notebook_path(name) == target:
                return self.steps[name]
        return None


def ensure_state_dir(project_dir: Path | str) -> Path:
    """``.dataops/`` of a project, made with a ``.gitignore`` so that executed notebooks and the
    SQLite store stay out of git while ``dataops.yaml`` is committed."""
    state = Path(project_dir) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# run history and executed notebooks of jupyter-dataops\n*\n")
    return state


def find_pipeline_file(start: Path | str | None = None) -> Path | None:
    """The nearest ``dataops.yaml`` in ``start`` (default: the cwd) or one of its parents."""
    here = Path(start or os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / PIPELINE_FILE
        if candidate.is_file():
            return candidate
    return None
