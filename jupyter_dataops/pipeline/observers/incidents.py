"""Failures become incidents: one per problem, acknowledged, resolved.

After each step of a production run, ``IncidentObserver`` reads the step run back from the store
and records each problem in it against its incident, keyed by (pipeline, step, kind, key):

- a failing check line (``check``, key: the line's text),
- an SPC signal (``spc``, key: the metric),
- a failed step with no failing check (``step_failed``),

so a second failure of the same key attaches to the open incident (count, last seen, the run and
its partition) instead of opening another. A key that passes counts towards resolution:
``resolve_after`` passing runs in a row (``incidents:`` in ``dataops.yaml``, default 1) resolve it.
Late partitions (``late``) and problems people report (``reported``, ``report_incident``) open
incidents the same way. The alert observer reads what a step run opened and resolved
(``store.incidents_of_step_run``), so each incident is alerted once when it opens and once when it
resolves. This observer runs before the alert observer (``attach.observers_for``).
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.observers.base import RunObserver

if TYPE_CHECKING:
    from jupyter_dataops.pipeline.observers.alerts import AlertEvent, AlertSpec
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.incidents")

#: the alert event that opens an incident of each kind (a channel's ``on:`` names these)
KIND_EVENTS = {
    "check": "check_failed",
    "spc": "spc_signal",
    "step_failed": "failure",
    "late": "late",
    "reported": "reported",
}


def current_user() -> str:
    """Who is at the terminal (the CLI records this as who acknowledged or resolved)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return "unknown"


def blast_radius(pipeline: Any, step: str | None) -> dict[str, list[str]]:
    """The steps downstream of ``step`` (from the DAG) and the declared ``outputs:`` of the step
    and of each of them: what a problem in ``step`` may have spoiled."""
    from jupyter_dataops.pipeline.definition.dag import downstream

    steps = getattr(pipeline, "steps", None) or {}
    if step is None or step not in steps:
        return {"steps": [], "outputs": []}
    deps = {name: tuple(s.depends_on) for name, s in steps.items()}
    below = downstream(deps, step)
    outputs = [o for name in [step, *below] for o in steps[name].outputs]
    return {"steps": below, "outputs": list(dict.fromkeys(outputs))}


def problems(run: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, key, title)`` of each problem in a finished step run (``store.get_run``)."""
    checks = run.get("check_results") or []
    out: list[tuple[str, str, str]] = []
    for c in checks:
        source = str(c.get("source") or f"line {c.get('line')}")
        if (c.get("spc") or {}).get("broken"):
            metric = str(c.get("metric") or source)
            rules = ", ".join(c["spc"]["broken"])
            out.append(("spc", metric, f"SPC signal on {metric} ({rules})"))
        elif c.get("status") in ("fail", "error"):
            out.append(("check", source, f"data test failed: {source}"))
    failing = any(c.get("status") in ("fail", "error") for c in checks)
    if run.get("status") == "failed" and not failing:
        error = (run.get("error") or "").strip().splitlines()
        why = f": {error[-1][:200]}" if error else ""
        out.append(("step_failed", "step failed", f"step failed{why}"))
    return list(dict.fromkeys(out))


def passed(incident: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
    """Whether ``run`` shows the problem of ``incident`` gone (a line that ran and passed, an
    SPC point judged without a signal, a successful step). Not judged is not passed."""
    kind, key = incident["kind"], incident["key"]
    checks = run.get("check_results") or []
    if kind == "check":
        lines = [c for c in checks if str(c.get("source")) == key]
        return bool(lines) and all(c.get("status") in ("pass", "warn") for c in lines)
    if kind == "spc":
        lines = [c for c in checks if str(c.get("metric") or c.get("source")) == key]
        return bool(lines) and all(
            (c.get("spc") or {}).get("judged") and not c["spc"].get("broken") for c in lines
        )
    if kind == "step_failed":
        return run.get("status") == "success"
    return False  # late and reported incidents are resolved otherwise (or by a person)


def record_step_run(pipeline: Any, store: Store, run: Mapping[str, Any]) -> dict[str, list]:
    """Open or attach the incidents of one finished production step run and count the passes of
    its step's other open incidents. Returns ``{"opened": [...], "attached": [...],
    "resolved": [...]}`` (incidents)."""
    out: dict[str, list] = {"opened": [], "attached": [], "resolved": []}
    if run.get("mode") != "production" or run.get("status") not in ("success", "failed"):
        return out
    name, step, srid = str(run.get("pipeline")), run.get("step"), run.get("id")
    found = problems(run)
    keys = {(kind, key) for kind, key, _ in found}
    affected = blast_radius(pipeline, step)
    for kind, key, title in found:
        incident, opened = store.record_failure(
            name,
            step,
            kind,
            key,
            title=title,
            step_run_id=srid,
            partition=run.get("partition"),
            opened_by="dataops",
            affected=affected,
        )
        out["opened" if opened else "attached"].append(incident)
    options = getattr(pipeline, "incidents", None)
    resolve_after = getattr(options, "resolve_after", 1)
    for incident in store.list_incidents(pipeline=name, step=step):
        if (incident["kind"], incident["key"]) in keys or not passed(incident, run):
            continue
        done = store.record_pass(incident["id"], resolve_after=resolve_after, step_run_id=srid)
        if done is not None:
            out["resolved"].append(done)
    return out


class IncidentObserver(RunObserver):
    """Records each finished step's problems as incidents (before its alerts are built)."""

    def step_finished(self, outcome: Any) -> None:
        if outcome.status not in ("failed", "success") or not outcome.step_run_ids:
            return
        run = self.store.get_run(outcome.step_run_ids[-1])
        if run:
            record_step_run(self.pipeline, self.store, run)


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
        from jupyter_dataops.pipeline.observers.alerts import deliver, incident_event

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
        from jupyter_dataops.pipeline.observers.alerts import deliver

        deliver(alerts, incident_event(incident, "resolved"), store=store)
    return incident


def _note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > 2000:
        raise DataOpsError(f"a note is at most 2000 characters (got {len(text)}).")
    return text or None


# -- what the alert observer asks ------------------------------------------------------------------


def incident_lines(incident: Mapping[str, Any]) -> list[str]:
    """What an alert says of its incident: id, state, how often and since when, blast radius,
    and the commands to act on it."""
    iid = incident.get("id")
    lines = [
        f"incident: {iid} ({incident.get('status')}, seen {incident.get('count')} time(s) since "
        f"{incident.get('first_seen')})"
    ]
    affected = incident.get("affected") or {}
    if affected.get("steps"):
        lines.append(f"downstream steps affected: {', '.join(affected['steps'])}")
    if affected.get("outputs"):
        lines.append(f"outputs affected: {', '.join(affected['outputs'])}")
    if incident.get("partitions"):
        lines.append(f"partitions: {', '.join(incident['partitions'])}")
    if incident.get("status") == "resolved":
        note = f": {incident['resolved_note']}" if incident.get("resolved_note") else ""
        lines.append(f"resolved by {incident.get('resolved_by')}{note}")
    else:
        lines.append(f"acknowledge: dataops incident ack {iid} --note '...'")
    return lines


def incident_event(incident: Mapping[str, Any], event: str) -> AlertEvent:
    """The alert of an incident on its own: ``reported``, ``resolved``, or (any other
    ``event``: the one that opened it) a reminder that it is still open."""
    from jupyter_dataops.pipeline.observers.alerts import AlertEvent

    runs = [r["step_run_id"] for r in incident.get("runs") or [] if r.get("step_run_id")]
    verb = {"resolved": "resolved", "reported": "reported"}.get(event, "still open")
    return AlertEvent(
        events=[event],
        pipeline=str(incident.get("pipeline")),
        step=incident.get("step"),
        step_run_id=runs[-1] if runs else None,
        status=incident.get("status"),
        error=f"incident {incident.get('id')} {verb}: {incident.get('title')}",
        partition=(incident.get("partitions") or [None])[-1],
        time=incident.get("resolved_at") or incident.get("last_seen"),
        incident=dict(incident),
    )


def once_per_incident(
    event: AlertEvent, incidents: Sequence[Mapping[str, Any]]
) -> AlertEvent | None:
    """``event`` (a step run's alert) keeping only what opened an incident in this run: a
    failure of an incident already open is not alerted again. ``None``: nothing new. An event
    no incident covers (an interrupted run, a test run) goes out as it is."""
    failing = [i for i in incidents if not i.get("resolved_here")]
    if not failing:
        return event
    new = [i for i in failing if i.get("opened_here")]
    new_events = {KIND_EVENTS.get(i["kind"]) for i in new}
    events = [
        e for e in event.events if e == "interrupted" or e in new_events or (e == "failure" and new)
    ]
    if not events:
        return None
    new_checks = {i["key"] for i in new if i["kind"] == "check"}
    event.events = events
    event.checks = [
        c
        for c in event.checks
        if c.get("status") not in ("fail", "error") or c.get("source") in new_checks
    ]
    if "spc_signal" not in events:
        event.spc = []
    event.incident = dict(new[0]) if new else None
    return event


def remind_open(
    alerts: Sequence[AlertSpec], store: Store, pipeline: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Alert again each incident still open longer than a channel's ``remind_after`` since it
    opened or was last reminded of. Returns the deliveries made."""
    from jupyter_dataops.pipeline.observers.alerts import deliver

    reminding = [a for a in alerts if a.options.get("remind_after")]
    if not reminding:
        return []
    now = now or datetime.now(timezone.utc)
    out: list[dict[str, Any]] = []
    for incident in store.list_incidents(pipeline=pipeline):
        since = datetime.fromisoformat(incident["reminded_at"] or incident["first_seen"])
        due = [a for a in reminding if now - since >= timedelta(seconds=a.options["remind_after"])]
        if not due:
            continue
        event = incident_event(incident, KIND_EVENTS.get(incident["kind"], "failure"))
        out.extend(deliver(due, event, store=store))
        store.mark_reminded(incident["id"], now)
    return out


def incidents_of(store: Store, step_run_id: int) -> list[dict[str, Any]]:
    """The incidents a step run opened, attached to or resolved; [] when they cannot be read."""
    try:
        return store.incidents_of_step_run(step_run_id)
    except Exception as exc:  # noqa: BLE001 - alerts go out as before without incidents
        log.warning("incidents of step run %s not read: %s", step_run_id, exc)
        return []


__all__ = [
    "KIND_EVENTS",
    "IncidentObserver",
    "acknowledge",
    "blast_radius",
    "current_user",
    "incident_event",
    "incident_lines",
    "incidents_of",
    "once_per_incident",
    "remind_open",
    "passed",
    "problems",
    "record_step_run",
    "report_incident",
    "resolve",
]
