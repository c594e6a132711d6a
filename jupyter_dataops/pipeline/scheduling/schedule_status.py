"""What ``dataops status``, the REST ``status`` route and the panel say about scheduling: the
scheduler's liveness and each schedule's next and last tick (reads only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.definition.spec import Pipeline
from jupyter_dataops.pipeline.scheduling.schedules import next_run, schedules
from jupyter_dataops.store.processes import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

# A runner or scheduler heartbeats every HEARTBEAT_SECONDS; five missed beats = dead.
STALE_AFTER = timedelta(seconds=5 * HEARTBEAT_SECONDS)

NOT_RUNNING = "scheduler not running"


def scheduler_state(store: Store, pipeline: str) -> dict[str, Any]:
    """``{alive, host, pid, heartbeat_at, started_at, message}`` of the pipeline's scheduler:
    the newest alive one, else the last one seen (``alive`` false), else all None. ``message``
    says it in words, starting with "scheduler not running" when none is alive."""
    rows = store.schedulers(pipeline=pipeline, stale_after=STALE_AFTER) if store else []
    row = next((r for r in rows if r["alive"]), rows[0] if rows else None)
    keys = ("host", "pid", "heartbeat_at", "started_at")
    state = {"alive": False, **dict.fromkeys(keys)}
    if row is not None:
        state = {"alive": row["alive"], **{k: row[k] for k in keys}}
    if state["alive"]:
        message = f"scheduler running on {state['host']} (pid {state['pid']})"
    else:
        message = f"{NOT_RUNNING}: start it with `dataops scheduler` in the project folder"
        if row is not None:
            message += f" (last seen on {row['host']}, pid {row['pid']}, at {row['heartbeat_at']})"
    return {**state, "message": message}


def schedule_status(
    pipeline: Pipeline, store: Store, now: datetime | None = None
) -> dict[str, Any]:
    """``{scheduler, schedules}``: ``scheduler_state`` and, per schedule (key: a step, or ``*``
    for the pipeline's own), the steps a tick runs, cron, time zone, catch-up, next tick and
    the last claimed tick with what became of it."""
    out: dict[str, Any] = {"scheduler": scheduler_state(store, pipeline.name), "schedules": []}
    for key, s in schedules(pipeline).items():
        last = store.list_scheduled_runs(pipeline=pipeline.name, step=key, limit=1) if store else []
        fields = ("scheduled_for", "partition", "status", "reason", "pipeline_run_id", "run_status")
        out["schedules"].append(
            {
                "key": key,
                "steps": s.steps(pipeline),
                "schedule": s.cron,
                "timezone": s.timezone,
                "catchup": s.catchup,
                "next_run": next_run(s, now),
                "last_scheduled": {k: last[0][k] for k in fields} if last else None,
            }
        )
    return out
