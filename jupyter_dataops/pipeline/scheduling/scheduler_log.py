"""The scheduler's structured log: one JSON object per line on stderr, written by the service
(``scheduler``) and by each scheduled run's child process (``scheduled_run``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("jupyter_dataops.scheduler")


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, event and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        return json.dumps(out, default=str)


def setup_logging(stream: Any = None) -> None:
    """Structured log lines on stderr for ``jupyter_dataops`` loggers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger("jupyter_dataops")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def log_event(level: int, event: str, **fields: Any) -> None:
    """One line of the scheduler's log: ``event`` with its ``fields``."""
    log.log(level, event, extra={"fields": fields})
