"""Find the project of the notebook (nearest ``dataops.yaml``) and open its run store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError


@dataclass(frozen=True)
class ProjectStore:
    """A project folder, its pipeline name and its open run store."""

    project_dir: Path
    pipeline_name: str | None
    store: Any


def open_project_store(start: str | os.PathLike | None = None) -> ProjectStore:
    """The store of the project holding the nearest ``dataops.yaml`` from ``start`` (cwd) up.

    Found and opened by ``Project`` (``DATAOPS_STORE_URL``, the file's ``store:``, then
    ``.dataops/`` beside it), so the widgets read what ``dataops run`` wrote, from the one
    process-wide cache of open stores. Widgets only read: a project with no store yet raises
    ``NoStoreError`` instead of creating one. Each call marks runs whose runner died as
    interrupted, as every CLI command does.
    """
    from jupyter_dataops.pipeline.definition.project import Project

    here = Path(start) if start is not None else Path.cwd()
    project = Project.find(here)
    if project is None:
        raise PipelineError(
            f"No dataops.yaml in {here} or its parent folders, so there is no run history to "
            "show. Open this notebook inside your project folder, or promote a notebook first "
            "(`dataops promote NOTEBOOK --step NAME`)."
        )
    store = project.require_store()
    store.mark_interrupted()
    return ProjectStore(project.root, project.pipeline.name, store)
