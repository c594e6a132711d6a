"""The parsed form of a check spec: what each line asks, independent of how it runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Union

from jupyter_dataops.spc.charts import DEFAULT_RULES

Severity = Literal["warn", "fail"]
Value = Union[float, int, dt.datetime, dt.date]  # noqa: UP007 - a runtime alias on 3.10


@dataclass(frozen=True)
class Threshold:
    """A number (or a date/datetime) in a condition, as written and as a value.

    ``unit`` is ``"%"`` for a percent, ``"s"`` for a duration (value in seconds), or ``None``.
    """

    value: Value
    text: str
    unit: str | None = None


@dataclass(frozen=True)
class Condition:
    """``OP THRESHOLD`` or ``[not] between LOW and HIGH``; ``holds(x)`` says whether x meets it."""

    op: str  # one of < <= > >= = != between not_between
    low: Threshold
    high: Threshold | None = None

    def holds(self, x: Value) -> bool:
        a = self.low.value
        if self.op == "<":
            return x < a
        if self.op == "<=":
            return x <= a
        if self.op == ">":
            return x > a
        if self.op == ">=":
            return x >= a
        if self.op == "=":
            return x == a
        if self.op == "!=":
            return x != a
        assert self.high is not None
        inside = a <= x <= self.high.value
        return inside if self.op == "between" else not inside

    @property
    def text(self) -> str:
        if self.op in ("between", "not_between"):
            word = "between" if self.op == "between" else "not between"
            return f"{word} {self.low.text} and {self.high.text}"  # type: ignore[union-attr]
        return f"{self.op} {self.low.text}"


@dataclass(frozen=True)
class ValidRule:
    """The validity rule of an ``invalid_*`` metric: ``valid values|regex|format|range|length``."""

    kind: Literal["values", "regex", "format", "range", "length"]
    values: tuple[str, ...] = ()
    quoted: tuple[bool, ...] = ()
    pattern: str = ""
    low: Threshold | None = None
    high: Threshold | None = None

    @property
    def text(self) -> str:
        if self.kind == "values":
            items = [repr(v) if q else v for v, q in zip(self.values, self.quoted, strict=True)]
            return "valid values [" + ", ".join(items) + "]"
        if self.kind in ("regex", "format"):
            return f"valid {self.kind} {self.pattern}"
        return f"valid {self.kind} {self.low.text} .. {self.high.text}"  # type: ignore[union-attr]


@dataclass(frozen=True)
class Reference:
    """``in FRAME.COLUMN``: the frame is looked up by name in the caller's namespace."""

    frame: str
    column: str

    @property
    def text(self) -> str:
        return f"in {self.frame}.{self.column}"


@dataclass(frozen=True)
class DriftOptions:
    """``psi|ks against last|FRAME`` of a ``drift`` line: the statistic and the reference (the
    previous successful production run's profile, or a frame in the namespace)."""

    method: Literal["psi", "ks"]
    against: str  # "last" or the name of a frame

    @property
    def text(self) -> str:
        return f"{self.method} against {self.against}"


@dataclass(frozen=True)
class SpcOptions:
    """Options of an ``spc METRIC`` line."""

    chart: str = "i"
    rules: str = DEFAULT_RULES
    baseline: int = 20
    rolling: bool = False  # the N newest earlier runs, not the first N, are the baseline
    # weekday | month | hour: one baseline of ``baseline`` points and limits per season
    seasonal: str | None = None

    @property
    def text(self) -> str:
        window = " rolling" if self.rolling else ""
        season = f", seasonal {self.seasonal}" if self.seasonal else ""
        return f"chart {self.chart}, rules {self.rules}{season}, baseline {self.baseline}{window}"


@dataclass
class CheckSpec:
    """One parsed line.

    ``kind`` is ``"metric"`` (a metric with a condition), ``"graded"`` (``warn``/``fail`` triggers),
    ``"columns"``, ``"schema"`` or ``"spc"``.
    """

    line: int
    source: str
    kind: Literal["metric", "graded", "columns", "schema", "spc"]
    metric: str | None = None
    args: tuple = ()
    condition: Condition | None = None
    triggers: dict[str, Condition] = field(default_factory=dict)  # graded: level -> trigger
    severity: Severity = "fail"
    rule: ValidRule | None = None
    reference: Reference | None = None
    drift: DriftOptions | None = None
    columns: tuple[str, ...] = ()
    schema: tuple[tuple[str, str], ...] = ()
    spc: SpcOptions | None = None

    @property
    def metric_call(self) -> str | None:
        """The metric as called, without its config, e.g. ``invalid_count(status)``."""
        if self.metric is None:
            return None
        if self.metric == "row_count":
            return self.metric
        return self.metric + "(" + ", ".join(_fmt_arg(a) for a in self.args) + ")"

    @property
    def metric_key(self) -> str | None:
        """The name this metric's value is recorded under, e.g. ``avg(amount)``; a config
        (validity rule, reference) is part of it, so two rules never share a key."""
        key = self.metric_call
        if key is None:
            return None
        if self.rule is not None:
            key += ": " + self.rule.text
        if self.reference is not None:
            key += ": " + self.reference.text
        if self.drift is not None:
            key += ": " + self.drift.text
        return key

    @property
    def threshold_text(self) -> str:
        if self.kind == "metric" and self.condition is not None:
            return self.condition.text
        if self.kind == "graded":
            return ", ".join(f"{lvl} {c.text}" for lvl, c in self.triggers.items())
        if self.kind == "spc" and self.spc is not None:
            return self.spc.text
        return ""


def _fmt_arg(a: object) -> str:
    if isinstance(a, float):
        return repr(a)
    return str(a)


@dataclass
class Suite:
    """A parsed spec: its checks in line order."""

    checks: list[CheckSpec]
    name: str | None = None
    text: str = ""

    def __iter__(self):
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)
