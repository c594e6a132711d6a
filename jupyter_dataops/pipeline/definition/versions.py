"""Promoted notebooks: the exact notebook a promotion gated, kept content-addressed.

``dataops promote`` stores the notebook it gated as ``.dataops/versions/<content hash>.ipynb``
(the hash is the step version's ``content_hash``), and production runs execute that snapshot,
never the working file: editing the notebook after promotion changes nothing in production
until it is promoted again. ``step_state`` says, per step, which version is promoted and whether
the working notebook was edited since.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.model import STATE_DIR, Pipeline, ensure_state_dir
from jupyter_dataops.pipeline.definition.notebook import content_hash

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

VERSIONS_DIR = "versions"
EDITED_HINT = "promote again to put the change in production"


def snapshot_path(project_dir: Path | str, digest: str) -> Path:
    """Where the promoted notebook with content hash ``digest`` is kept."""
    return Path(project_dir) / STATE_DIR / VERSIONS_DIR / f"{digest}.ipynb"


def save_snapshot(project_dir: Path | str, digest: str, data: bytes) -> tuple[Path, bool]:
    """Keep ``data`` (a notebook's bytes) as the snapshot of ``digest``; returns (path, created).

    Content-addressed: an existing snapshot of the same hash is kept as it is. Written to a
    temporary file and renamed, so a reader never sees half a notebook.
    """
    path = snapshot_path(project_dir, digest)
    if path.exists():
        return path, False
    ensure_state_dir(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".ipynb")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, True


@dataclass(frozen=True)
class StepState:
    """A step's promoted version and how its working notebook compares with it."""

    step: str
    notebook: Path  # the working notebook
    version: dict[str, Any] | None  # the store's latest step version, None if never promoted
    snapshot: Path | None  # the promoted notebook kept under .dataops/versions/
    working_hash: str | None  # None when the working notebook is missing or unreadable

    @property
    def promoted_version(self) -> int | None:
        return self.version["version"] if self.version else None

    @property
    def edited_since_promotion(self) -> bool:
        """The working notebook differs from (or no longer exists beside) the promoted one."""
        return self.version is not None and self.working_hash != self.version["content_hash"]

    @property
    def warning(self) -> str | None:
        """The plain sentence front doors show when production would not run the working copy."""
        if not self.edited_since_promotion:
            return None
        if self.working_hash is None and not self.notebook.exists():
            return (
                f"step {self.step}: notebook {self.notebook.name} no longer exists; production "
                f"runs its promoted version v{self.promoted_version}"
            )
        return f"step {self.step}: notebook edited since promotion — {EDITED_HINT}"


def step_state(pipeline: Pipeline, step: str, store: Store | None) -> StepState:
    """The promoted version of ``step`` (from ``store``; None store: never promoted)."""
    version = store.latest_version(pipeline.name, step) if store is not None else None
    return state_of(pipeline, step, version)


def state_of(pipeline: Pipeline, step: str, version: dict[str, Any] | None) -> StepState:
    """``step_state`` when the step's latest version row is already at hand."""
    notebook = pipeline.notebook_path(step)
    try:
        working = content_hash(notebook) if notebook.exists() else None
    except (OSError, ValueError, PipelineError):
        working = None
    snapshot = snapshot_path(pipeline.project_dir, version["content_hash"]) if version else None
    return StepState(step, notebook, version, snapshot, working)


def promoted_notebook(pipeline: Pipeline, state: StepState) -> Path:
    """The snapshot a production run of the step executes; a clear error when there is none."""
    where = f"{pipeline.path}, step {state.step!r}: "
    if state.version is None:
        raise PipelineError(
            f"{where}the step has no promoted version, so there is nothing to run in production. "
            f"Promote it (`dataops promote {state.notebook.name} --step {state.step}`), or run "
            "the working copy on purpose with `dataops run --unpromoted`."
        )
    assert state.snapshot is not None
    if not state.snapshot.exists():
        raise PipelineError(
            f"{where}the notebook of promoted version v{state.promoted_version} is not in "
            f"{state.snapshot.parent} (promoted before snapshots were kept, or the folder was "
            f"deleted). Promote the step again (`dataops promote {state.notebook.name} --step "
            f"{state.step}`)."
        )
    return state.snapshot


__all__ = [
    "EDITED_HINT",
    "StepState",
    "promoted_notebook",
    "save_snapshot",
    "snapshot_path",
    "state_of",
    "step_state",
]
