"""Retention: delete old executed notebooks and logs, keep the record.

``retention: {keep_runs: N, keep_days: D}`` on the pipeline (and on a step, which then wins)
keeps a step's newest N runs and every run younger than D days; older runs lose their executed
notebook and log and are marked ``pruned`` in the store. Their check results and metrics stay:
they are the SPC history. A run still queued or running is never touched. Applied by the
scheduler after its runs, and by ``dataops gc [--dry-run]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.retention")


@dataclass
class GcResult:
    """What a retention pass pruned (or, with ``dry_run``, would prune)."""

    dry_run: bool
    runs: list[dict[str, Any]] = field(default_factory=list)  # {id, step, files, bytes}

    @property
    def files(self) -> int:
        return sum(len(r["files"]) for r in self.runs)

    @property
    def bytes(self) -> int:
        return sum(r["bytes"] for r in self.runs)


def run_files(notebook_path: str | None, step: str) -> list[Path]:
    """The files of one step run: its executed notebook and, beside it, the step's log."""
    if not notebook_path:
        return []
    nb = Path(notebook_path)
    out = [nb]
    log_file = nb.parent / f"{step}.log"
    if not nb.name.startswith(f"{step}.attempt-"):  # the last attempt owns the log
        out.append(log_file)
    return [p for p in out if p.exists()]


def apply_retention(pipeline: Any, store: Store, *, dry_run: bool = False) -> GcResult:
    """Prune the runs of every step of ``pipeline`` beyond its retention (step's, else the
    pipeline's). With ``dry_run`` nothing is deleted or marked: the result lists what would be."""
    result = GcResult(dry_run=dry_run)
    default = getattr(pipeline, "retention", None)
    for name, spec in pipeline.steps.items():
        rule = getattr(spec, "retention", None) or default
        if rule is None:
            continue
        for run in store.retention_candidates(
            pipeline.name, name, keep_runs=rule.keep_runs, keep_days=rule.keep_days
        ):
            files = run_files(run["notebook_path"], name)
            size = sum(p.stat().st_size for p in files)
            if not dry_run:
                for p in files:
                    p.unlink(missing_ok=True)
                folder = Path(run["notebook_path"]).parent if run["notebook_path"] else None
                if folder is not None and folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
                store.mark_pruned(run["id"], [str(p) for p in files])
            result.runs.append(
                {"id": run["id"], "step": name, "files": [str(p) for p in files], "bytes": size}
            )
    if result.runs and not dry_run:
        log.info(
            "retention pruned runs",
            extra={"fields": {"event": "pruned", "runs": len(result.runs), "files": result.files}},
        )
    return result
