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

import difflib
import re

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks.catalogue import CATALOGUE
from jupyter_dataops.checks.cursor import IDENT as _IDENT
from jupyter_dataops.checks.cursor import Line as _Line
from jupyter_dataops.checks.dtypes import DTYPE_ALIASES
from jupyter_dataops.checks.line_config import CONFIG_NEEDS, parse_config
from jupyter_dataops.checks.spc_options import (
    CHARTS,
    DEFAULT_BASELINE,
    RULE_SETS,
    parse_spc_options,
)
from jupyter_dataops.checks.spec import CheckSpec, Condition, SpcOptions, Suite
from jupyter_dataops.checks.thresholds import NUMBER, bound_key, parse_threshold

_OPS = ("<=", ">=", "!=", "<", ">", "=", "==")


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
        parse_config(cur, spec, metric_cls)
    elif metric_cls.config is not None:
        need = CONFIG_NEEDS.get(metric_cls.config, "a reference")
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
        m = NUMBER.match(cur.text, p)
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
        low = parse_threshold(cur, metric_cls)
        if not cur.keyword("and"):
            raise cur.error("expected 'and' here: between A and B")
        high = parse_threshold(cur, metric_cls)
        if bound_key(low) > bound_key(high):
            raise cur.error(
                f"between {low.text} and {high.text}: the first bound must be the lower", start
            )
        return Condition("not_between" if negate else "between", low, high)
    if negate:
        raise cur.error("expected 'between' after 'not'")
    for op in _OPS:
        if cur.text.startswith(op, cur.pos):
            cur.pos += len(op)
            return Condition("=" if op == "==" else op, parse_threshold(cur, metric_cls))
    raise cur.error(f"expected a comparison (< <= > >= = != between) here, found {cur._found()}")


def _parse_config_or_spc(cur: _Line, spec: CheckSpec) -> None:
    """After ``spc METRIC:`` comes the metric's own config (if it needs one) then options."""
    metric_cls = CATALOGUE[spec.metric]  # type: ignore[index]
    if metric_cls.config is not None:
        parse_config(cur, spec, metric_cls)
        if not cur.take(":"):
            return
    spec.spc = parse_spc_options(cur, spec.metric or "")


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


# the options of an spc line, kept importable from here
__all__ = ["CHARTS", "DEFAULT_BASELINE", "RULE_SETS", "parse_spec"]
