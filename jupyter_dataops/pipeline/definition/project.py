"""The project: the folder holding ``dataops.yaml``, its pipeline and its run store.

Every front door (the CLI, the runner, promotion, the run context in a kernel, the widgets, the
REST server and its workers) finds the project and its store here, so there is one rule for
where the store is (``DATAOPS_STORE_URL`` > the file's ``store:`` > ``.dataops/dataops.db``),
one rule that looking never creates a SQLite file, and one cache of open stores per process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.model import PIPELINE_FILE, STATE_DIR, find_pipeline_file
from jupyter_dataops.pipeline.definition.spec import configured_store, load_pipeline

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.pipeline.definition.spec import Pipeline
    from jupyter_dataops.store import Store


class NoProjectError(PipelineError):
    """No ``dataops.yaml`` where one was needed."""


class NoStoreError(PipelineError):
    """The project has no run store yet (nothing was run or promoted)."""


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def store_exists(url: str) -> bool:
    """Whether the store at ``url`` exists: a SQLite file on disk; a server database always."""
    if not url.startswith("sqlite"):
        return True
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return bool(database) and database != ":memory:" and Path(database).exists()


def cached_store(url: str, *, create: bool = True) -> Store | None:
    """The process-wide open store at ``url`` (opened, and migrated, once per URL).

    With ``create=False`` a SQLite store that does not exist yet is not made: returns None.
    ``Store.close()`` only releases connections, so a cached store stays usable after it.
    """
    with _STORES_LOCK:
        store = _STORES.get(url)
        if store is not None:
            return store
        if not create and not store_exists(url):
            return None
        from jupyter_dataops.store import open_store

        store = _STORES[url] = open_store(url)
        return store


def close_stores() -> None:
    """Release the connections of every cached store (the stores stay usable)."""
    with _STORES_LOCK:
        for store in _STORES.values():
            store.close()


class Project:
    """A project folder and its ``dataops.yaml`` (which may not exist yet).

    ``pipeline`` is loaded on first use and kept (``reload()`` forgets it); a broken file raises
    ``PipelineFileError`` naming the file and line.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self._pipeline: Pipeline | None = None

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    @classmethod
    def find(cls, start: str | os.PathLike | None = None) -> Project | None:
        """The project of the nearest ``dataops.yaml`` in ``start`` (default: cwd) or above."""
        found = find_pipeline_file(start)
        return cls(found.parent) if found is not None else None

    @classmethod
    def require(cls, start: str | os.PathLike | None = None) -> Project:
        """Like ``find``, but with no ``dataops.yaml`` raise ``NoProjectError`` saying what to do."""
        project = cls.find(start)
        if project is None:
            here = Path(start or os.getcwd()).resolve()
            raise NoProjectError(
                f"no {PIPELINE_FILE} in {here} or its parent folders, so there is no project "
                "here. Run the command in your project folder, or promote a notebook first "
                "(`dataops promote NOTEBOOK --step NAME`)."
            )
        return project

    @classmethod
    def of(cls, pipeline: Pipeline) -> Project:
        """The project of an already loaded pipeline."""
        project = cls(pipeline.project_dir)
        project._pipeline = pipeline
        return project

    @property
    def pipeline_file(self) -> Path:
        return self.root / PIPELINE_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def exists(self) -> bool:
        """Whether ``dataops.yaml`` is there."""
        return self.pipeline_file.is_file()

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = load_pipeline(self.pipeline_file)
        return self._pipeline

    def reload(self) -> Pipeline:
        """Read ``dataops.yaml`` again (it may have been edited)."""
        self._pipeline = None
        return self.pipeline

    @property
    def store_url(self) -> str:
        """The run store's URL: ``DATAOPS_STORE_URL`` > the file's ``store:`` > ``.dataops/``.

        Without a loaded pipeline only ``store:`` is read (fast; see ``configured_store``).
        """
        from jupyter_dataops.store import resolve_store_url

        if self._pipeline is not None:
            configured = self._pipeline.store
        elif self.exists:
            configured = configured_store(self.pipeline_file)
        else:
            configured = None
        return resolve_store_url(self.root, configured=configured)

    def open_store(self, *, create: bool = True) -> Store | None:
        """The project's run store from the process-wide cache.

        ``create=False`` never makes a SQLite file just by looking: it returns None when there
        is no store yet (use ``require_store`` for an error instead).
        """
        return cached_store(self.store_url, create=create)

    def require_store(self) -> Store:
        """The existing run store, or ``NoStoreError`` (nothing has run or been promoted yet)."""
        store = self.open_store(create=False)
        if store is None:
            raise NoStoreError(
                f"no runs yet: the project in {self.root} has no run store. Run the pipeline "
                "(`dataops run`) or promote a notebook (`dataops promote`) first."
            )
        return store


def refuse_a_renamed_pipeline(project: Project | None, store: Store) -> None:
    """Raise when ``dataops.yaml`` names a pipeline with no history while this folder's history
    is under another name (``pipeline:`` added or changed): never show it silently empty, nor
    promote into a second history beside it (every door: the CLI, REST, the panel)."""
    if project is None:
        return
    try:
        name = project.pipeline.name
    except PipelineError:
        return  # a broken file is the command's to report
    here = store.pipeline_names_in(project.root)
    if name in here or len(here) != 1:
        return
    [old] = here
    raise PipelineError(
        f"{project.root / 'dataops.yaml'} names pipeline {name!r}, but this folder's run "
        f"history is under {old!r}. Run `dataops rename-pipeline {old} {name}` to move the "
        f"history to the new name, or put back `pipeline: {old}`."
    )


__all__ = [
    "NoProjectError",
    "NoStoreError",
    "Project",
    "cached_store",
    "close_stores",
    "refuse_a_renamed_pipeline",
    "store_exists",
]
