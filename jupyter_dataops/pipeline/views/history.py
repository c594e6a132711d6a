"""Run history for the front doors: the project's store, the runs list, one run in detail.

Every ``dataops`` pipeline command opens the store through ``open_project_store``, which also
marks runs whose runner died (SIGKILL, power loss) as ``interrupted``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.project import Project, refuse_a_renamed_pipeline

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


def open_project_store(
    start: Path | str | None = None, *, url: str | None = None, create: bool = True
) -> Store | None:
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
        refuse_a_renamed_pipeline(Project.find(start), store)
    return store


@dataclass(frozen=True)
class ProjectStore:
    """A project folder, its pipeline name and its open run store (what the widgets read)."""

    project_dir: Path
    pipeline_name: str | None
    store: Store


def find_project_store(start: str | os.PathLike | None = None) -> ProjectStore:
    """The project holding the nearest ``dataops.yaml`` from ``start`` (cwd) up, with its store
    opened by ``open_project_store``, so the widgets read what ``dataops run`` wrote.

    Widgets only read: a project with no store yet raises ``NoStoreError`` instead of creating
    one; no ``dataops.yaml`` at all raises ``PipelineError`` saying what to do.
    """
    here = Path(start) if start is not None else Path.cwd()
    project = Project.find(here)
    if project is None:
        raise PipelineError(
            f"No dataops.yaml in {here} or its parent folders, so there is no run history to "
            "show. Open this notebook inside your project folder, or promote a notebook first "
            "(`dataops promote NOTEBOOK --step NAME`)."
        )
    store = open_project_store(url=project.store_url, create=False) or project.require_store()
    return ProjectStore(project.root, project.pipeline.name, store)


MAX_RUN_ID = 2**63 - 1  # the largest id a store column holds
MAX_LIST = 10_000  # runs one listing shows (`dataops runs --limit`)


def list_runs(
    store: Store, *, step: str | None = None, limit: int = 50, partition: str | None = None
) -> list[dict[str, Any]]:
    """The newest step runs (optionally of one step, of one partition), newest first: the rows
    of ``dataops runs``."""
    if not 1 <= limit <= MAX_LIST:
        raise PipelineError(f"--limit must be from 1 to {MAX_LIST:,}, got {limit}.")
    return store.list_runs(step=step, limit=limit, partition=partition)


def show_run(store: Store, run_id: int | str) -> dict[str, Any]:
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
