"""Find the project of the notebook (nearest ``dataops.yaml``) and open its run store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError

_OPEN: dict[str, Any] = {}


@dataclass(frozen=True)
class ProjectStore:
    """A project folder, its pipeline name and its open run store."""

    project_dir: Path
    pipeline_name: str | None
    store: Any


def open_project_store(start: str | os.PathLike | None = None) -> ProjectStore:
    """The store of the project holding the nearest ``dataops.yaml`` from ``start`` (cwd) up.

    The URL is resolved by the pipeline's own ``project_store_url`` (``DATAOPS_STORE_URL``, the
    file's ``store:``, then ``.dataops/`` beside it), so the widgets read what ``dataops run``
    wrote. A store is opened once per URL for the life of the kernel; each call still marks runs
    whose runner died as interrupted, as every CLI command does.
    """
    from jupyter_dataops.pipeline.history import open_project_store as _open
    from jupyter_dataops.pipeline.history import project_store_url

    here = Path(start) if start is not None else Path.cwd()
    url, pipeline = project_store_url(here)
    if pipeline is None:
        raise PipelineError(
            f"No dataops.yaml in {here} or its parent folders, so there is no run history to "
            "show. Open this notebook inside your project folder, or promote a notebook first "
            "(`dataops promote NOTEBOOK --step NAME`)."
        )
    store = _OPEN.get(url)
    if store is None:
        store = _OPEN[url] = _open(url=url)
    else:
        store.mark_interrupted()
    return ProjectStore(pipeline.project_dir, pipeline.name, store)
