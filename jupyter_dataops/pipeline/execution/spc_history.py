"""Where each SPC point sits: its phase (``dataops spc rebaseline``) and its date (seasonal lines).

``StepHistory`` (``context.py``) asks this module when a metric of its step has phases or an spc
line is seasonal: the points of the phase the current run is in, each dated by its partition's
first moment (partitioned pipelines) or by its run's start in the project's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


def partition_start(key: str) -> dt.datetime | None:
    """The first moment (naive, local) of a partition key of any period; None if it is none."""
    from jupyter_dataops.pipeline.definition.partitions import PERIODS, PartitionKeyError, parse_key

    for every in PERIODS:
        try:
            return parse_key(every, key)
        except PartitionKeyError:
            continue
    return None


def point_time(partition: str | None, started_at: Any, tz: str) -> dt.datetime:
    """A point's date for its season: its partition's start, else its run's start in ``tz``."""
    if partition:
        start = partition_start(partition)
        if start is not None:
            return start
    if isinstance(started_at, str):
        started_at = dt.datetime.fromisoformat(started_at)
    if started_at is None:
        started_at = dt.datetime.now(dt.timezone.utc)
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=dt.timezone.utc)
    return started_at.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def project_timezone(project_dir: str | None, step: str) -> str:
    """The step's (else the pipeline's) time zone from ``dataops.yaml``; UTC when unknown."""
    if not project_dir:
        return "UTC"
    try:
        from jupyter_dataops.pipeline.definition.project import Project

        project = Project.find(project_dir)
        if project is None:
            return "UTC"
        pipeline = project.pipeline
        spec = pipeline.steps.get(step)
        return (spec.timezone if spec else None) or pipeline.timezone or "UTC"
    except Exception:  # a broken pipeline file is reported by the runner, not by a history
        return "UTC"


class PhasedPoints:
    """The points of one metric of a step in the phase of the current run (all of them when
    the metric has no phase), with the current run's partition and start."""

    def __init__(
        self,
        store: Store,
        step: str,
        pipeline: str | None,
        suite: str | None,
        current: int | str | None,
    ) -> None:
        self.store, self.step, self.pipeline, self.suite = store, step, pipeline, suite
        self.current_id = int(current) if current is not None else None
        self._run: dict[str, Any] | None = None

    def current_run(self) -> dict[str, Any]:
        """``{partition, started_at}`` of the current run (interactively: none, now)."""
        if self._run is None:
            run = self.store.get_run(self.current_id) if self.current_id is not None else None
            self._run = {
                "partition": (run or {}).get("partition"),
                "started_at": (run or {}).get("started_at"),
            }
        return self._run

    def phases(self, key: str) -> list[dict[str, Any]]:
        return self.store.spc_phases(self.pipeline, self.step, key)

    def phase(self, key: str, phases: Sequence[dict[str, Any]] | None = None) -> dict | None:
        """The current run's phase ``{phase, reason, from}``; None when the metric has none.
        Interactively (no current run) it is the newest phase."""
        from jupyter_dataops.store.phases import phase_of

        phases = self.phases(key) if phases is None else phases
        if not phases:
            return None
        if self.current_id is None:
            p: dict | None = phases[-1]
        else:
            p = phase_of(phases, self.current_run()["partition"], self.current_id)
        if p is None:
            return {"phase": 1, "reason": None, "from": None}
        start = p["from_partition"] or f"run {p['from_step_run_id']}"
        return {"phase": p["phase"], "reason": p["reason"], "from": start}

    def points(self, key: str) -> list[dict[str, Any]]:
        """The metric's history (``Store.metric_points``) in the current run's phase."""
        from jupyter_dataops.store.phases import phase_of

        points = self.store.metric_points(
            self.step,
            key,
            pipeline=self.pipeline,
            suite=self.suite,
            exclude_step_run=self.current_id,
        )
        phases = self.phases(key)
        if not phases:
            return points
        mine = self.phase(key, phases)
        want = mine["phase"] if mine else 1

        def number(p: dict[str, Any]) -> int:
            found = phase_of(phases, p["partition"], p["step_run_id"])
            return found["phase"] if found else 1

        return [p for p in points if number(p) == want]


def rebaseline(
    pipeline: Any,
    store: Store,
    step: str,
    metric: str,
    start: str,
    reason: str,
    *,
    by: str | None = None,
) -> dict[str, Any]:
    """Start a new SPC phase of ``metric`` of ``step`` at ``start``: a partition key on a
    partitioned pipeline, else a step run id (``dataops spc rebaseline``). DataOpsError saying
    what to write for an unknown step, a key of the wrong kind or a run that is no number."""
    from jupyter_dataops.errors import DataOpsError

    if step not in pipeline.steps:
        raise DataOpsError(
            f"pipeline {pipeline.name!r} has no step {step!r}; its steps: "
            f"{', '.join(pipeline.steps)}"
        )
    start = str(start).strip()
    if pipeline.partitions is not None:
        key = pipeline.partitions.check(start)  # PartitionKeyError: "write one such as ..."
        return store.add_spc_phase(
            pipeline.name, step, metric, from_partition=key, reason=reason, created_by=by
        )
    run = start.removeprefix("#")  # as dataops history and the chart show a run: #12
    if not (run.isascii() and run.isdigit()):
        raise DataOpsError(
            f"{start!r} is no run id: pipeline {pipeline.name!r} has no partitions, so a phase "
            f"starts at a step run (the number dataops runs {step} shows)"
        )
    return store.add_spc_phase(
        pipeline.name, step, metric, from_step_run_id=int(run), reason=reason, created_by=by
    )
