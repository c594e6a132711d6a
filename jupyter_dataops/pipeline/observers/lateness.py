"""On time, or late: a partition not successful by its ``expect_by`` is a ``late`` incident.

Lateness is noticed by whoever looks first, so it is noticed even when no scheduler runs: the
scheduler (at start and every maintenance pass) and the next ``dataops`` command (``run``,
``status``, ``runs``, ``backfill``, ``history``: one hook in ``cli/_app.py``) call
``notice_late``. Each late step opens (or attaches its partition to) the step's one open ``late``
incident, keyed like the others (pipeline, step, ``late``, ``late``), whether or not a channel
listens for ``late``; a late step downstream of another late step of the same partition is that
one's blast radius, not an incident of its own. The incident is alerted once when it opens (the
store's open key lets one noticer open it, however many look at once) and once when it resolves:
when the runs of all its partitions arrive (``incidents.record_step_run``, the run's own alert
observer says so), or at the next notice when they arrived some other way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.definition.partitions import Late, lateness

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.alerts")

EVENT = "late"
KEY = "late"  # one open late incident per step, whichever partitions it holds


def late_event(pipeline: Any, incident: Mapping[str, Any], lates: Sequence[Late]) -> Any:
    """The alert that a ``late`` incident opened: its step, its late partitions and what to do."""
    from jupyter_dataops.pipeline.observers.alerts import AlertEvent

    step = incident.get("step")
    parts = list(incident.get("partitions") or [late.partition for late in lates])
    first = lates[0] if lates else None
    by = f" by {first.expect_by} ({first.deadline.isoformat()})" if first else ""
    shown = ", ".join(parts[:10]) + (f" and {len(parts) - 10} more" if len(parts) > 10 else "")
    newest = parts[-1] if parts else ""
    return AlertEvent(
        events=[EVENT],
        pipeline=pipeline.name,
        step=step,
        partition=parts[0] if parts else None,
        status="late",
        error=(
            f"incident {incident.get('id')} opened: step {step} not successful{by} for "
            f"partition(s) {shown}. Look at `dataops runs --partition {newest}`, then run it with "
            f"`dataops run --partition {newest}` (or `dataops backfill` for several)."
        ),
        time=first.deadline.isoformat() if first else incident.get("first_seen"),
        incident=dict(incident),
    )


def notice_late(pipeline: Any, store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Record each late partition against its step's ``late`` incident, resolve the late
    incidents whose partitions are all done, and alert (the ``alerts:`` entries whose ``on:``
    has ``late``) each incident that opened or resolved here. Returns the deliveries made, each
    with its ``incident`` id and ``partitions``; never raises."""
    try:
        return _notice(pipeline, store, now)
    except Exception as exc:  # noqa: BLE001 - noticing lateness never breaks a command
        log.warning("late partitions not checked: %s: %s", type(exc).__name__, exc)
        return []


def _notice(pipeline: Any, store: Store, now: datetime | None) -> list[dict[str, Any]]:
    if store is None or getattr(pipeline, "partitions", None) is None:
        return []
    found = lateness(pipeline, store, now)
    opened = _record_incidents(pipeline, store, found)
    resolved = _resolve_done(pipeline, store)
    alerts = list(getattr(pipeline, "alerts", ()) or ())
    if not alerts or not (opened or resolved):
        return []
    # only now: the alerts import the check parser (polars), which a look that finds nothing
    # new (nearly every `dataops runs`/`status`) never needs
    from jupyter_dataops.pipeline.observers.alerts import deliver, incident_event

    sent: list[dict[str, Any]] = []
    for iid, lates in opened.items():
        incident = store.get_incident(iid)
        if incident is not None:
            event = late_event(pipeline, incident, lates)
            sent.extend(_about(incident, r) for r in deliver(alerts, event, store=store))
    for incident in resolved:
        event = incident_event(incident, "resolved")
        sent.extend(_about(incident, r) for r in deliver(alerts, event, store=store))
    return sent


def _about(incident: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "incident": incident["id"], "partitions": incident.get("partitions") or []}


def first_late_steps(pipeline: Any, late: Late) -> list[str]:
    """The late steps of a partition that no other late step of it is upstream of: the problem;
    the steps below them wait on it (their blast radius)."""
    from jupyter_dataops.pipeline.definition.dag import downstream

    deps = {name: tuple(s.depends_on) for name, s in pipeline.steps.items()}
    below = {s for t in late.steps if t in deps for s in downstream(deps, t)}
    return [s for s in late.steps if s not in below]


def _record_incidents(pipeline: Any, store: Store, found: list[Late]) -> dict[int, list[Late]]:
    """Each first late step of each late partition attached (once per partition) to the step's
    open late incident. Returns the incidents opened here, with their late partitions."""
    from jupyter_dataops.pipeline.observers.incidents import blast_radius

    opened: dict[int, list[Late]] = {}
    attached = {  # what earlier looks recorded: every command looks, most find nothing new
        i["step"]: set(i["partitions"])
        for i in store.list_incidents(pipeline=pipeline.name)
        if i["kind"] == EVENT
    }
    firsts: dict[tuple[str, ...], list[str]] = {}  # most late partitions have the same steps
    for late in found:
        steps = tuple(late.steps)
        if steps not in firsts:
            firsts[steps] = first_late_steps(pipeline, late)
        for step in firsts[steps]:
            if late.partition in attached.get(step, ()):
                continue
            incident, new = store.record_failure(
                pipeline.name,
                step,
                EVENT,
                KEY,
                title=f"{step} not done by {late.expect_by}",
                partition=late.partition,
                opened_by="dataops",
                affected=blast_radius(pipeline, step),
                once_per_partition=True,
            )
            if new or incident["id"] in opened:
                opened.setdefault(incident["id"], []).append(late)
    return opened


def _resolve_done(pipeline: Any, store: Store) -> list[dict[str, Any]]:
    """The late incidents of ``pipeline`` whose partitions all have their step done since,
    resolved here."""
    from jupyter_dataops.pipeline.observers.incidents import late_done, resolve_late

    out = []
    for incident in store.list_incidents(pipeline=pipeline.name):
        if incident["kind"] == EVENT and late_done(store, incident):
            done = resolve_late(store, incident)
            if done is not None:
                out.append(done)
    return out


__all__ = ["EVENT", "first_late_steps", "late_event", "notice_late"]
