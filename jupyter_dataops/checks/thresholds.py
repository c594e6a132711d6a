"""Thresholds in the check language: numbers (``10_000``, ``-1.5e3``), percents (``2%``, only
for ``*_percent`` metrics), durations (``30s 15m 24h 7d``, for ``freshness``) and ISO dates or
datetimes (for ``min``/``max`` of date columns), each refused where it does not fit its metric."""

from __future__ import annotations

import datetime as dt
import re

from jupyter_dataops.checks.catalogue import CATALOGUE
from jupyter_dataops.checks.cursor import Line as _Line
from jupyter_dataops.checks.spec import Threshold

NUMBER = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def bound_key(t: Threshold):
    """A bound as a number, so the two bounds of ``between`` and ``valid range`` compare."""
    v = t.value
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).timestamp() if v.tzinfo is None else v.timestamp()
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).timestamp()
    return v


def parse_threshold(cur: _Line, metric_cls, *, free: bool = False) -> Threshold:
    """A number, percent, duration or ISO date; ``free`` skips the metric-unit checks."""
    cur.ws()
    start = cur.pos
    quoted = cur.pos < len(cur.text) and cur.text[cur.pos] in "'\""
    if quoted:
        s = cur.quoted()
        m = DATETIME.fullmatch(s.strip())
        if not m:
            raise cur.error(f"expected a date or datetime in quotes, not {s!r}", start)
        return _temporal(cur, s.strip(), start, metric_cls, free)
    m = DATETIME.match(cur.text, cur.pos)
    if m:
        cur.pos = m.end()
        return _temporal(cur, m.group(), start, metric_cls, free)
    m = NUMBER.match(cur.text, cur.pos)
    if not m or not any(ch.isdigit() for ch in m.group()):
        raise cur.error(f"expected a number here, found {cur._found()}")
    cur.pos = m.end()
    digits = m.group()
    try:
        value: float | int = float(digits.replace("_", ""))
    except ValueError:
        raise cur.error(f"{digits!r} is not a number", start) from None
    if value.is_integer() and not any(c in digits for c in ".eE"):
        value = int(digits.replace("_", ""))
    unit = None
    nxt = cur.text[cur.pos : cur.pos + 1]
    after = cur.text[cur.pos + 1 : cur.pos + 2]
    if nxt == "%":
        unit = "%"
        cur.pos += 1
        if not free and metric_cls.unit != "percent":
            raise cur.error(
                f"'%' is only for percent metrics; {metric_cls.name} is not a percent"
                + (
                    f" (did you mean {metric_cls.name.replace('_count', '_percent')}?)"
                    if metric_cls.name.endswith("_count")
                    and metric_cls.name.replace("_count", "_percent") in CATALOGUE
                    else ""
                ),
                cur.pos - 1,
            )
    elif nxt in DURATION_UNITS and not (after.isalnum() or after == "_"):
        unit = "s"
        cur.pos += 1
        if not free and metric_cls.unit != "seconds":
            raise cur.error(f"a duration is only for freshness, not {metric_cls.name}", start)
        value = value * DURATION_UNITS[nxt]
    elif nxt.isalpha() or nxt == "_":
        raise cur.error(
            f"unexpected {cur._found()} after the number "
            "(units: % for percents; s, m, h, d for durations)",
            cur.pos,
        )
    text = cur.text[start : cur.pos].strip()
    return Threshold(value=value, text=text, unit=unit)


def _temporal(cur: _Line, s: str, start: int, metric_cls, free: bool) -> Threshold:
    try:
        value: dt.date = (
            dt.date.fromisoformat(s)
            if len(s) == 10
            else dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        )
    except ValueError as exc:
        raise cur.error(f"{s!r} is not a valid date: {exc}", start) from None
    if not free and metric_cls.name not in ("min", "max"):
        raise cur.error(f"a date threshold only fits min or max, not {metric_cls.name}", start)
    return Threshold(value=value, text=s)


__all__ = ["DATETIME", "DURATION_UNITS", "NUMBER", "bound_key", "parse_threshold"]
