"""What follows a check's ``:`` in the check language: a validity rule (``valid values [a, b]``,
``valid regex PATTERN`` to the end of the line, ``valid format NAME``, ``valid range A .. B``,
``valid length A .. B``) for the ``invalid_*`` metrics, ``in FRAME.COLUMN`` for
``reference_missing_count``, and ``psi|ks against last|FRAME`` for ``drift``."""

from __future__ import annotations

import difflib

import polars as pl

from jupyter_dataops.checks.cursor import IDENT as _IDENT
from jupyter_dataops.checks.cursor import Line as _Line
from jupyter_dataops.checks.formats import FORMATS
from jupyter_dataops.checks.spec import CheckSpec, DriftOptions, Reference, ValidRule
from jupyter_dataops.checks.thresholds import bound_key, parse_threshold


def parse_config(cur: _Line, spec: CheckSpec, metric_cls) -> None:
    """What the metric takes after its condition's ``:`` (its ``config``), set on ``spec``."""
    cur.ws()
    start = cur.pos
    if metric_cls.config is None:
        raise cur.error(f"{spec.metric} takes nothing after its condition", start)
    if metric_cls.config == "valid":
        spec.rule = parse_rule(cur)
    elif metric_cls.config == "drift":
        spec.drift = parse_drift(cur)
    else:
        spec.reference = parse_reference(cur)


CONFIG_NEEDS = {
    "valid": "a validity rule",
    "in": "a reference",
    "drift": "a statistic and what to compare with",
}


def parse_drift(cur: _Line) -> DriftOptions:
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


def parse_rule(cur: _Line) -> ValidRule:
    """``valid values|regex|format|range|length ...``."""
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
        return parse_values(cur)
    low = parse_threshold(cur, None, free=True)
    if not cur.take(".."):
        raise cur.error(f"expected '..' here: valid {kind} A .. B")
    high = parse_threshold(cur, None, free=True)
    if bound_key(low) > bound_key(high):
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


def parse_values(cur: _Line) -> ValidRule:
    """``[a, 'b c', ...]``: the list of ``valid values`` (quoted items keep their spaces)."""
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


def parse_reference(cur: _Line) -> Reference:
    """``in FRAME.COLUMN``."""
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


__all__ = ["CONFIG_NEEDS", "parse_config", "parse_drift", "parse_reference", "parse_rule"]
