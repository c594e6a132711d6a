"""SPC phases: after an accepted change of the process, a metric's limits start afresh (table
``spc_phases`` in ``models.py``, migration ``0010``).

A phase starts at a boundary: a partition key (partitioned pipelines; keys are ISO text, so they
sort as the periods do) or a step run id (unpartitioned pipelines). A point belongs to the phase
with the latest boundary at or before it; phase 1 is everything before the first rebaseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import _M, _SR, StoreBase, _as_id, _iso, _now
from jupyter_dataops.store.models import SpcPhase

_P = SpcPhase.__table__
_LARGEST_ID = 2**63 - 1  # what an id column holds


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "pipeline": r.pipeline,
        "step": r.step,
        "metric": r.metric,
        "from_partition": r.from_partition,
        "from_step_run_id": r.from_step_run_id,
        "reason": r.reason,
        "created_by": r.created_by,
        "created_at": _iso(r.created_at),
    }


def _boundary(phase: dict[str, Any]) -> tuple[int, str | int]:
    return (
        (0, phase["from_partition"]) if phase["from_partition"] else (1, phase["from_step_run_id"])
    )


def ordered(phases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Phases in the order of their boundaries, each with its ``phase`` number (2, 3, ...)."""
    out = sorted(phases, key=lambda p: (_boundary(p), p["id"]))
    return [{**p, "phase": i + 2} for i, p in enumerate(out)]


def phase_of(
    phases: Sequence[dict[str, Any]], partition: str | None, step_run_id: int | None
) -> dict[str, Any] | None:
    """The phase (from ``ordered``) a point is in, None for phase 1: the one with the latest
    boundary at or before the point's partition (or run id, for a run-id boundary)."""
    found = None
    for p in phases:
        if p["from_partition"]:
            inside = partition is not None and partition >= p["from_partition"]
        else:
            inside = step_run_id is not None and step_run_id >= p["from_step_run_id"]
        if inside:
            found = p
    return found


def phase_starts(
    phases: Sequence[dict[str, Any]],
    points: Sequence[tuple[str | None, int]],
    *,
    whole: bool = True,
) -> list[dict[str, Any]]:
    """Where each new phase starts among ``(partition, step_run_id)`` points (oldest first):
    ``{index, phase, from, reason}`` at the first point of a phase after a point of another
    (``whole``: the points start the series, so a phase at the first point starts there too)."""
    out: list[dict[str, Any]] = []
    previous = 1 if whole else None
    for i, (partition, step_run_id) in enumerate(points):
        found = phase_of(phases, partition, step_run_id)
        number = found["phase"] if found else 1
        if found is not None and previous is not None and number != previous:
            start = found["from_partition"] or f"run {found['from_step_run_id']}"
            out.append({"index": i, "phase": number, "from": start, "reason": found["reason"]})
        previous = number
    return out


class PhasesMixin(StoreBase):
    """``add_spc_phase`` starts a phase of a step's metric; ``spc_phases`` lists them."""

    def add_spc_phase(
        self,
        pipeline: str,
        step: str,
        metric: str,
        *,
        reason: str,
        from_partition: str | None = None,
        from_step_run_id: int | str | None = None,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """Start a new phase of ``metric`` of ``step`` at a partition or a step run (one of the
        two). StoreError (saying what exists) for an unknown step or metric, a run that is not
        this step's, or an empty reason."""
        if not (reason or "").strip():
            raise StoreError(
                "a new phase needs a reason (the change of the process), e.g. "
                "--reason 'new supplier from 2026-10-01'"
            )
        if (from_partition is None) == (from_step_run_id is None):
            raise StoreError("a phase starts at a partition or at a step run: give one of them")
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            raise StoreError(
                f"pipeline {pipeline!r} has no step {step!r} in the run store; "
                "dataops status lists its steps"
            )
        srid = None if from_step_run_id is None else _as_id(from_step_run_id, "step run id")
        with self._write() as conn:
            keys = conn.scalars(
                select(_M.c.key).where(_M.c.step_id.in_(ids)).distinct().order_by(_M.c.key)
            ).all()
            if metric not in keys:
                known = ", ".join(k for k in keys if not k.startswith(("n:", "ops:"))) or "none yet"
                raise StoreError(
                    f"step {step!r} has recorded no metric {metric!r}; its metrics: {known}"
                )
            if srid is not None:
                # an id past the column's range is no run (and no query: SQLite overflows)
                owner = (
                    conn.scalar(select(_SR.c.step_id).where(_SR.c.id == srid))
                    if srid <= _LARGEST_ID
                    else None
                )
                if owner not in ids:
                    raise StoreError(
                        f"step run {srid} is not a run of step {step!r}; "
                        f"dataops runs {step} lists its runs"
                    )
            new_id = conn.scalar(
                insert(_P)
                .values(
                    pipeline=pipeline,
                    step=step,
                    metric=metric,
                    from_partition=from_partition,
                    from_step_run_id=srid,
                    reason=reason.strip(),
                    created_by=created_by,
                    created_at=_now(),
                )
                .returning(_P.c.id)
            )
        return next(p for p in self.spc_phases(pipeline, step, metric) if p["id"] == new_id)

    def spc_phases(
        self, pipeline: str | None, step: str, metric: str | None = None
    ) -> list[dict[str, Any]]:
        """The phases of a step (of one metric), in boundary order, numbered from 2."""
        q = select(_P).where(_P.c.step == step)
        if pipeline is not None:
            q = q.where(_P.c.pipeline == pipeline)
        if metric is not None:
            q = q.where(_P.c.metric == metric)
        with self._read() as conn:
            rows = conn.execute(q.order_by(_P.c.id)).all()
        return ordered([_row(r) for r in rows])
