"""Failures become incidents: one per problem, acknowledged, resolved.

After each step of a production run, ``IncidentObserver`` reads the step run back from the store
and records each problem in it against its incident, keyed by (pipeline, step, kind, key):

- a failing check line (``check``, key: the line's text),
- an SPC signal (``spc``, key: the spc line's text; not the operations line
  ``ops:checks_failing``, which counts failing lines that are incidents of their own),
- a failed step with no failing check (``step_failed``),

so a second failure of the same key attaches to the open incident (count, last seen, the run and
its partition) instead of opening another. A key that passes counts towards resolution:
``resolve_after`` passing runs in a row (``incidents:`` in ``dataops.yaml``, default 1) resolve it.
Late partitions (``late``, ``observers.lateness``) and problems people report (``reported``,
``incident_actions.report_incident``) open incidents the same way; a late incident resolves when
the runs of its partitions arrive (here, when the last one succeeds). The alert observer reads what a step run opened and resolved
(``store.incidents_of_step_run``), so each incident is alerted once when it opens and once when it
resolves. This observer runs before the alert observer (``attach.observers_for``).
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_dataops.checks.display import time_text
from jupyter_dataops.pipeline.observers.base import RunObserver

if TYPE_CHECKING:
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
    # here, not at the top: operations imports checks.spec and spc (numpy), which `dataops
    # runs` noticing lateness (incidents -> blast_radius) never needs
    from jupyter_dataops.pipeline.observers.operations import CHECKS_FAILING

    checks = run.get("check_results") or []
    out: list[tuple[str, str, str]] = []
    for c in checks:
        source = str(c.get("source") or f"line {c.get('line')}")
        if c.get("metric") == CHECKS_FAILING:
            continue  # the failing lines it counts are incidents of their own: one problem
        if (c.get("spc") or {}).get("broken"):
            # keyed by the line: two spc lines on one metric (plain and seasonal) are two
            metric = str(c.get("metric") or source)
            rules = ", ".join(c["spc"]["broken"])
            out.append(("spc", source, f"SPC signal on {metric} ({rules})"))
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
    if kind == "spc":  # its spc line (incidents opened before keys were lines: the metric's)
        spc = [c for c in checks if c.get("spc")]
        lines = [c for c in spc if str(c.get("source")) == key] or [
            c for c in spc if str(c.get("metric")) == key
        ]
        # a line still collecting its baseline (a seasonal line's weekday) says nothing either way
        judged = [c for c in lines if (c.get("spc") or {}).get("judged")]
        return bool(judged) and not any(c["spc"].get("broken") for c in judged)
    if kind == "step_failed":
        return run.get("status") == "success"
    return False  # late (``late_done``) and reported incidents are resolved otherwise


def late_done(store: Store, incident: Mapping[str, Any]) -> bool:
    """Whether every partition of a ``late`` incident has its step's latest production run
    successful now (the runs arrived)."""
    parts = incident.get("partitions") or []
    statuses = store.partition_statuses(str(incident["pipeline"]), parts)
    return bool(parts) and all(
        statuses.get(p, {}).get(incident["step"]) == "success" for p in parts
    )


def resolve_late(
    store: Store, incident: Mapping[str, Any], step_run_id: int | None = None
) -> dict[str, Any] | None:
    """Resolve a ``late`` incident whose partitions are done (by ``step_run_id``, the run that
    arrived last, when known). Returns it if this call resolved it."""
    parts = incident.get("partitions") or []
    shown = ", ".join(parts[:5]) + (" ..." if len(parts) > 5 else "")
    return store.record_pass(
        incident["id"],
        step_run_id=step_run_id,
        note=f"the run of partition(s) {shown} arrived",
    )


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
        if incident["kind"] == "late":
            # the partition's run arrived: resolved when it was the last one missing
            arrived = run.get("status") == "success" and run.get("partition") in (
                incident.get("partitions") or []
            )
            done = (
                resolve_late(store, incident, srid)
                if arrived and late_done(store, incident)
                else None
            )
            if done is not None:
                out["resolved"].append(done)
            continue
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


# -- what the alert observer asks ------------------------------------------------------------------


def incident_lines(incident: Mapping[str, Any]) -> list[str]:
    """What an alert says of its incident: id, state, how often and since when, blast radius,
    and the commands to act on it."""
    iid = incident.get("id")
    lines = [
        f"incident: {iid} ({incident.get('status')}, seen {incident.get('count')} time(s) since "
        f"{time_text(incident.get('first_seen'))})"
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
    "blast_radius",
    "current_user",
    "incident_lines",
    "incidents_of",
    "late_done",
    "passed",
    "problems",
    "record_step_run",
    "resolve_late",
]
