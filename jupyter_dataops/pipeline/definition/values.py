"""Values of ``dataops.yaml`` keys: durations, cron schedules, name lists, plain numbers.

Pure functions (no file, no YAML parser) that ``spec`` uses to validate and write the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


def plain(value: Any) -> Any:
    """ruamel's round-trip types as plain Python values (dict, list, int, float, str, bool)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def parse_duration(value: Any) -> float:
    """Seconds from a number or a text such as ``90``, ``"30s"``, ``"5m"``, ``"1h30m"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a true/false value")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION.match(text)
            if not match or not any(match.groups()):
                raise ValueError(
                    f"expected seconds or a duration like '30s', '5m', '1h30m', got {value!r}"
                ) from None
            h, m, s = (float(g) if g else 0.0 for g in match.groups())
            seconds = h * 3600 + m * 60 + s
    else:
        raise ValueError(f"expected seconds or a duration like '30s', '5m', got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a duration of 0 seconds or more, got {value!r}")
    return seconds


def validate_schedule(expr: str) -> str:
    """A cron expression checked by croniter; raises ``ValueError`` saying what is wrong."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"expected a cron expression such as '0 6 * * *', got {expr!r}")
    from croniter import croniter  # only files with a schedule pay for importing it

    if not croniter.is_valid(expr.strip()):
        raise ValueError(
            f"{expr!r} is not a valid cron expression. Use five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 6 * * *' (every day at 06:00)."
        )
    return expr.strip()


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    raise ValueError(f"expected {what} as a list of names, got {plain(value)!r}")


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
