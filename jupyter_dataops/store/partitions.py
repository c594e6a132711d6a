"""Partitions in the run store: which periods ran, and one SPC point per period.

A step run's ``partition`` (migration 0007) is the period it was for. A re-run of a period
replaces its point in a metric's history (the latest successful production run of each
partition counts; the replaced run stays in the record); runs without a partition count as
before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from jupyter_dataops.store.base import _SR, StoreBase, _as_id, _now
from jupyter_dataops.store.models import AlertLog, PipelineRecord, Step, StepRun

_AL = AlertLog.__table__


def not_replaced(step_run_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The step run ``step_run_id`` (a column) is not replaced by a later successful production
    run of the same step and partition (a run without a partition never is)."""
    a, b = aliased(StepRun), aliased(StepRun)
    return ~(
        select(b.id)
        .where(
            a.id == step_run_id,
            b.step_id == a.step_id,
            b.partition == a.partition,
            b.id > a.id,
            b.status == "success",
            b.mode == "production",
        )
        .exists()
    )


def other_partition(step_run_id: ColumnElement[int], current: int | str) -> ColumnElement[bool]:
    """The step run ``step_run_id`` is not for the partition of step run ``current`` (a re-run
    of a day is judged against the other days, never against its own earlier run)."""
    cur = _as_id(current, "step run id")
    mine = select(_SR.c.partition).where(_SR.c.id == cur).scalar_subquery()
    return ~select(_SR.c.id).where(_SR.c.id == step_run_id, _SR.c.partition == mine).exists()


def partition_of(step_run_id: ColumnElement[int]) -> Any:
    """The partition of the step run ``step_run_id`` (a scalar subquery, for ordering)."""
    return select(_SR.c.partition).where(_SR.c.id == step_run_id).scalar_subquery()


class PartitionsMixin(StoreBase):
    """What ran for which period."""

    def partition_statuses(
        self, pipeline: str, partitions: Iterable[str]
    ) -> dict[str, dict[str, str]]:
        """partition -> step -> status of that step's latest production run for it (partitions
        and steps that never ran are absent)."""
        keys = list(dict.fromkeys(partitions))
        if not keys:
            return {}
        out: dict[str, dict[str, str]] = {}
        with self._read() as conn:
            step_ids = select(Step.id).join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
            step_ids = step_ids.where(PipelineRecord.name == pipeline)
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                latest = (
                    select(func.max(_SR.c.id))
                    .where(
                        _SR.c.step_id.in_(step_ids),
                        _SR.c.partition.in_(chunk),
                        _SR.c.mode == "production",
                    )
                    .group_by(_SR.c.partition, _SR.c.step_id)
                )
                rows = conn.execute(
                    select(_SR.c.partition, Step.name, _SR.c.status)
                    .join(Step, Step.id == _SR.c.step_id)
                    .where(and_(_SR.c.id.in_(latest)))
                ).all()
                for partition, step, status in rows:
                    out.setdefault(partition, {})[step] = status
        return out

    def partition_keys(self, pipeline: str) -> list[str]:
        """Every partition a production run of the pipeline was for, oldest first."""
        with self._read() as conn:
            keys = conn.scalars(
                select(_SR.c.partition)
                .join(Step, Step.id == _SR.c.step_id)
                .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
                .where(
                    PipelineRecord.name == pipeline,
                    _SR.c.partition.is_not(None),
                    _SR.c.mode == "production",
                )
                .group_by(_SR.c.partition)
            ).all()
        return sorted(keys)

    # -- late alerts: once per partition and channel -------------------------------------------

    def claim_partition_alert(
        self,
        pipeline: str,
        event: str,
        partition: str,
        deliveries: Iterable[tuple[str, str]],
    ) -> list[int] | None:
        """Claim the alert ``event`` about ``partition`` for each ``(channel, target)``: one
        ``alert_log`` row each (status ``sending``) under a unique key, all or none. None when
        any was claimed before (by this or another process): the alert went out already."""
        import hashlib

        rows = []
        for channel, target in deliveries:
            key = "\x1f".join((pipeline, event, partition, channel, target or ""))
            rows.append(
                {
                    "pipeline": pipeline,
                    "event": event,
                    "partition": partition,
                    "channel": channel,
                    "target": target,
                    "status": "sending",
                    "attempts": 0,
                    "created_at": _now(),
                    "dedupe_key": hashlib.sha256(key.encode()).hexdigest(),
                }
            )
        if not rows:
            return []
        try:
            with self._write() as conn:
                return [conn.scalar(insert(_AL).values(**r).returning(_AL.c.id)) for r in rows]
        except IntegrityError:
            return None

    def finish_alert(self, alert_id: int, status: str, *, attempts: int, error: str | None) -> None:
        """What became of a claimed alert: ``sent`` or ``failed`` (with the error)."""
        with self._write() as conn:
            conn.execute(
                update(_AL)
                .where(_AL.c.id == int(alert_id))
                .values(status=status, attempts=attempts, error=error)
            )


__all__ = ["PartitionsMixin", "not_replaced", "other_partition", "partition_of"]
