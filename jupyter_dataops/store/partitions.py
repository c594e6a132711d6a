"""Partitions in the run store: which periods ran, and one SPC point per period.

A step run's ``partition`` (migration 0007) is the period it was for. A re-run of a period
replaces its point in a metric's history (the latest successful production run of each
partition counts; the replaced run stays in the record); runs without a partition count as
before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import aliased

from jupyter_dataops.store.base import _SR, StoreBase, _as_id
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


__all__ = ["PartitionsMixin", "not_replaced", "other_partition", "partition_of"]
