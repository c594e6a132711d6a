"""Incidents: one row per problem of a step (tables ``incidents`` and ``incident_runs`` in
``models.py``, migration ``0009``).

A failure is recorded against the open incident of its key (pipeline, step, kind, key) or opens
one; ``open_key`` (unique while the incident is not resolved) makes two processes seeing the same
failure at once attach to one incident. Passing runs count towards automatic resolution; a
person acknowledges or resolves with a note, and who did it is recorded.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store.base import StoreBase, _as_id, _iso, _now
from jupyter_dataops.store.models import INCIDENT_KINDS, Incident, IncidentRun

_I = Incident.__table__
_IR = IncidentRun.__table__
NOT_RESOLVED = ("open", "acknowledged")


def open_key(pipeline: str, step: str | None, kind: str, key: str) -> str:
    """The claim of the one open incident of a key."""
    text = "\x1f".join([pipeline, step or "", kind, key])
    return hashlib.sha256(text.encode()).hexdigest()


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "pipeline": r.pipeline,
        "step": r.step,
        "kind": r.kind,
        "key": r.key,
        "title": r.title,
        "status": r.status,
        "first_seen": _iso(r.first_seen),
        "last_seen": _iso(r.last_seen),
        "count": r.count,
        "passes": r.passes,
        "opened_by": r.opened_by,
        "acknowledged_by": r.acknowledged_by,
        "acknowledged_at": _iso(r.acknowledged_at),
        "acknowledged_note": r.acknowledged_note,
        "resolved_by": r.resolved_by,
        "resolved_at": _iso(r.resolved_at),
        "resolved_note": r.resolved_note,
        "resolved_step_run_id": r.resolved_step_run_id,
        "reminded_at": _iso(r.reminded_at),
        "affected": r.affected or {"steps": [], "outputs": []},
    }


class IncidentsMixin(StoreBase):
    """``record_failure`` opens or attaches, ``record_pass`` counts towards resolution,
    ``acknowledge_incident`` / ``resolve_incident`` are a person's; ``list_incidents`` and
    ``get_incident`` read."""

    def record_failure(
        self,
        pipeline: str,
        step: str | None,
        kind: str,
        key: str,
        *,
        title: str,
        step_run_id: int | None = None,
        partition: str | None = None,
        opened_by: str | None = None,
        affected: dict[str, list[str]] | None = None,
        now: datetime | None = None,
        once_per_partition: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Attach a failure to the open incident of its key, or open one. Returns the
        incident and whether this call opened it. ``once_per_partition``: a partition already
        attached is not counted again (lateness is noticed by every command)."""
        if kind not in INCIDENT_KINDS:
            raise StoreError(f"incident kind must be one of {', '.join(INCIDENT_KINDS)}: {kind!r}")
        claim = open_key(pipeline, step, kind, key)
        now = now or _now()

        def attempt(conn: Any) -> tuple[int, bool]:
            found = conn.execute(select(_I.c.id, _I.c.count).where(_I.c.open_key == claim)).first()
            if found is not None and once_per_partition and partition is not None:
                seen = conn.scalar(
                    select(_IR.c.id).where(
                        _IR.c.incident_id == found.id, _IR.c.partition == partition
                    )
                )
                if seen is not None:
                    return found.id, False
            if found is not None:
                conn.execute(
                    update(_I)
                    .where(_I.c.id == found.id)
                    .values(count=_I.c.count + 1, last_seen=now, passes=0)
                )
                iid, opened = found.id, False
            else:
                iid = conn.scalar(
                    insert(_I)
                    .values(
                        pipeline=pipeline,
                        step=step,
                        kind=kind,
                        key=key,
                        open_key=claim,
                        title=title,
                        status="open",
                        first_seen=now,
                        last_seen=now,
                        count=1,
                        passes=0,
                        opened_by=opened_by,
                        affected=affected,
                    )
                    .returning(_I.c.id)
                )
                opened = True
            conn.execute(
                insert(_IR).values(
                    incident_id=iid, step_run_id=step_run_id, partition=partition, seen_at=now
                )
            )
            return iid, opened

        # a unique open_key lost to another process: the retry attaches to theirs
        iid, opened = self._retrying(attempt)
        return self.get_incident(iid), opened

    def record_pass(
        self,
        incident_id: int,
        *,
        resolve_after: int = 1,
        step_run_id: int | None = None,
        now: datetime | None = None,
        note: str | None = None,
    ) -> dict[str, Any] | None:
        """One more passing production run for a not-resolved incident; resolves it (by
        ``dataops``, with ``note`` or how many runs passed) after ``resolve_after`` in a row.
        Returns the incident if this call resolved it: of two processes counting the same pass
        at once, one resolves it (the update is conditional on what it read)."""
        iid = _as_id(incident_id, "incident id")
        with self._write() as conn:
            r = conn.execute(select(_I.c.passes, _I.c.status).where(_I.c.id == iid)).first()
            if r is None or r.status not in NOT_RESOLVED:
                return None
            passes = r.passes + 1
            values: dict[str, Any] = {"passes": passes}
            resolved = passes >= max(1, resolve_after)
            if resolved:
                values.update(
                    status="resolved",
                    open_key=None,
                    resolved_at=now or _now(),
                    resolved_by="dataops",
                    resolved_note=note or f"passed on {passes} production run(s) in a row",
                    resolved_step_run_id=step_run_id,
                )
            changed = conn.execute(
                update(_I)
                .where(_I.c.id == iid, _I.c.passes == r.passes, _I.c.status.in_(NOT_RESOLVED))
                .values(**values)
            ).rowcount
        return self.get_incident(iid) if resolved and changed else None

    def acknowledge_incident(
        self, incident_id: int | str, *, by: str, note: str | None = None
    ) -> dict[str, Any]:
        """A person says they are on it (an open incident becomes ``acknowledged``)."""
        return self._set_incident(
            incident_id,
            status="acknowledged",
            acknowledged_by=by,
            acknowledged_at=_now(),
            acknowledged_note=note,
        )

    def resolve_incident(
        self, incident_id: int | str, *, by: str, note: str | None = None
    ) -> dict[str, Any]:
        """A person closes the incident; the next failure of its key opens a new one."""
        return self._set_incident(
            incident_id,
            status="resolved",
            open_key=None,
            resolved_by=by,
            resolved_at=_now(),
            resolved_note=note,
        )

    def _set_incident(self, incident_id: int | str, **values: Any) -> dict[str, Any]:
        """A person's change of a not-yet-resolved incident (acknowledge, resolve)."""
        iid = self._not_resolved(incident_id, values["status"])
        with self._write() as conn:
            conn.execute(update(_I).where(_I.c.id == iid).values(**values))
        return self.get_incident(iid)

    def _not_resolved(self, incident_id: int | str, verb: str) -> int:
        iid = _as_id(incident_id, "incident id")
        found = self.get_incident(iid)
        if found is None:
            raise StoreError(
                f"no incident {iid}; `dataops incidents --all` lists them with their ids."
            )
        if found["status"] == "resolved":
            raise StoreError(
                f"incident {iid} is already resolved (by {found['resolved_by']} at "
                f"{found['resolved_at']}); it cannot be {verb} again."
            )
        return iid

    def claim_reminder(
        self, incident_id: int, previous: str | None, now: datetime | None = None
    ) -> bool:
        """Claim the reminder of a still-open incident last reminded at ``previous`` (its
        ``reminded_at`` as read, None: never): True for the one process whose claim changed it,
        so a scheduler and a run's end reminding at once send one reminder."""
        iid = _as_id(incident_id, "incident id")
        last = _I.c.reminded_at.is_(None)
        if previous is not None:
            last = _I.c.reminded_at == datetime.fromisoformat(previous)
        with self._write() as conn:
            changed = conn.execute(
                update(_I)
                .where(_I.c.id == iid, _I.c.status.in_(NOT_RESOLVED), last)
                .values(reminded_at=now or _now())
            ).rowcount
        return changed == 1

    def get_incident(self, incident_id: int | str) -> dict[str, Any] | None:
        """One incident with ``runs``: ``[{step_run_id, partition, seen_at}]``, oldest first,
        and ``partitions`` (distinct, in order)."""
        iid = _as_id(incident_id, "incident id")
        with self._read() as conn:
            r = conn.execute(select(_I).where(_I.c.id == iid)).first()
            if r is None:
                return None
            runs = conn.execute(
                select(_IR.c.step_run_id, _IR.c.partition, _IR.c.seen_at)
                .where(_IR.c.incident_id == iid)
                .order_by(_IR.c.id)
            ).all()
        out = _row(r)
        out["runs"] = [
            {"step_run_id": x.step_run_id, "partition": x.partition, "seen_at": _iso(x.seen_at)}
            for x in runs
        ]
        out["partitions"] = list(dict.fromkeys(x.partition for x in runs if x.partition))
        return out

    def list_incidents(
        self,
        *,
        pipeline: str | None = None,
        step: str | None = None,
        include_resolved: bool = False,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Incidents, newest first (not resolved ones only unless ``include_resolved``), each
        with its runs and partitions."""
        q = select(_I.c.id)
        if pipeline is not None:
            q = q.where(_I.c.pipeline == pipeline)
        if step is not None:
            q = q.where(_I.c.step == step)
        if not include_resolved:
            q = q.where(_I.c.status.in_(NOT_RESOLVED))
        with self._read() as conn:
            ids = conn.scalars(q.order_by(_I.c.id.desc()).limit(limit)).all()
        return [i for i in (self.get_incident(x) for x in ids) if i is not None]

    def incidents_of_step_run(self, step_run_id: int) -> list[dict[str, Any]]:
        """The incidents a step run attached to or resolved, each with ``opened_here`` (this run
        is its first) and ``resolved_here``."""
        srid = _as_id(step_run_id, "step run id")
        with self._read() as conn:
            attached = conn.scalars(
                select(_IR.c.incident_id).where(_IR.c.step_run_id == srid).distinct()
            ).all()
            resolved = conn.scalars(select(_I.c.id).where(_I.c.resolved_step_run_id == srid)).all()
            firsts = dict(
                conn.execute(
                    select(_IR.c.incident_id, func.min(_IR.c.id))
                    .where(_IR.c.incident_id.in_(list(attached) or [0]))
                    .group_by(_IR.c.incident_id)
                ).all()
            )
            first_runs = dict(
                conn.execute(
                    select(_IR.c.id, _IR.c.step_run_id).where(
                        _IR.c.id.in_(list(firsts.values()) or [0])
                    )
                ).all()
            )
        out = []
        for iid in dict.fromkeys([*attached, *resolved]):
            found = self.get_incident(iid)
            if found is None:
                continue
            found["opened_here"] = first_runs.get(firsts.get(iid)) == srid
            found["resolved_here"] = found["resolved_step_run_id"] == srid
            out.append(found)
        return out

    def incident_step_run_ids(self) -> set[int]:
        """The step runs not-resolved incidents point to (retention keeps them)."""
        with self._read() as conn:
            rows = conn.scalars(
                select(_IR.c.step_run_id)
                .join(_I, _I.c.id == _IR.c.incident_id)
                .where(_I.c.status.in_(NOT_RESOLVED), _IR.c.step_run_id.is_not(None))
                .distinct()
            ).all()
        return set(rows)
