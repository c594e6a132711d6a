"""The processes the server starts for "Run now" and "Promote this notebook".

``python -m jupyter_dataops.server.worker run PROJECT_DIR STEP [key=value ...]`` calls
``run_pipeline`` (the function behind ``dataops run STEP``) and prints one JSON line with
the pipeline run id as soon as the run exists, so the REST call answers at once while the step
runs on.

``python -m jupyter_dataops.server.worker run-partition PROJECT_DIR KEY`` runs every step of the
pipeline for one partition (``dataops run --partition KEY``: the grid's "Re-run this day").

``python -m jupyter_dataops.server.worker promote PROJECT_DIR NOTEBOOK STEP JSON`` calls
``promote`` (the function behind ``dataops promote``) and prints the gate's result as JSON.

The server gives ``-`` instead of the parameters (a JSON list of ``key=value``) or the options
JSON, and writes them on stdin, so a secret value never shows in a process listing.

Both run outside the Jupyter server process: the runner forks workers and the gate sets the
run-context environment for its kernel, neither of which may touch the server's own kernels.
Their kernels fork from the project's shared kernel template (``warm_server``, as ``dataops
run``'s do), so a click on "Run now" does not pay a template's imports for one step.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


def _say(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, default=str), flush=True)


def run_step(project_dir: str, step: str, params: list[str]) -> int:
    """Run one step; exit 0 when it succeeded, 1 when it failed, 2 when it could not start."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline

    class Announce(NullReporter):
        def run_started(self, run_id: int, plans: dict) -> None:  # noqa: ARG002
            _say({"pipeline_run_id": run_id})

    try:
        result = run_pipeline(
            Project(project_dir).pipeline, [step], params, reporter=Announce(), trigger="jupyter"
        )
    except DataOpsError as exc:
        _say({"error": str(exc)})
        return 2
    return 0 if result.ok else 1


def run_partition(project_dir: str, partition: str) -> int:
    """Run every step for one partition; exit codes as ``run_step``."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline

    class Announce(NullReporter):
        def run_started(self, run_id: int, plans: dict) -> None:  # noqa: ARG002
            _say({"pipeline_run_id": run_id})

    try:
        result = run_pipeline(
            Project(project_dir).pipeline,
            None,
            [],
            reporter=Announce(),
            trigger="jupyter",
            partition=partition,
        )
    except DataOpsError as exc:
        _say({"error": str(exc)})
        return 2
    return 0 if result.ok else 1


def _gate_run(store: Store, step: str) -> dict[str, Any] | None:
    rows = store.list_runs(step=step, mode="test", limit=1)
    return store.get_run(rows[0]["id"]) if rows else None


def promote_notebook(project_dir: str, notebook: str, step: str, options: dict[str, Any]) -> int:
    """Promote ``notebook`` to ``step``; print ``{"promoted": bool, ...}`` with the gate's checks."""
    from jupyter_dataops.pipeline.definition.spec import PIPELINE_FILE
    from jupyter_dataops.pipeline.execution.promote import PromotionRefused, promote

    pipeline_file = Path(project_dir) / PIPELINE_FILE
    params = [
        f"{k}={v if isinstance(v, str) else json.dumps(v)}"
        for k, v in (options.get("parameters") or {}).items()
    ]
    try:
        result = promote(
            notebook,
            step,
            params=params,
            schedule=options.get("schedule") or None,
            pipeline_file=pipeline_file,
            promoted_by=options.get("user"),
        )
    except PromotionRefused as exc:
        payload: dict[str, Any] = {
            "promoted": False,
            "step": step,
            "message": str(exc),
            "failures": exc.failures,
            "executed_notebook": exc.notebook,
        }
    except DataOpsError as exc:
        _say({"error": str(exc)})
        return 2
    else:
        payload = {
            "promoted": True,
            "step": step,
            "message": f"{Path(notebook).name} is now version {result.version.get('version')} "
            f"of step {step!r} in {result.pipeline_file}.",
            "version": result.version,
            "pipeline_file": str(result.pipeline_file),
            "executed_notebook": result.gate.output,
            "duration": result.gate.duration,
        }
    from jupyter_dataops.pipeline.definition.project import Project

    with Project(project_dir).open_store() as store:
        gate = _gate_run(store, step)
    payload["checks"] = gate["check_results"] if gate else []
    payload["gate_run_id"] = gate["id"] if gate else None
    _say(payload)
    return 0 if payload["promoted"] else 1


def _share_the_projects_template(project_dir: str) -> None:
    """Kernels from the project's shared template (``dataops run`` started it, or this starts
    it for the commands after), not from a template of this one-step process's own."""
    from jupyter_dataops.pipeline.definition.model import STATE_DIR
    from jupyter_dataops.pipeline.execution import warm

    state = Path(project_dir) / STATE_DIR
    if state.is_dir():  # a project that has run: nothing is made for a refused first command
        warm.use_project_server(state)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``run`` / ``run-partition`` / ``promote`` (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] in ("run", "run-partition", "promote"):
        _share_the_projects_template(args[1])
    if len(args) >= 3 and args[0] == "run":
        params = json.loads(sys.stdin.read() or "[]") if args[3:] == ["-"] else args[3:]
        return run_step(args[1], args[2], params)
    if len(args) == 3 and args[0] == "run-partition":
        return run_partition(args[1], args[2])
    if len(args) == 5 and args[0] == "promote":
        options = json.loads(sys.stdin.read() if args[4] == "-" else args[4])
        return promote_notebook(args[1], args[2], args[3], options)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
