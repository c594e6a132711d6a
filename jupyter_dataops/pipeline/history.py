"""Run history for the front doors: the project's store, the runs list, one run in detail.

Every ``dataops`` pipeline command starts with ``open_project_store``, which also marks runs
whose runner died (SIGKILL, power loss) as ``interrupted``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.spec import (
    Pipeline,
    configured_store,
    find_pipeline_file,
    load_pipeline,
)


def project_store_url(start: Path | str | None = None) -> tuple[str, Pipeline | None]:
    """The store URL of the project around ``start`` (default: the cwd) and its pipeline.

    Without a ``dataops.yaml`` the store is ``DATAOPS_STORE_URL`` or ``.dataops/`` in ``start``.
    """
    from jupyter_dataops.store import resolve_store_url

    base = Path(start or Path.cwd()).resolve()
    pipefile = find_pipeline_file(base)
    if pipefile is None:
        return resolve_store_url(base), None
    pipeline = load_pipeline(pipefile)
    return resolve_store_url(pipeline.project_dir, configured=pipeline.store), pipeline


def _history_store_url(start: Path | str | None) -> str:
    """``project_store_url`` for commands that only read history: the pipeline file's
    ``store:`` is read without validating the steps (see ``configured_store``)."""
    from jupyter_dataops.store import resolve_store_url

    base = Path(start or Path.cwd()).resolve()
    pipefile = find_pipeline_file(base)
    if pipefile is None:
        return resolve_store_url(base)
    return resolve_store_url(pipefile.parent, configured=configured_store(pipefile))


def open_project_store(
    start: Path | str | None = None, *, url: str | None = None, create: bool = True
) -> Any:
    """Open the project's run store and mark runs left by a dead runner ``interrupted``.

    With ``create=False`` a SQLite store that does not exist yet is not made (returns None).
    """
    from jupyter_dataops.store import open_store

    url = url or _history_store_url(start)
    if not create and url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if not database or not Path(database).exists():
            return None
    store = open_store(url)
    store.mark_interrupted()
    return store


def list_runs(store: Any, *, step: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest step runs (optionally of one step), newest first: the rows of ``dataops runs``."""
    if limit < 1:
        raise PipelineError(f"--limit must be 1 or more, got {limit}.")
    return store.list_runs(step=step, limit=limit)


def show_run(store: Any, run_id: int | str) -> dict[str, Any]:
    """One step run with parameters, checks, metrics, lineage and its executed notebook."""
    run = store.get_run(run_id)  # StoreError says so when the id is not a number
    if run is None:
        raise PipelineError(f"no run with id {run_id!r}. List recent runs with `dataops runs`.")
    return run
