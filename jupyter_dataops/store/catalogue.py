"""Pipelines, steps and their promoted versions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import StoreBase, _now, _step_ids
from jupyter_dataops.store.models import (
    AlertLog,
    Incident,
    PipelineRecord,
    ScheduledRun,
    SchedulerProcess,
    Step,
    StepVersion,
)
from jupyter_dataops.store.redact import redact_parameters
from jupyter_dataops.store.rows import VersionRow, _version_dict


class CatalogueMixin(StoreBase):
    """What exists: pipelines, steps and the versions promoted through the gate."""

    def upsert_pipeline(
        self, pipeline: str, *, project_dir: str | os.PathLike | None = None
    ) -> int:
        """Create the pipeline if it is new (updating its folder otherwise); returns its id."""
        folder = str(project_dir) if project_dir is not None else None
        return self._retrying(lambda conn: self._pipeline_id(conn, pipeline, folder))

    def pipeline_names_in(self, project_dir: str | os.PathLike) -> list[str]:
        """The pipelines whose runs were recorded from ``project_dir``."""
        with self._read() as conn:
            rows = conn.scalars(
                select(PipelineRecord.name).where(PipelineRecord.project_dir == str(project_dir))
            )
            return sorted(rows)

    def rename_pipeline(self, old: str, new: str) -> None:
        """Move the history of pipeline ``old`` (runs, versions, schedule claims, alerts sent,
        incidents) to the name ``new``; refused when ``old`` is unknown or ``new`` is taken."""

        def run(conn: Connection) -> None:
            names = set(conn.scalars(select(PipelineRecord.name)))
            if old not in names:
                raise StoreError(f"no pipeline {old!r} in the run store; known: {sorted(names)}.")
            if new in names:
                raise StoreError(
                    f"pipeline {new!r} already has history in the run store; a rename cannot "
                    "merge two histories."
                )
            conn.execute(update(PipelineRecord).where(PipelineRecord.name == old).values(name=new))
            for table in (ScheduledRun, SchedulerProcess, AlertLog, Incident):
                conn.execute(update(table).where(table.pipeline == old).values(pipeline=new))

        self._retrying(run)

    def upsert_step(self, pipeline: str, step: str, *, notebook: str | None = None) -> int:
        """Create the step (and its pipeline) if new, updating its notebook otherwise; its id."""

        def run(conn: Connection) -> int:
            return self._step_id(conn, self._pipeline_id(conn, pipeline, None), step, notebook)

        return self._retrying(run)

    def record_step_version(
        self,
        pipeline: str,
        step: str,
        *,
        notebook_path: str | os.PathLike,
        content_hash: str,
        parameters: Mapping[str, Any] | None,
        promoted_by: str | None = None,
        promoted_at: datetime | None = None,
    ) -> VersionRow:
        """Record a promoted version of a step: version 1, 2, ... per step.

        Promoting the same content and parameters again makes no new version: the latest one is
        returned with ``created`` False.
        """
        params = redact_parameters(parameters) or {}

        def run(conn: Connection) -> VersionRow:
            sid = self._step_id(
                conn, self._pipeline_id(conn, pipeline, None), step, str(notebook_path)
            )
            latest = (
                conn.execute(
                    select(StepVersion)
                    .where(StepVersion.step_id == sid)
                    .order_by(StepVersion.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if (
                latest
                and latest["content_hash"] == content_hash
                and ((latest["parameters"] or {}) == params)
            ):
                return _version_dict(latest, created=False)
            values = dict(
                step_id=sid,
                version=(latest["version"] + 1) if latest else 1,
                notebook_path=str(notebook_path),
                content_hash=content_hash,
                parameters=params,
                promoted_by=promoted_by,
                promoted_at=promoted_at or _now(),
            )
            new_id = conn.scalar(insert(StepVersion).values(**values).returning(StepVersion.id))
            return _version_dict({"id": new_id, **values}, created=True)

        return self._retrying(run)

    def latest_version(self, pipeline: str, step: str) -> VersionRow | None:
        """The newest promoted version of a step, or None if it was never promoted."""
        with self._read() as conn:
            row = (
                conn.execute(
                    select(StepVersion)
                    .join(Step, Step.id == StepVersion.step_id)
                    .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
                    .where(PipelineRecord.name == pipeline, Step.name == step)
                    .order_by(StepVersion.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _version_dict(row) if row else None

    def list_versions(self, step: str, *, pipeline: str | None = None) -> list[VersionRow]:
        """Every promoted version of a step, newest first."""
        with self._read() as conn:
            rows = (
                conn.execute(
                    select(StepVersion)
                    .where(StepVersion.step_id.in_(_step_ids(step, pipeline)))
                    .order_by(StepVersion.promoted_at.desc(), StepVersion.id.desc())
                )
                .mappings()
                .all()
            )
        return [_version_dict(r) for r in rows]
