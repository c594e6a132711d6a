"""Where the server finds the project, its pipeline file and its run store; path safety.

The server serves one project: the folder holding ``dataops.yaml`` inside the server's root (or
``DataOpsExtension.project_dir``). Every notebook path that crosses the REST boundary is relative
to the server root, and a path that resolves outside that root is refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import DataOpsError

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
    pipeline: Any | None  # jupyter_dataops.pipeline.spec.Pipeline
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


def next_scheduled(schedule: str | None, now: datetime | None = None) -> str | None:
    """The next time (ISO-8601 UTC) a cron ``schedule`` fires after ``now``, or ``None``."""
    if not schedule:
        return None
    from croniter import croniter

    base = now or datetime.now(timezone.utc)
    try:
        return croniter(schedule, base).get_next(datetime).astimezone(timezone.utc).isoformat()
    except (ValueError, KeyError):
        return None


class ProjectLocator:
    """Finds the project on each request and keeps one open run store per store URL."""

    def __init__(self, root_dir: str | Path, project_dir: str = "") -> None:
        self.root_dir = Path(root_dir).expanduser().resolve()
        folder = Path(project_dir).expanduser() if project_dir else Path(".")
        self.project_dir = (self.root_dir / folder).resolve()
        self._stores: dict[str, Any] = {}
        self._lock = threading.Lock()

    def state(self) -> ProjectState:
        """Load the pipeline file now (it may have been created or edited since the last call)."""
        from jupyter_dataops.pipeline.spec import load_pipeline

        path = self.project_dir / PIPELINE_FILE
        if not path.is_file():
            return ProjectState(self.root_dir, self.project_dir, None)
        try:
            return ProjectState(self.root_dir, self.project_dir, load_pipeline(path))
        except DataOpsError as exc:
            return ProjectState(self.root_dir, self.project_dir, None, error=str(exc))

    def store(self, state: ProjectState) -> Any:
        """The project's open run store (created and migrated on first use)."""
        from jupyter_dataops.store import open_store, resolve_store_url

        configured = state.pipeline.store if state.pipeline is not None else None
        url = resolve_store_url(state.project_dir, configured=configured)
        with self._lock:
            store = self._stores.get(url)
            if store is None:
                store = open_store(url)
                self._stores[url] = store
            return store

    def close(self) -> None:
        """Close every store this locator opened."""
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
