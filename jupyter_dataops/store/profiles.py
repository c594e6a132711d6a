"""Column profiles of drift lines: what ``drift(col) ... against last`` compares with.

A ``drift`` line keeps the checked column's profile (quantiles of a number, value counts of a
category; see ``checks.drift``) on its ``CheckResult.profile``; ``record_suite`` stores it
under the step run, and ``last_profile`` reads the one of the previous successful production
run of the step (failed runs, test-mode gate runs and the current run never count).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select

from jupyter_dataops.store.base import StoreBase, _as_id, _field, _successful_production
from jupyter_dataops.store.models import ColumnProfile, utcnow

_P = ColumnProfile.__table__


class ProfilesMixin(StoreBase):
    """``_insert_profiles`` (called by ``record_suite``) writes; ``last_profile`` reads."""

    @staticmethod
    def _insert_profiles(
        conn: Connection, step_id: int, srid: int, suite: str | None, results: Iterable[Any]
    ) -> None:
        seen: dict[str, dict] = {}
        for r in results:
            profile = _field(r, "profile")
            if isinstance(profile, dict) and isinstance(profile.get("column"), str):
                seen[profile["column"]] = profile  # two drift lines on a column: one profile
        if seen:
            now = utcnow()
            conn.execute(
                insert(ColumnProfile),
                [
                    {
                        "step_run_id": srid,
                        "step_id": step_id,
                        "suite": suite,
                        "column": col,
                        "profile": prof,
                        "recorded_at": now,
                    }
                    for col, prof in seen.items()
                ],
            )

    def last_profile(
        self,
        step: str,
        column: str,
        *,
        pipeline: str | None = None,
        exclude_step_run: int | str | None = None,
        with_run: bool = False,
    ) -> dict | None:
        """The profile of ``column`` stored by the newest successful production run of
        ``step`` (other than ``exclude_step_run``), or None. ``with_run``: the profile with the
        id of the step run that stored it, as ``{"profile": ..., "step_run_id": ...}``."""
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return None
        q = (
            select(_P.c.profile, _P.c.step_run_id)
            .where(
                _P.c.step_id.in_(ids),
                _P.c.column == column,
                _successful_production(_P.c.step_run_id),
            )
            .order_by(_P.c.step_run_id.desc(), _P.c.id.desc())
            .limit(1)
        )
        if exclude_step_run is not None:
            q = q.where(_P.c.step_run_id != _as_id(exclude_step_run, "step run id"))
        with self._read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return {"profile": row.profile, "step_run_id": row.step_run_id} if with_run else row.profile
