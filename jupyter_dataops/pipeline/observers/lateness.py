"""On time, or late: a ``late`` alert once per partition not successful by its ``expect_by``.

Lateness is noticed by whoever looks first, so it is noticed even when no scheduler runs: the
scheduler (at start and every maintenance pass) and the next ``dataops`` command (``run``,
``status``, ``runs``, ``backfill``, ``history``: one hook in ``cli/_app.py``) call
``notice_late``. Each alert is claimed in the store's alert log under a unique key (pipeline,
partition, channel) before it is sent, so two noticers never send it twice, and a partition
once alerted is never alerted again (whether the delivery worked is in the alert log).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.definition.partitions import Late, lateness

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.alerts")

EVENT = "late"
MAX_PER_NOTICE = 20  # oldest first; the rest go out on the next notice


def late_event(pipeline: Any, late: Late) -> Any:
    """The alert event of one late partition."""
    from jupyter_dataops.pipeline.observers.alerts import AlertEvent

    steps = ", ".join(late.steps)
    return AlertEvent(
        events=[EVENT],
        pipeline=pipeline.name,
        partition=late.partition,
        status="late",
        error=(
            f"partition {late.partition} is not done: step(s) {steps} not successful by "
            f"{late.expect_by} ({late.deadline.isoformat()}). Look at `dataops runs --partition "
            f"{late.partition}`, then run it with `dataops run --partition {late.partition}`."
        ),
        time=late.deadline.isoformat(),
    )


def notice_late(pipeline: Any, store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Send a ``late`` alert for each late partition not alerted before (to the ``alerts:``
    entries whose ``on:`` has ``late``). Returns the deliveries made; never raises."""
    try:
        return _notice(pipeline, store, now)
    except Exception as exc:  # noqa: BLE001 - noticing lateness never breaks a command
        log.warning("late partitions not checked: %s: %s", type(exc).__name__, exc)
        return []


def _notice(pipeline: Any, store: Store, now: datetime | None) -> list[dict[str, Any]]:
    from jupyter_dataops.pipeline.observers.alerts import channels, deliver

    wanted = [a for a in (getattr(pipeline, "alerts", ()) or ()) if EVENT in a.events]
    if store is None or not wanted:
        return []
    sent: list[dict[str, Any]] = []
    targets = [(a.channel, channels[a.channel](a).describe()) for a in wanted]
    found = lateness(pipeline, store, now)
    _record_incidents(pipeline, store, found)
    for late in found:
        if len(sent) >= MAX_PER_NOTICE * len(wanted):
            break
        claims = store.claim_partition_alert(pipeline.name, EVENT, late.partition, targets)
        if not claims:
            continue  # alerted before (here or by another process)
        results = deliver(wanted, late_event(pipeline, late), store=None)
        for claim, result in zip(claims, results, strict=False):
            store.finish_alert(
                claim,
                "sent" if result.get("event") == "alert_sent" else "failed",
                attempts=result.get("attempts", 0),
                error=result.get("error"),
            )
        sent.extend({**r, "partition": late.partition} for r in results)
    return sent


def _record_incidents(pipeline: Any, store: Store, found: list[Late]) -> None:
    """Each late step is an incident (kind ``late``) with its late partitions attached, once
    each; a step no longer late for any partition resolves its incident."""
    from jupyter_dataops.pipeline.observers.incidents import blast_radius

    late_steps: set[str] = set()
    for late in found:
        for step in late.steps:
            late_steps.add(step)
            store.record_failure(
                pipeline.name,
                step,
                "late",
                "late",
                title=f"{step} not done by {late.expect_by}",
                partition=late.partition,
                opened_by="dataops",
                affected=blast_radius(pipeline, step),
                once_per_partition=True,
            )
    for incident in store.list_incidents(pipeline=pipeline.name):
        if incident["kind"] == "late" and incident["step"] not in late_steps:
            store.record_pass(incident["id"])


__all__ = ["EVENT", "late_event", "notice_late"]
