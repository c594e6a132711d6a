"""Where the server finds the project, its pipeline file and its run store; path safety.

The server serves one project: the folder holding ``dataops.yaml`` inside the server's root (or
``DataOpsExtension.project_dir``). Every notebook path that crosses the REST boundary is relative
to the server root, and a path that resolves outside that root is refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.yaml_file import file_stamp, settled  # noqa: F401 - actions
from jupyter_dataops.pipeline.views.status import next_scheduled  # noqa: F401 - the REST routes use it
from jupyter_dataops.server.answers import Answers

PIPELINE_FILE = "dataops.yaml"

NO_PIPELINE_HINT = (
    "No pipeline file ({file}) in {folder}. Open a parameterized notebook and use "
    '"Promote this notebook", or run `dataops promote NOTEBOOK --step NAME` in that folder.'
)


class OutsideRootError(DataOpsError):
    """A path that points outside the Jupyter server's root folder."""


@dataclass
class ProjectState:
    """The project as the server sees it right now (the pipeline file can appear at any time)."""

    root_dir: Path
    project_dir: Path
    pipeline: Any | None  # jupyter_dataops.pipeline.definition.spec.Pipeline
    error: str | None = None

    @property
    def pipeline_file(self) -> Path:
        return self.project_dir / PIPELINE_FILE

    @property
    def hint(self) -> str | None:
        """What to do next when there is nothing to show; ``None`` when there is a pipeline."""
        if self.error:
            return f"The pipeline file cannot be used: {self.error} Fix it and reload."
        if self.pipeline is None:
            return NO_PIPELINE_HINT.format(
                file=PIPELINE_FILE, folder=self.relative(self.project_dir) or "the server root"
            )
        if not self.pipeline.steps:
            return "The pipeline has no steps yet. Promote a notebook to add one."
        return None

    def relative(self, path: Path | str) -> str | None:
        """``path`` relative to the server root (POSIX), or ``None`` when it is outside it."""
        try:
            rel = Path(path).resolve().relative_to(self.root_dir)
        except ValueError:
            return None
        text = rel.as_posix()
        return "" if text == "." else text


def resolve_in_root(root_dir: Path, relative_path: str) -> Path:
    """The absolute path of ``relative_path`` (relative to the server root), kept inside it.

    Raises ``OutsideRootError`` for absolute paths and for ``..`` or symlinks leading outside.
    """
    if not isinstance(relative_path, str) or not relative_path.strip():
        raise OutsideRootError("a notebook path relative to the Jupyter root folder is required.")
    if Path(relative_path).is_absolute():
        raise OutsideRootError(
            f"{relative_path!r} is an absolute path; give the path relative to the Jupyter root "
            "folder, as shown in the file browser."
        )
    cleaned = relative_path.strip()
    target = (root_dir / cleaned).resolve()
    try:
        target.relative_to(root_dir)
    except ValueError:
        raise OutsideRootError(
            f"{relative_path!r} is outside the Jupyter server's root folder; only notebooks under "
            "that folder can be promoted or opened."
        ) from None
    return target


class ProjectLocator:
    """The server's project (``Project`` at a fixed folder), re-read on each request.

    Stores come from the process-wide cache of ``jupyter_dataops.pipeline.definition.project``; read-only
    routes ask with ``create=False`` so that looking never creates a SQLite file.
    """

    def __init__(self, root_dir: str | Path, project_dir: str = "") -> None:
        self.root_dir = Path(root_dir).expanduser().resolve()
        folder = Path(project_dir).expanduser() if project_dir else Path(".")
        self.project_dir = (self.root_dir / folder).resolve()
        self._used: set[Any] = set()
        self._lock = threading.Lock()
        self._parsed: tuple[tuple[int, ...] | None, ProjectState] | None = None
        self.answers = Answers()  # the read routes' answers, kept while ``stamp()`` holds

    def file_stamp(self) -> tuple[int, ...] | None:
        """The pipeline file's identity and change time (None: no file): an edit changes it."""
        return file_stamp(self.project_dir / PIPELINE_FILE)

    def state(self) -> ProjectState:
        """The project as its pipeline file says now: the file is parsed again only when it was
        created, edited or replaced since the last call (its stat changed), not per request."""
        stamp = self.file_stamp()
        parsed = self._parsed
        if parsed is not None and parsed[0] == stamp and settled(stamp):
            return parsed[1]
        state = self._load()
        self._parsed = (stamp, state)
        return state

    def _load(self) -> ProjectState:
        from jupyter_dataops.pipeline.definition.project import Project

        project = Project(self.project_dir)
        if not project.exists:
            return ProjectState(self.root_dir, self.project_dir, None)
        try:
            return ProjectState(self.root_dir, self.project_dir, project.pipeline)
        except DataOpsError as exc:
            return ProjectState(self.root_dir, self.project_dir, None, error=str(exc))

    def stamp(self) -> tuple[Any, ...] | None:
        """What the project's answers are read from right now (the pipeline file's stat, the
        store's generation); None when that cannot be told, so nothing may be kept."""
        file = self.file_stamp()
        if not settled(file):
            return None
        state = self.state()
        store = self.store(state)
        if store is None:
            return (file, None)
        generation = store.generation()
        return None if generation is None else (file, generation)

    def store(self, state: ProjectState, *, create: bool = False) -> Any:
        """The project's open run store; None when it does not exist yet and not ``create``."""
        from jupyter_dataops.pipeline.definition.project import Project, cached_store
        from jupyter_dataops.store import resolve_store_url

        if state.pipeline is not None:
            url = Project.of(state.pipeline).store_url
        else:
            url = resolve_store_url(state.project_dir)
        store = cached_store(url, create=create)
        if store is not None:
            with self._lock:
                self._used.add(store)
        return store

    def close(self) -> None:
        """Release the connections of every store this locator used."""
        with self._lock:
            for store in self._used:
                store.close()
            self._used.clear()
