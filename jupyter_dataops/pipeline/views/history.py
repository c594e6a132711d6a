"""Run history for the front doors: the project's store, the runs list, one run in detail.

Every ``dataops`` pipeline command opens the store through ``open_project_store``, which also
marks runs whose runner died (SIGKILL, power loss) as ``interrupted``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.project import Project


def open_project_store(
    start: Path | str | None = None, *, url: str | None = None, create: bool = True
) -> Any:
    """Open the project's run store and mark runs left by a dead runner ``interrupted``.

    The project is the nearest ``dataops.yaml`` from ``start`` (default: the cwd); without one
    the store is ``DATAOPS_STORE_URL`` or ``.dataops/`` in ``start``. With ``create=False`` a
    SQLite store that does not exist yet is not made (returns None).
    """
    from jupyter_dataops.pipeline.definition.project import cached_store

    if url is None:
        project = Project.find(start) or Project(start or Path.cwd())
        url = project.store_url
    store = cached_store(url, create=create)
    if store is not None:
        store.mark_interrupted()
    return store


MAX_RUN_ID = 2**63 - 1  # the largest id a store column holds
MAX_LIST = 10_000  # runs one listing shows (`dataops runs --limit`)


def list_runs(
    store: Any, *, step: str | None = None, limit: int = 50, partition: str | None = None
) -> list[dict[str, Any]]:
    """The newest step runs (optionally of one step, of one partition), newest first: the rows
    of ``dataops runs``."""
    if not 1 <= limit <= MAX_LIST:
        raise PipelineError(f"--limit must be from 1 to {MAX_LIST:,}, got {limit}.")
    return store.list_runs(step=step, limit=limit, partition=partition)


def show_run(store: Any, run_id: int | str) -> dict[str, Any]:
    """One step run with parameters, checks, metrics, lineage and its executed notebook."""
    text = str(run_id).strip()
    if text.isdigit() and (len(text) > 19 or int(text) > MAX_RUN_ID):  # past any stored id
        raise PipelineError(
            f"no run with id {text[:30]}{'…' if len(text) > 30 else ''}: ids go up to "
            f"{MAX_RUN_ID}. List recent runs with `dataops runs`."
        )
    run = store.get_run(run_id)  # StoreError says so when the id is not a number
    if run is None:
        raise PipelineError(f"no run with id {run_id!r}. List recent runs with `dataops runs`.")
    return run
