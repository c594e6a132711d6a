"""One way to show a check's numbers to people, for every front door.

``format_value(value, unit)`` is used by the HTML table, ``str(SuiteResult)``, the CLI tables, the
notebook widgets and the REST answers' display fields; ``unit_of(metric_key)`` recovers the unit
from a stored metric key, for consumers that only have the key and a number. Units are those of
``Metric.unit``: ``count`` (``1,234``), ``percent`` (``1.05%``), ``seconds`` (``1d 0h 34m``,
``7m``) and ``value`` (in the column's own unit, up to 6 significant digits; from a million on,
whole units such as ``1,234,568``; from 1e15 on, ``2.5e+15``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

UNITS = ("count", "percent", "seconds", "value")

#: How each check status reads to people (``baseline``: an spc line still collecting history).
STATUS_LABELS = {
    "pass": "pass",
    "warn": "warn",
    "fail": "fail",
    "error": "error",
    "baseline": "not judged",
}


def status_label(status: str) -> str:
    """A check status as shown to people, e.g. ``baseline`` -> ``not judged``."""
    return STATUS_LABELS.get(status, status)


def unit_of(metric_key: str | None) -> str | None:
    """The unit of a recorded metric key such as ``missing_percent(email)`` or
    ``invalid_count(status): valid values [a, b]``; ``n:KEY`` (an spc sample size) is a count.

    None for no key; ``value`` for a metric the catalogue does not know.
    """
    if not metric_key:
        return None
    if metric_key.startswith("n:"):
        return "count"
    name = metric_key.split("(", 1)[0].split(":", 1)[0].strip()
    from jupyter_dataops.checks.catalogue import lookup

    cls = lookup(name)
    return cls.unit if cls is not None else "value"


def format_value(value: Any, unit: str | None = None) -> str:
    """An observed value (or a threshold) for people: ``1,234``, ``1.05%``, ``1d 0h 34m``, ISO
    dates; an empty string for None."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if unit == "percent":
        return f"{value:.4g}%"
    if unit == "seconds":
        return duration(value)
    if abs(value) >= 1e15:
        return f"{value:.6g}"
    if isinstance(value, int) or (unit == "count" and float(value).is_integer()):
        return f"{int(value):,}"
    if abs(value) >= 1e6:  # a million and more: whole units, grouped (not 1.23457e+06)
        return f"{round(value):,}"
    return f"{value:,.6g}"


def duration(seconds: float) -> str:
    """Seconds as ``45s``, ``7m``, ``7m 30s``, ``3h 12m``, ``1d 0h 34m`` (trailing zero parts
    dropped: ``1d``, ``2h``)."""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.3g}s"
    total = int(round(s))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        parts = [(d, "d"), (h, "h"), (m, "m")]
    elif h:
        parts = [(h, "h"), (m, "m")]
    else:
        parts = [(m, "m"), (sec, "s")]
    while len(parts) > 1 and parts[-1][0] == 0:
        parts.pop()
    return sign + " ".join(f"{n}{u}" for n, u in parts)


def format_threshold(value: Any, text: str, written_unit: str | None, unit: str | None) -> str:
    """A threshold as the observed value is shown: a bare number on a percent, duration or count
    metric is formatted (``2`` -> ``2%``, ``86400`` -> ``1d``, ``10_000`` -> ``10,000``); a value
    written with its unit (``24h``, ``2%``) or a date stays as written."""
    if written_unit is not None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return text
    return format_value(value, unit)


def condition_text(cond: Any, unit: str | None) -> str:
    """``OP THRESHOLD`` / ``[not] between A and B`` of a ``Condition`` with formatted thresholds."""

    def t(th: Any) -> str:
        return format_threshold(th.value, th.text, th.unit, unit)

    if cond.op in ("between", "not_between"):
        word = "between" if cond.op == "between" else "not between"
        return f"{word} {t(cond.low)} and {t(cond.high)}"
    return f"{cond.op} {t(cond.low)}"


def threshold_of(cs: Any, unit: str | None) -> str:
    """The threshold column of a check line (``CheckSpec``), formatted like its observed value."""
    if cs.kind == "metric" and cs.condition is not None:
        return condition_text(cs.condition, unit)
    if cs.kind == "graded":
        return ", ".join(f"{lvl} {condition_text(c, unit)}" for lvl, c in cs.triggers.items())
    return cs.threshold_text


def rows_text(shown: int, total: int | None) -> str:
    """``5 of 105 rows`` (or ``3 rows`` when all are shown)."""
    if total is None or total == shown:
        return f"{shown:,} row" + ("" if shown == 1 else "s")
    return f"{shown:,} of {total:,} rows"


def time_text(iso: str | None) -> str:
    """A stored ISO-8601 UTC time as the CLI shows it, to the second: ``2026-09-01 06:00:00
    UTC`` (another offset is kept as written, without the fraction of a second)."""
    if not iso:
        return ""
    text = str(iso)
    if text.endswith(("+00:00", "Z")) and len(text) >= 19:
        return text[:19].replace("T", " ") + " UTC"
    head, _, offset = text.partition("+")
    return head[:19].replace("T", " ") + (f" +{offset}" if offset else "")


def parameters_text(parameters: dict[str, Any] | None, *, skip: tuple[str, ...] = ()) -> str:
    """A run's parameters in one line, as the CLI, alerts and the panel show them:
    ``day=2026-09-01, n_rows=50`` (a string with a space, comma or quote is quoted; a float
    to 6 significant digits). ``skip``: names shown elsewhere (e.g. the partition's)."""
    parts = []
    for name, value in (parameters or {}).items():
        if name in skip:
            continue
        if isinstance(value, str):
            text = repr(value) if not value or any(c in value for c in " ,'\"=") else value
        elif value is None or isinstance(value, int):  # bool is an int
            text = str(value)
        elif isinstance(value, float):
            text = f"{value:.6g}"  # as format_value rounds, without its thousands commas
        else:
            text = repr(value)
        parts.append(f"{name}={text}")
    return ", ".join(parts)
