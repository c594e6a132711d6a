"""What people do with incidents: report a problem against a step, acknowledge, resolve.

The CLI (``dataops incident``), the ``%dataops_incident`` magic and the REST routes call these
functions; a reported problem and a resolution by hand are alerted once, like the ones the
observers find (``observers.alerts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.observers.alerts import deliver, incident_event
from jupyter_dataops.pipeline.observers.incidents import blast_radius, current_user

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


def report_incident(
    pipeline: Any,
    store: Store,
    step: str,
    title: str,
    *,
    partition: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """A person reports a problem against ``step`` (``dataops incident open``,
    ``%dataops_incident``, REST): an incident of kind ``reported``, alerted like the others
    (event ``reported``, to channels whose ``on:`` has ``reported`` or ``failure``). The same
    title reported again while open attaches to it (and is not alerted again)."""
    steps = getattr(pipeline, "steps", None) or {}
    if step not in steps:
        raise DataOpsError(
            f"no step named {step!r} in {pipeline.path}; steps: {', '.join(steps) or '(none)'}. "
            "Report the problem against the step whose output is wrong."
        )
    title = " ".join(str(title or "").split())
    if not title:
        raise DataOpsError(
            "an incident needs a title saying what is wrong, e.g. --title 'revenue is zero'."
        )
    if len(title) > 500:
        raise DataOpsError(f"an incident title is at most 500 characters (got {len(title)}).")
    if partition is not None:
        if getattr(pipeline, "partitions", None) is None:
            raise DataOpsError(
                f"pipeline {pipeline.name!r} has no `partitions:`, so there is no period "
                f"{partition!r}; report the problem without a partition."
            )
        partition = pipeline.partitions.check(partition)  # PartitionKeyError says the format
    incident, opened = store.record_failure(
        pipeline.name,
        step,
        "reported",
        title,
        title=title,
        partition=partition,
        opened_by=by or current_user(),
        affected=blast_radius(pipeline, step),
    )
    if opened:
        alerts = list(getattr(pipeline, "alerts", ()) or ())
        if alerts:
            deliver(alerts, incident_event(incident, "reported"), store=store)
    incident["opened_here"] = opened
    return incident


def acknowledge(store: Store, incident_id: int | str, *, by: str, note: str | None = None) -> dict:
    """A person is on it (CLI, magic and REST call this one function)."""
    return store.acknowledge_incident(incident_id, by=by, note=_note(note))


def resolve(
    pipeline: Any, store: Store, incident_id: int | str, *, by: str, note: str | None = None
) -> dict[str, Any]:
    """A person resolves an incident: recorded with who and the note, and alerted once
    (``resolved``) like an automatic resolution."""
    incident = store.resolve_incident(incident_id, by=by, note=_note(note))
    alerts = list(getattr(pipeline, "alerts", ()) or ())
    if alerts and incident.get("pipeline") == getattr(pipeline, "name", None):
        deliver(alerts, incident_event(incident, "resolved"), store=store)
    return incident


def _note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > 2000:
        raise DataOpsError(f"a note is at most 2000 characters (got {len(text)}).")
    return text or None


__all__ = ["acknowledge", "report_incident", "resolve"]
