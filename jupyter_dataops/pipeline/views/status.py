"""``dataops status``: per step its schedule, next run, last run, promoted version, whether
the working notebook was edited since promotion, and the partitions it is late for (past its
``expect_by`` without success). Reads only: never creates a store."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.definition.versions import state_of

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


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


def stored_steps(store: Store | None, pipeline_name: str) -> dict[str, dict[str, Any]]:
    """The store's view of a pipeline's steps (latest version, last run) by step name."""
    if store is None:
        return {}
    for row in store.list_pipelines():
        if row["name"] == pipeline_name:
            return {s["name"]: s for s in row["steps"]}
    return {}


def pipeline_status(project: Project, store: Store | None = None) -> list[dict[str, Any]]:
    """One row per step of the project's pipeline (store: the project's, if it exists)."""
    pipeline = project.pipeline
    if store is None:
        store = project.open_store(create=False)
    known = stored_steps(store, pipeline.name)
    from jupyter_dataops.pipeline.definition.partitions import late_partitions

    late = late_partitions(pipeline, store)  # partition -> late steps, oldest first
    rows = []
    for name, spec in pipeline.steps.items():
        stored = known.get(name, {})
        state = state_of(pipeline, name, stored.get("latest_version"))
        rows.append(
            {
                "step": name,
                "notebook": spec.notebook,
                "schedule": spec.schedule,
                "next_run": next_scheduled(spec.schedule),
                "last_run": stored.get("last_run"),
                "promoted_version": state.promoted_version,
                "edited_since_promotion": state.edited_since_promotion,
                "warning": state.warning,
                "expect_by": spec.expect_by or pipeline.expect_by,
                "late": [key for key, steps in late.items() if name in steps],
            }
        )
    return rows


__all__ = ["next_scheduled", "pipeline_status", "stored_steps"]
