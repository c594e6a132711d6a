"""Results of running a suite: one ``CheckResult`` per line, gathered in a ``SuiteResult``."""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from jupyter_dataops.checks.display import format_value, rows_text, status_label

#: ``baseline``: an spc line without enough history to be judged (shown as "not judged"); it
#: neither passes nor fails a suite.
STATUSES = ("pass", "warn", "fail", "error", "baseline")
_COLOURS = {
    "pass": ("#1a7f37", "#dafbe1"),
    "warn": ("#9a6700", "#fff8c5"),
    "fail": ("#cf222e", "#ffebe9"),
    "error": ("#8250df", "#fbefff"),
    "baseline": ("#57606a", "#eaeef2"),
}


@dataclass
class CheckResult:
    """The outcome of one line of the spec.

    ``line`` counts the lines of the spec from 1 (in a ``%%dataops_test`` cell: the first line
    after the magic line), as syntax errors do. ``failing_rows`` is a sample (up to 5) of the
    ``failing_count`` offending rows. ``spc`` (spc lines only): ``chart``, ``rules``, ``baseline``,
    ``judged``, ``broken`` (rule names) and the ``center``/``lcl``/``ucl`` of the judged point
    (None when not judged).
    """

    line: int
    source: str
    status: str
    observed: Any = None
    threshold: str = ""
    metric: str | None = None
    message: str = ""
    failing_rows: pl.DataFrame | None = None
    unit: str | None = None
    # Further values recorded with this run, e.g. an spc p/np/u line's sample size "n:KEY".
    extra_metrics: dict[str, float] = field(default_factory=dict)
    failing_count: int | None = None
    spc: dict[str, Any] | None = None
    # A drift line: the checked column's profile, stored for the next run's ``against last``.
    profile: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (failing rows as a list of row dicts)."""
        rows = None
        if self.failing_rows is not None:
            rows = [{k: _jsonable(v) for k, v in r.items()} for r in self.failing_rows.to_dicts()]
        return {
            "line": self.line,
            "source": self.source,
            "status": self.status,
            "observed": _jsonable(self.observed),
            "observed_display": self.observed_text,
            "unit": self.unit,
            "threshold": self.threshold,
            "metric": self.metric,
            "message": self.message,
            "failing_rows": rows,
            "failing_count": self.failing_count,
            "spc": _jsonable(self.spc) if self.spc is not None else None,
        }

    @property
    def observed_text(self) -> str:
        """The observed value as every front door shows it (``format_value``)."""
        return format_value(self.observed, self.unit)

    @property
    def status_text(self) -> str:
        """The status as people read it: ``pass``, ``warn``, ... or ``not judged``."""
        return status_label(self.status)

    @property
    def detail(self) -> str:
        """What the details column shows: the message, except for a plain pass."""
        return "" if self.status == "pass" else self.message

    @property
    def rows_text(self) -> str:
        """``5 of 105 rows`` for the failing-row sample; empty when there is none."""
        if self.failing_rows is None or not self.failing_rows.height:
            return ""
        return rows_text(self.failing_rows.height, self.failing_count)


def format_observed(value: Any, unit: str | None = None) -> str:
    """Observed value for people (kept for callers of old; ``display.format_value``)."""
    return format_value(value, unit)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


@dataclass
class SuiteResult:
    """All results of one run of a suite, in line order."""

    results: list[CheckResult]
    name: str | None = None
    row_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no check failed or errored (warnings and not-judged spc lines allowed)."""
        return not any(r.status in ("fail", "error") for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def metrics(self) -> dict[str, float]:
        """Metric key -> observed value, for every check whose observed value is a number."""
        out: dict[str, float] = {}
        for r in self.results:
            v = r.observed
            if (
                r.metric is not None
                and isinstance(v, (int, float))
                and not isinstance(v, bool)
                and math.isfinite(v)
            ):
                out[r.metric] = float(v)
                out.update(r.extra_metrics)
        return out

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> CheckResult:
        return self.results[i]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "counts": self.counts,
            "metrics": self.metrics,
            "results": [r.to_dict() for r in self.results],
        }

    def to_polars(self) -> pl.DataFrame:
        """One row per check: line, status, metric, observed (as text and as float), threshold."""
        return pl.DataFrame(
            {
                "line": [r.line for r in self.results],
                "status": [r.status for r in self.results],
                "source": [r.source for r in self.results],
                "metric": [r.metric for r in self.results],
                "observed": [_as_float(r.observed) for r in self.results],
                "observed_text": [r.observed_text for r in self.results],
                "threshold": [r.threshold for r in self.results],
                "message": [r.message for r in self.results],
            },
            schema={
                "line": pl.Int64,
                "status": pl.String,
                "source": pl.String,
                "metric": pl.String,
                "observed": pl.Float64,
                "observed_text": pl.String,
                "threshold": pl.String,
                "message": pl.String,
            },
        )

    def _summary(self) -> str:
        c = self.counts
        name = f"{self.name}: " if self.name else ""
        verdict = "PASSED" if self.passed else "FAILED"
        parts = ", ".join(f"{c[s]} {status_label(s)}" for s in STATUSES if c[s])
        return f"{name}{verdict} ({parts or 'no checks'})"

    def __str__(self) -> str:
        head = ("line", "status", "observed", "check", "message")
        rows = [
            (
                str(r.line),
                r.status_text.upper(),
                r.observed_text,
                r.source,
                r.detail + (f" ({r.rows_text} offending)" if r.rows_text else ""),
            )
            for r in self.results
        ]
        widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(head[:4])]
        fmt = "  ".join(f"{{:{w}}}" for w in widths) + "  {}"
        out = [
            self._summary(),
            fmt.format(*head).rstrip(),
            fmt.format(*("-" * w for w in widths), "-" * 7),
        ]
        out += [fmt.format(*row).rstrip() for row in rows]
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<SuiteResult {self._summary()}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        cell = "padding:2px 8px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top"
        rows = []
        for r in self.results:
            fg, bg = _COLOURS[r.status]
            badge = (
                f'<span style="color:{fg};background:{bg};font-weight:600;padding:0 6px;'
                f'border-radius:8px;white-space:nowrap">{esc(r.status_text.upper())}</span>'
            )
            detail = esc(r.detail)
            if r.rows_text:
                detail += (
                    f"<details><summary>{esc(r.rows_text)} offending</summary>"
                    f"{r.failing_rows._repr_html_()}</details>"
                )
            rows.append(
                f'<tr><td style="{cell}">{r.line}</td><td style="{cell}">{badge}</td>'
                f'<td style="{cell};text-align:right;font-family:monospace">{esc(r.observed_text)}</td>'
                f'<td style="{cell};font-family:monospace">{esc(r.threshold)}</td>'
                f'<td style="{cell};font-family:monospace">{esc(r.source)}</td>'
                f'<td style="{cell}">{detail}</td></tr>'
            )
        fg = "#1a7f37" if self.passed else "#cf222e"
        head = "".join(
            f'<th style="{cell}">{h}</th>'
            for h in ("line", "status", "observed", "threshold", "check", "details")
        )
        return (
            f'<div><div style="font-weight:600;color:{fg};margin:4px 0">'
            f"{esc(self._summary())}</div>"
            f'<table style="border-collapse:collapse;font-size:13px"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def _as_float(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return None
