"""Column profiles of drift lines: what ``drift(col) ... against last`` compares with.

A ``drift`` line keeps the checked column's profile (quantiles of a number, value counts of a
category; see ``checks.drift``) on its ``CheckResult.profile``; ``record_suite`` stores it
under the step run, and ``last_profile`` reads the one of the previous successful production
run of the step (failed runs, test-mode gate runs and the current run never count).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, Index, Integer, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from jupyter_dataops.store.base import _SR, StoreBase, _as_id, _field
from jupyter_dataops.store.models import Base, JSONType, UTCDateTime, utcnow


class ColumnProfile(Base):
    """The profile of one checked column in one step run (a drift line's reference)."""

    __tablename__ = "column_profiles"
    __table_args__ = (Index(None, "step_id", "column", "step_run_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    suite: Mapped[str | None] = mapped_column(String(200))
    column: Mapped[str] = mapped_column(String(300))
    profile: Mapped[dict] = mapped_column(JSONType())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
    ) -> dict | None:
        """The profile of ``column`` stored by the newest successful production run of
        ``step`` (other than ``exclude_step_run``), or None."""
        ids = self._resolve_steps(step, pipeline)
        if not ids:
            return None
        q = (
            select(_P.c.profile)
            .join(_SR, _SR.c.id == _P.c.step_run_id)
            .where(
                _P.c.step_id.in_(ids),
                _P.c.column == column,
                _SR.c.status == "success",
                _SR.c.mode == "production",
            )
            .order_by(_P.c.step_run_id.desc(), _P.c.id.desc())
            .limit(1)
        )
        if exclude_step_run is not None:
            q = q.where(_P.c.step_run_id != _as_id(exclude_step_run, "step run id"))
        with self._read() as conn:
            return conn.scalars(q).first()
