"""The check language: one check per line, parsed into a ``Suite`` before anything runs.

Grammar of a line (``#`` starts a comment, blank lines are ignored)::

    [warn: | fail: ] METRIC OP THRESHOLD [: CONFIG]          # the condition must hold
    METRIC: warn OP A, fail OP B [: CONFIG]                  # graded: conditions are triggers
    columns: NAME, NAME, ...
    schema: NAME DTYPE, NAME DTYPE, ...
    [warn: | fail: ] spc METRIC [: chart C, rules R, seasonal weekday|month|hour,
                                   baseline N [rolling]]

OP is ``< <= > >= = !=`` or ``[not] between A and B``. Thresholds are numbers (``10_000``,
``-1.5e3``), percents (``2%``, only for ``*_percent`` metrics), durations (``30s 15m 24h 7d``,
for ``freshness``) or ISO dates/datetimes (for ``min``/``max`` of date columns). CONFIG is
``valid values [a, b]``, ``valid regex PATTERN`` (to the end of the line: no trailing comment),
``valid format NAME``, ``valid range A .. B``, ``valid length A .. B`` (``invalid_*`` metrics) or
``in FRAME.COLUMN`` (``reference_missing_count``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

import polars as pl

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks.catalogue import CATALOGUE
from jupyter_dataops.checks.cursor import IDENT as _IDENT
from jupyter_dataops.checks.cursor import Line as _Line
from jupyter_dataops.checks.dtypes import DTYPE_ALIASES
from jupyter_dataops.checks.formats import FORMATS
from jupyter_dataops.checks.spc_check import chart_misfit
from jupyter_dataops.checks.spec import (
    CheckSpec,
    Condition,
    DriftOptions,
    Reference,
    SpcOptions,
    Suite,
    Threshold,
    ValidRule,
)
from jupyter_dataops.spc.charts import CHART_TYPES, RULE_CHARTS
from jupyter_dataops.spc.rules import RULE_SETS as _SPC_RULE_SETS
from jupyter_dataops.spc.seasonal import SEASONS

CHARTS = CHART_TYPES  # the spc room names them, once
# Charts that need more than one value per run; refused with a reason rather than faked.
_NOT_FOR_METRICS = {
    "xbar": "xbar, r and s charts need subgroups, but a metric gives one value per run",
    "r": "xbar, r and s charts need subgroups, but a metric gives one value per run",
    "s": "xbar, r and s charts need subgroups, but a metric gives one value per run",
}
RULE_SETS = tuple(_SPC_RULE_SETS)
DEFAULT_BASELINE = 20

_NAME = re.compile(r"[^\W\d][\w.]*")
_OPS = ("<=", ">=", "!=", "<", ">", "=", "==")
_NUMBER = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _keywords() -> list[str]:
    return [*CATALOGUE, "columns", "schema", "spc", "warn", "fail"]


def parse_spec(text: str, *, name: str | None = None, source_name: str | None = None) -> Suite:
    """Parse a check spec into a ``Suite``; raise ``DataOpsSyntaxError`` on the first bad line."""
    if not isinstance(text, str):
        raise TypeError(f"a check spec is text, not {type(text).__name__}")
    checks = []
    for i, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        checks.append(_parse_line(_Line(raw, i, source_name)))
    return Suite(checks=checks, name=name, text=text)


def _parse_line(cur: _Line) -> CheckSpec:
    source = cur.text.strip()
    severity = "fail"
    explicit = False
    save = cur.pos
    lvl = cur.keyword("warn", "fail")
    if lvl and cur.take(":"):
        severity, explicit = lvl, True
    else:
        cur.pos = save
    save = cur.pos
    head = cur.keyword("columns", "schema")
    if head and cur.take(":"):
        spec = _parse_columns(cur, source, head)
        spec.severity = severity  # type: ignore[assignment]
        return spec
    cur.pos = save
    if cur.keyword("spc") and not cur.peek("("):
        # An spc signal warns unless the line says fail:
        spec = CheckSpec(
            line=cur.n, source=source, kind="spc", severity=severity if explicit else "warn"
        )
        _parse_metric(cur, spec)
        if cur.take(":"):
            _parse_config_or_spc(cur, spec)
        elif CATALOGUE[spec.metric].config is not None:  # type: ignore[index]
            raise cur.error(
                f"{spec.metric} needs its rule after ':', e.g. "
                f"spc {CATALOGUE[spec.metric].example.split(' ')[0]}: "  # type: ignore[index]
                f"{CATALOGUE[spec.metric].example.split(': ', 1)[1]}"
            )  # type: ignore[index]
        spec.spc = spec.spc or SpcOptions()
        cur.end()
        return spec
    cur.pos = save
    spec = CheckSpec(line=cur.n, source=source, kind="metric", severity=severity)
    metric_cls = _parse_metric(cur, spec)
    op_pos = cur.pos
    cur.ws()
    if cur.take(":"):
        if cur.keyword("warn", "fail") is None:
            raise cur.error(
                "expected a condition (e.g. '< 5') before ':', or 'warn > A, fail > B' after it",
                op_pos,
            )
        cur.pos = op_pos
        cur.take(":")
        if explicit:
            raise cur.error(
                f"a graded check sets its own levels; drop the leading '{severity}:'", 0
            )
        spec.kind = "graded"
        while True:
            lvl_pos = cur.pos
            lvl = cur.keyword("warn", "fail")
            if lvl is None:
                raise cur.error("expected 'warn' or 'fail' here")
            if lvl in spec.triggers:
                raise cur.error(f"'{lvl}' is given twice", lvl_pos)
            spec.triggers[lvl] = _parse_condition(cur, metric_cls)
            if not cur.take(","):
                break
    else:
        spec.condition = _parse_condition(cur, metric_cls)
    if cur.take(":"):
        _parse_config(cur, spec, metric_cls)
    elif metric_cls.config is not None:
        need = _CONFIG_NEEDS.get(metric_cls.config, "a reference")
        raise cur.error(f"{spec.metric} needs {need} after ':', e.g. {metric_cls.example}")
    cur.end()
    return spec


def _parse_metric(cur: _Line, spec: CheckSpec):
    cur.ws()
    start = cur.pos
    name = cur.word(_IDENT)
    if name is None:
        raise cur.error(f"expected a metric name here, found {cur._found()}", hint=_metric_hint(""))
    cls = CATALOGUE.get(name.lower(), None)
    if cls is None:
        raise cur.error(f"unknown metric {name!r}", start, hint=_metric_hint(name))
    spec.metric = cls.name
    if cls.signature == "":
        if cur.take("("):
            cur.expect(")", "')' (row_count takes no column)")
        return cls
    if not cur.take("("):
        raise cur.error(
            f"{cls.name} needs its column in parentheses, e.g. {cls.example.split(' ')[0]}"
        )
    if cls.signature == "condition":
        spec.args = (_parse_condition_text(cur),)
        return cls
    args: list = [cur.column_name()]
    if cls.signature == "columns":
        while cur.take(","):
            args.append(cur.column_name())
    elif cls.signature == "column, fraction":
        cur.expect(",", "',' and a fraction between 0 and 1, e.g. percentile(amount, 0.95)")
        cur.ws()
        p = cur.pos
        m = _NUMBER.match(cur.text, p)
        if not m:
            raise cur.error("expected a fraction between 0 and 1 here, e.g. 0.95")
        q = float(m.group().replace("_", ""))
        if not 0 <= q <= 1:
            raise cur.error(
                f"the fraction must be between 0 and 1 (0.95 is the 95th percentile), not {m.group()}",
                p,
            )
        cur.pos = m.end()
        args.append(q)
    if cur.peek(","):
        raise cur.error(f"{cls.name} takes one column")
    cur.expect(")", "')'")
    spec.args = tuple(args)
    return cls


def _parse_condition_text(cur: _Line) -> str:
    """The condition of failed_rows(...): up to the matching ')' outside quotes, parsed once
    (``checks.conditions``) so a condition no backend can run is refused here, where it is."""
    start = cur.pos
    depth, i, quote = 0, cur.pos, None
    while i < len(cur.text):
        ch = cur.text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        i += 1
    else:
        raise cur.error("this '(' is never closed", start - 1)
    cond = cur.text[start:i].strip()
    if not cond:
        raise cur.error("failed_rows needs a condition, e.g. failed_rows(shipped_at < created_at)")
    lead = len(cur.text[start:i]) - len(cur.text[start:i].lstrip())
    try:
        conditions.parse(cond)
    except conditions.ConditionError as exc:
        raise cur.error(exc.message, start + lead + exc.offset) from None
    cur.pos = i + 1
    return cond


def _metric_hint(name: str) -> str:
    near = difflib.get_close_matches(name.lower(), _keywords(), n=1, cutoff=0.6)
    if near:
        return f"did you mean {near[0]!r}?"
    return "metrics: " + ", ".join(CATALOGUE)


def _parse_condition(cur: _Line, metric_cls) -> Condition:
    cur.ws()
    start = cur.pos
    negate = bool(cur.keyword("not"))
    if cur.keyword("between"):
        low = _parse_threshold(cur, metric_cls)
        if not cur.keyword("and"):
            raise cur.error("expected 'and' here: between A and B")
        high = _parse_threshold(cur, metric_cls)
        if _cmp_key(low) > _cmp_key(high):
            raise cur.error(
                f"between {low.text} and {high.text}: the first bound must be the lower", start
            )
        return Condition("not_between" if negate else "between", low, high)
    if negate:
        raise cur.error("expected 'between' after 'not'")
    for op in _OPS:
        if cur.text.startswith(op, cur.pos):
            cur.pos += len(op)
            return Condition("=" if op == "==" else op, _parse_threshold(cur, metric_cls))
    raise cur.error(f"expected a comparison (< <= > >= = != between) here, found {cur._found()}")


def _cmp_key(t: Threshold):
    v = t.value
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).timestamp() if v.tzinfo is None else v.timestamp()
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).timestamp()
    return v


def _parse_threshold(cur: _Line, metric_cls, *, free: bool = False) -> Threshold:
    """A number, percent, duration or ISO date; ``free`` skips the metric-unit checks."""
    cur.ws()
    start = cur.pos
    quoted = cur.pos < len(cur.text) and cur.text[cur.pos] in "'\""
    if quoted:
        s = cur.quoted()
        m = _DATETIME.fullmatch(s.strip())
        if not m:
            raise cur.error(f"expected a date or datetime in quotes, not {s!r}", start)
        return _temporal(cur, s.strip(), start, metric_cls, free)
    m = _DATETIME.match(cur.text, cur.pos)
    if m:
        cur.pos = m.end()
        return _temporal(cur, m.group(), start, metric_cls, free)
    m = _NUMBER.match(cur.text, cur.pos)
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
    elif nxt in _DURATION_UNITS and not (after.isalnum() or after == "_"):
        unit = "s"
        cur.pos += 1
        if not free and metric_cls.unit != "seconds":
            raise cur.error(f"a duration is only for freshness, not {metric_cls.name}", start)
        value = value * _DURATION_UNITS[nxt]
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


def _parse_config(cur: _Line, spec: CheckSpec, metric_cls) -> None:
    cur.ws()
    start = cur.pos
    if metric_cls.config is None:
        raise cur.error(f"{spec.metric} takes nothing after its condition", start)
    if metric_cls.config == "valid":
        spec.rule = _parse_rule(cur)
    elif metric_cls.config == "drift":
        spec.drift = _parse_drift(cur)
    else:
        spec.reference = _parse_reference(cur)


_CONFIG_NEEDS = {
    "valid": "a validity rule",
    "in": "a reference",
    "drift": "a statistic and what to compare with",
}


def _parse_drift(cur: _Line) -> DriftOptions:
    """``psi|ks against last|FRAME``."""
    cur.ws()
    method = cur.keyword("psi", "ks")
    if method is None:
        raise cur.error("expected 'psi' or 'ks' here, e.g. drift(amount) < 0.2: psi against last")
    if not cur.keyword("against"):
        raise cur.error(
            f"expected 'against last' or 'against FRAME' here, e.g. {method} against last"
        )
    cur.ws()
    p = cur.pos
    name = cur.word(_IDENT)
    if name is None:
        raise cur.error(
            "expected 'last' (the previous successful production run) or the name of a "
            "reference frame here",
            p,
        )
    return DriftOptions(method=method, against="last" if name.lower() == "last" else name)  # type: ignore[arg-type]


def _parse_config_or_spc(cur: _Line, spec: CheckSpec) -> None:
    """After ``spc METRIC:`` comes the metric's own config (if it needs one) then options."""
    metric_cls = CATALOGUE[spec.metric]  # type: ignore[index]
    if metric_cls.config is not None:
        _parse_config(cur, spec, metric_cls)
        if not cur.take(":"):
            return
    spec.spc = _parse_spc_options(cur, spec.metric or "")


def _parse_rule(cur: _Line) -> ValidRule:
    cur.ws()
    if not cur.keyword("valid"):
        raise cur.error("expected a validity rule here, e.g. 'valid values [a, b]'")
    kind_pos = cur.pos
    kind = cur.keyword("values", "regex", "format", "range", "length")
    if kind is None:
        cur.ws()
        got = cur.word() or ""
        near = difflib.get_close_matches(got, ["values", "regex", "format", "range", "length"], n=1)
        raise cur.error(
            "expected values, regex, format, range or length after 'valid'",
            kind_pos + 1,
            hint=f"did you mean {near[0]!r}?" if near else None,
        )
    if kind == "regex":
        cur.ws()
        pattern = cur.text[cur.pos :].rstrip()
        if not pattern:
            raise cur.error("valid regex needs a pattern")
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except Exception as exc:
            lines = [ln.strip() for ln in str(exc).splitlines()]
            why = next(
                (ln[len("error:") :].strip() for ln in lines if ln.startswith("error:")),
                lines[0] if lines else type(exc).__name__,
            )
            raise cur.error(f"the regex does not compile: {why}") from None
        cur.pos = len(cur.text)
        return ValidRule(kind="regex", pattern=pattern)
    if kind == "format":
        cur.ws()
        p = cur.pos
        name = cur.word(_IDENT)
        if name not in FORMATS:
            near = difflib.get_close_matches(name or "", FORMATS, n=1)
            raise cur.error(
                f"unknown format {name!r}; formats: {', '.join(FORMATS)}",
                p,
                hint=f"did you mean {near[0]!r}?" if near else None,
            )
        return ValidRule(kind="format", pattern=name)
    if kind == "values":
        return _parse_values(cur)
    low = _parse_threshold(cur, None, free=True)
    if not cur.take(".."):
        raise cur.error(f"expected '..' here: valid {kind} A .. B")
    high = _parse_threshold(cur, None, free=True)
    if _cmp_key(low) > _cmp_key(high):
        raise cur.error(
            f"valid {kind} {low.text} .. {high.text}: the first bound must be the lower", kind_pos
        )
    if kind == "length" and not all(
        isinstance(t.value, int) and t.value >= 0 and t.unit is None for t in (low, high)
    ):
        raise cur.error("valid length takes whole numbers of characters, e.g. 3 .. 8", kind_pos)
    if any(t.unit for t in (low, high)):
        raise cur.error(f"valid {kind} takes plain numbers or dates, without units", kind_pos)
    return ValidRule(kind=kind, low=low, high=high)  # type: ignore[arg-type]


def _parse_values(cur: _Line) -> ValidRule:
    cur.expect("[", "'[' opening the list of values")
    values: list[str] = []
    quoted: list[bool] = []
    while True:
        cur.ws()
        if cur.pos < len(cur.text) and cur.text[cur.pos] in "'\"":
            values.append(cur.quoted())
            quoted.append(True)
        else:
            start = cur.pos
            while cur.pos < len(cur.text) and cur.text[cur.pos] not in ",]":
                cur.pos += 1
            item = cur.text[start : cur.pos].strip()
            if not item:
                if cur.pos >= len(cur.text):
                    raise cur.error("the list of values is never closed with ']'")
                raise cur.error("expected a value here")
            values.append(item)
            quoted.append(False)
        if cur.take("]"):
            break
        if not cur.take(","):
            raise cur.error("expected ',' or ']' here")
    return ValidRule(kind="values", values=tuple(values), quoted=tuple(quoted))


def _parse_reference(cur: _Line) -> Reference:
    if not cur.keyword("in"):
        raise cur.error("expected 'in FRAME.COLUMN' here, e.g. in customers.customer_id")
    frame = cur.word(_IDENT)
    if frame is None:
        raise cur.error("expected the name of a frame here, e.g. in customers.customer_id")
    if not cur.text.startswith(".", cur.pos):
        raise cur.error(f"expected '.COLUMN' after {frame!r}, e.g. in {frame}.customer_id")
    cur.pos += 1
    column = cur.column_name()
    return Reference(frame=frame, column=column)


def _parse_spc_options(cur: _Line, metric: str) -> SpcOptions:
    opts: dict = {}
    chart_pos = season_pos = 0
    while True:
        cur.ws()
        p = cur.pos
        key = cur.keyword("chart", "rules", "baseline", "seasonal")
        if key is None:
            raise cur.error("expected 'chart', 'rules', 'seasonal' or 'baseline' here")
        if key in opts:
            raise cur.error(f"{key!r} is given twice", p)
        cur.ws()
        vp = cur.pos
        if key == "baseline":
            m = re.compile(r"\d[\d_]*").match(cur.text, vp)
            if not m or int(m.group().replace("_", "")) < 2:
                raise cur.error(
                    "baseline takes a whole number of runs, at least 2, e.g. baseline 20"
                )
            cur.pos = m.end()
            opts[key] = int(m.group().replace("_", ""))
            cur.ws()
            rp = cur.pos
            if cur.word(_IDENT) == "rolling":
                opts["rolling"] = True
            else:
                cur.pos = rp
        elif key == "seasonal":
            val = cur.word(_IDENT)
            if val is None or val.lower() not in SEASONS:
                near = difflib.get_close_matches((val or "").lower(), SEASONS, n=1)
                raise cur.error(
                    f"seasonal takes one of {', '.join(SEASONS)} (a baseline per day of the "
                    "week, month of the year or hour of the day)",
                    vp,
                    hint=f"did you mean {near[0]!r}?" if near else None,
                )
            opts[key] = val.lower()
            season_pos = p
        else:
            choices = CHARTS if key == "chart" else RULE_SETS
            val = cur.word(_IDENT)
            if key == "chart" and val and val.lower() in _NOT_FOR_METRICS:
                raise cur.error(
                    f"{_NOT_FOR_METRICS[val.lower()]}; use chart i (individuals), "
                    "c (counts), p or np (percent metrics), u (count metrics), ewma or cusum",
                    vp,
                )
            chart_pos = vp
            if val is None or val.lower() not in choices:
                near = difflib.get_close_matches((val or "").lower(), choices, n=1)
                raise cur.error(
                    f"{key} must be one of {', '.join(choices)}",
                    vp,
                    hint=f"did you mean {near[0]!r}?" if near else None,
                )
            opts[key] = val.lower()
        if not cur.take(","):
            break
    misfit = chart_misfit(opts.get("chart", ""), metric)
    if misfit:
        raise cur.error(misfit, chart_pos)
    if opts.get("rolling") and opts.get("chart", SpcOptions.chart) not in RULE_CHARTS:
        raise cur.error(
            "a rolling baseline works with the Shewhart charts (i, mr, c, p, np, u); "
            f"{opts['chart']} carries its own memory: drop 'rolling'",
            chart_pos,
        )
    if opts.get("seasonal") and opts.get("chart", SpcOptions.chart) != "i":
        raise cur.error(
            f"seasonal limits work with chart i (individuals); chart {opts['chart']} keeps one "
            "baseline: drop 'chart' or 'seasonal'",
            season_pos,
        )
    if opts.get("seasonal") and opts.get("rolling"):
        raise cur.error("a seasonal baseline is frozen per season: drop 'rolling'", season_pos)
    if "rules" in opts and opts.get("chart", SpcOptions.chart) not in RULE_CHARTS:
        raise cur.error(
            f"run rules apply to the i, mr, c, p, np and u charts; {opts['chart']} has its own "
            "signal: drop 'rules'"
        )
    return SpcOptions(**opts)


def _parse_columns(cur: _Line, source: str, head: str) -> CheckSpec:
    spec = CheckSpec(line=cur.n, source=source, kind=head)  # type: ignore[arg-type]
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    while True:
        name = cur.column_name()
        if head == "schema":
            cur.ws()
            p = cur.pos
            m = re.compile(r"[A-Za-z]\w*(?:\[[^\]]*\]|\([^)]*\))?").match(cur.text, p)
            if not m:
                raise cur.error(f"expected a dtype after {name!r}, e.g. {name} Int64")
            cur.pos = m.end()
            dtype = m.group()
            base = re.match(r"[A-Za-z]\w*", dtype).group()  # type: ignore[union-attr]
            if base.lower() not in DTYPE_ALIASES and base not in DTYPE_ALIASES.values():
                near = difflib.get_close_matches(base, list(DTYPE_ALIASES.values()), n=1)
                raise cur.error(
                    f"unknown dtype {dtype!r}",
                    p,
                    hint=f"did you mean {near[0]!r}?" if near else None,
                )
            pairs.append((name, dtype))
        else:
            names.append(name)
        if not cur.take(","):
            break
    cur.end()
    if head == "schema":
        spec.schema = tuple(pairs)
    else:
        spec.columns = tuple(names)
    return spec
