"""Small HTML formatting helpers shared by the history and chart widgets."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from jupyter_dataops.checks.display import duration as format_duration
from jupyter_dataops.checks.display import format_value, status_label, unit_of
from jupyter_dataops.errors import DataOpsError

#: What a store query may raise; widgets show it in place instead of failing the click silently
#: (a widget callback's exception only reaches Lab's log console).
STORE_ERRORS = (DataOpsError, SQLAlchemyError)

STATUS_COLOURS = {
    "success": "#2e7d32",
    "pass": "#2e7d32",
    "failed": "#c62828",
    "fail": "#c62828",
    "error": "#6a1b9a",
    "warn": "#ef6c00",
    "interrupted": "#ef6c00",
    "running": "#1565c0",
    "queued": "#757575",
    "skipped": "#757575",
    "baseline": "#455a64",  # an spc line not judged yet ("not judged"), not a pass
}


def esc(value: Any) -> str:
    """HTML-escape any value (``None`` becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def badge(status: str | None) -> str:
    """A coloured pill naming ``status`` (run or check status; ``baseline`` reads
    "not judged")."""
    status = status or "unknown"
    colour = STATUS_COLOURS.get(status, "#757575")
    return (
        f'<span class="dataops-status dataops-status-{esc(status)}" '
        f'style="background:{colour};color:white;border-radius:8px;padding:1px 7px;'
        f'font-size:0.9em;white-space:nowrap">{esc(status_label(status))}</span>'
    )


def when(iso: str | None) -> str:
    """An ISO-8601 timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC), or an em dash when absent."""
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    suffix = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + suffix


def duration(seconds: float | None) -> str:
    """Seconds as every front door shows them (``checks.display.duration``: ``12.3s``,
    ``4m 5s``, ``2h 3m``); an em dash when absent."""
    return "—" if seconds is None else format_duration(seconds)


def number(value: Any, unit: str | None = None) -> str:
    """A number as every front door shows it (``checks.display.format_value``); an em dash
    when absent. Integral floats read as integers (a stored count comes back as 1234.0)."""
    if value is None:
        return "—"
    if unit is None and isinstance(value, float) and value.is_integer():
        unit = "count"
    return format_value(value, unit)


def observed(check: dict[str, Any]) -> str:
    """A stored check row's observed value in its metric's unit (``1.05%``, ``1d 0h 34m``)."""
    return number(check.get("observed"), unit_of(check.get("metric")))


def check_counts(checks: dict[str, int] | None) -> str:
    """``✓ passed  ⚠ warned  ✗ failed`` counts of a run's checks (errors count as failed), and
    ``○ not judged`` spc lines when there are any."""
    checks = checks or {}
    passed = int(checks.get("pass", 0))
    warned = int(checks.get("warn", 0))
    failed = int(checks.get("fail", 0)) + int(checks.get("error", 0))
    unjudged = int(checks.get("baseline", 0))
    if not (passed or warned or failed or unjudged):
        return '<span style="color:#757575" title="no checks recorded">—</span>'
    parts = [
        ("pass", "✓", passed, f"{passed} passed"),
        ("warn", "⚠", warned, f"{warned} warned"),
        ("fail", "✗", failed, f"{failed} failed"),
    ]
    if unjudged:
        parts.append(("baseline", "○", unjudged, f"{unjudged} not judged (collecting baseline)"))
    return " ".join(
        f'<span class="dataops-count-{key}" title="{title}" '
        f'style="color:{STATUS_COLOURS[key] if n else "#9e9e9e"};margin-right:6px">'
        f"{mark} {n}</span>"
        for key, mark, n, title in parts
    )


def value_text(value: Any) -> str:
    """A parameter value as short text (JSON for containers)."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def display_data(html_text: str, plain: str) -> dict[str, Any]:
    """An output (nbformat ``display_data``) holding ``html_text``, for ``Output.outputs``."""
    return {
        "output_type": "display_data",
        "data": {"text/html": html_text, "text/plain": plain},
        "metadata": {},
    }
