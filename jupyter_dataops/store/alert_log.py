"""The alert log: every alert sent (or that could not be sent) to a channel (table ``alert_log``
in ``models.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from jupyter_dataops.store.base import StoreBase, _iso, _now
from jupyter_dataops.store.models import AlertLog

_AL = AlertLog.__table__


class AlertLogMixin(StoreBase):
    """``record_alert`` writes one delivery; ``list_alerts`` reads them."""

    def record_alert(
        self,
        *,
        pipeline: str,
        event: str,
        channel: str,
        target: str | None,
        status: str,
        attempts: int = 1,
        error: str | None = None,
        step: str | None = None,
        pipeline_run_id: int | None = None,
        step_run_id: int | None = None,
    ) -> int:
        """Log one alert delivery (``status`` ``sent`` or ``failed``); ``target`` has no secrets."""
        with self._write() as conn:
            return conn.scalar(
                insert(_AL)
                .values(
                    pipeline=pipeline,
                    step=step,
                    event=event,
                    channel=channel,
                    target=target,
                    pipeline_run_id=pipeline_run_id,
                    step_run_id=step_run_id,
                    status=status,
                    attempts=attempts,
                    error=error,
                    created_at=_now(),
                )
                .returning(_AL.c.id)
            )

    def list_alerts(self, *, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Alert deliveries, newest first."""
        q = select(_AL)
        if pipeline is not None:
            q = q.where(_AL.c.pipeline == pipeline)
        with self._read() as conn:
            rows = conn.execute(q.order_by(_AL.c.id.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "pipeline": r.pipeline,
                "step": r.step,
                "event": r.event,
                "channel": r.channel,
                "target": r.target,
                "pipeline_run_id": r.pipeline_run_id,
                "step_run_id": r.step_run_id,
                "status": r.status,
                "attempts": r.attempts,
                "error": r.error,
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]
