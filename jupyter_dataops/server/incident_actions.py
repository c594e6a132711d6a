"""What the incident routes do: thin calls of ``pipeline.observers.incidents`` and the store (the
same functions as ``dataops incidents`` / ``dataops incident ...`` and ``%dataops_incident``)."""

from __future__ import annotations

from typing import Any

from jupyter_dataops.server.actions import NotFound, _empty
from jupyter_dataops.server.locator import ProjectLocator


def incidents(locator: ProjectLocator, *, include_resolved: bool = False) -> dict[str, Any]:
    """The pipeline's incidents, newest first (not resolved ones unless ``include_resolved``)."""
    state = locator.state()
    store = locator.store(state) if state.pipeline is not None else None
    if state.pipeline is None or store is None:
        return _empty(state, "incidents")
    found = store.list_incidents(pipeline=state.pipeline.name, include_resolved=include_resolved)
    return {"incidents": found, "hint": state.hint}


def act(locator: ProjectLocator, incident_id: int, action: str, *, user: str, note: Any) -> dict:
    """``ack`` or ``resolve`` one incident of this project's pipeline, as ``user``."""
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.observers import incident_actions as inc

    if note is not None and not isinstance(note, str):
        raise DataOpsError("`note` must be text.")
    state = locator.state()
    store = locator.store(state) if state.pipeline is not None else None
    found = store.get_incident(incident_id) if store is not None else None
    if found is None or found["pipeline"] != state.pipeline.name:
        raise NotFound(f"incident not found: no incident {incident_id} in this project.")
    if action == "ack":
        return inc.acknowledge(store, incident_id, by=user, note=note)
    return inc.resolve(state.pipeline, store, incident_id, by=user, note=note)


def report(locator: ProjectLocator, body: dict[str, Any], *, user: str) -> dict[str, Any]:
    """A person reports a problem against a step (``{step, title, partition}``)."""
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.observers.incident_actions import report_incident

    step, title, partition = body.get("step"), body.get("title"), body.get("partition")
    for name, value in (("step", step), ("title", title)):
        if not isinstance(value, str) or not value.strip():
            raise DataOpsError(f"`{name}` is required: text such as 'orders' / 'revenue is zero'.")
    if partition is not None and not isinstance(partition, str):
        raise DataOpsError("`partition` must be a partition key such as '2026-09-01'.")
    state = locator.state()
    if state.pipeline is None:
        raise NotFound(state.hint or "no pipeline here: there is no step to report against.")
    if step.strip() not in state.pipeline.steps:
        raise NotFound(f"no step named {step.strip()!r}; steps: {', '.join(state.pipeline.steps)}.")
    store = locator.store(state, create=True)
    return report_incident(
        state.pipeline, store, step.strip(), title, partition=partition or None, by=user
    )
