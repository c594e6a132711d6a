"""A resolved condition as polars or narwhals expressions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from jupyter_dataops.checks.conditions.parse import (
    ARITHMETIC,
    ConditionError,
    _is_literal,
    _is_text,
    _literal_value,
    resolve,
)

# ---- frame expressions (polars, narwhals) ---------------------------------------------------


def to_polars(text: str, schema: Mapping[str, Any], *, guarded: bool = True) -> Any:
    """A never-null polars expression: true on the rows that fail (the condition is true).
    ``guarded=False``: the two-rail form without its null guards, so that running it on no rows
    shows type errors that the guards would skip."""
    import polars as pl

    return _Frames(pl, schema, polars=True, guarded=guarded).true(resolve(text, schema))


def to_narwhals(text: str, schema: Mapping[str, Any]) -> Any:
    """The same as a narwhals expression (runs on Dask, Ibis, SQLFrame, DuckDB, ...)."""
    import narwhals as nw

    return _Frames(nw, schema, polars=False).true(resolve(text, schema))


def like_regex(pattern: str) -> str:
    """A LIKE pattern as a regular expression (``%`` any text, ``_`` one character), anchored
    where the pattern does not start or end with ``%``."""
    parts = {"%": ".*", "_": "."}
    body = pattern.strip("%")
    head = "" if pattern.startswith("%") else "^"
    tail = "" if pattern.endswith("%") and body else "$"
    return "(?s)" + head + "".join(parts.get(ch) or re.escape(ch) for ch in body) + tail


def _like(v: Any, pattern: str) -> Any:
    """``v LIKE pattern`` as a polars/narwhals string test: prefix, suffix and substring
    patterns by their own (faster) tests, others as a regular expression."""
    body = pattern.strip("%")
    if "%" in body or "_" in body or not body:
        return v.str.contains(like_regex(pattern))
    starts, ends = pattern.startswith("%"), pattern.endswith("%")
    if starts and ends:
        return v.str.contains(body, literal=True)
    if ends:
        return v.str.starts_with(body)
    if starts:
        return v.str.ends_with(body)
    return v == body


class _Frames:
    """Compiles a resolved tree for a polars-like expression namespace (polars or narwhals)."""

    def __init__(
        self, ns: Any, schema: Mapping[str, Any], *, polars: bool, guarded: bool = True
    ) -> None:
        self.ns = ns
        self.schema = schema
        self.polars = polars
        self.guarded = guarded

    def true(self, node: exp.Expression) -> Any:
        if self.polars and self.guarded:
            return self.kleene(node).fill_null(False)
        return self.rails(node)[0]

    def kleene(self, node: exp.Expression) -> Any:
        """A nullable boolean with SQL's three-valued logic: polars' own (null in, null out;
        AND/OR/NOT by Kleene's tables), so no guards are needed there."""
        if isinstance(node, exp.Paren):
            return self.kleene(node.this)
        if isinstance(node, exp.Not):
            return ~self.kleene(node.this)
        if isinstance(node, exp.And):
            return self.kleene(node.this) & self.kleene(node.expression)
        if isinstance(node, exp.Or):
            return self.kleene(node.this) | self.kleene(node.expression)
        if isinstance(node, exp.Boolean):
            return self._rows(self.ns.lit(bool(node.this)))
        if isinstance(node, exp.Is):
            return self.value(node.this).is_null()
        if isinstance(node, exp.Column):
            return self.value(node)
        if isinstance(node, exp.In):
            v = self.value(node.this)
            items = self._in_list(node)
            if items is not None:
                return v.is_in(items)
            return self._const(node, _any([v == self.value(i) for i in node.expressions]))
        if isinstance(node, exp.Between):
            v = self.value(node.this)
            inside = (v >= self.value(node.args["low"])) & (v <= self.value(node.args["high"]))
            return self._const(node, inside)
        if isinstance(node, exp.Like):
            hit = _like(self.value(node.this), node.expression.this)
            return ~hit if node.args.get("negate") else hit
        op = _COMPARE[type(node)]
        return self._const(node, op(self.value(node.this), self.value(node.expression)))

    def _const(self, node: exp.Expression, pred: Any) -> Any:
        """``pred`` as one value per row when ``node`` reads no column."""
        return pred if node.find(exp.Column) else self._rows(pred)

    def rails(self, node: exp.Expression) -> tuple[Any, Any]:
        """(is true, is false) of a predicate, both never null."""
        ns = self.ns
        if isinstance(node, exp.Paren):
            return self.rails(node.this)
        if isinstance(node, exp.Not):
            t, f = self.rails(node.this)
            return f, t
        if isinstance(node, exp.And):
            (t1, f1), (t2, f2) = self.rails(node.this), self.rails(node.expression)
            return t1 & t2, f1 | f2
        if isinstance(node, exp.Or):
            (t1, f1), (t2, f2) = self.rails(node.this), self.rails(node.expression)
            return t1 | t2, f1 & f2
        if isinstance(node, exp.Boolean):
            return self._rows(ns.lit(bool(node.this))), self._rows(ns.lit(not node.this))
        if isinstance(node, exp.Is):
            v = self.value(node.this)
            return v.is_null(), ~v.is_null()
        if isinstance(node, exp.Column):  # a boolean column
            v = self.value(node)
            return self._known([node], v), self._known([node], ~v)
        if isinstance(node, exp.In):
            v = self.value(node.this)
            items = self._in_list(node)
            if items is not None:
                hit = v.is_in(items)
            else:  # values computed per row: OR of equalities
                hit = _any([v == self.value(i) for i in node.expressions])
            operands = [node.this, *node.expressions]
            return self._known(operands, hit), self._known(operands, ~hit)
        if isinstance(node, exp.Between):
            lo, hi = node.args["low"], node.args["high"]
            v = self.value(node.this)
            inside = (v >= self.value(lo)) & (v <= self.value(hi))
            operands = [node.this, lo, hi]
            return self._known(operands, inside), self._known(operands, ~inside)
        if isinstance(node, exp.Like):
            hit = _like(self.value(node.this), node.expression.this)
            t, f = self._known([node.this], hit), self._known([node.this], ~hit)
            return (f, t) if node.args.get("negate") else (t, f)
        op = _COMPARE[type(node)]
        a, b = self.value(node.this), self.value(node.expression)
        holds = op(a, b)
        operands = [node.this, node.expression]
        return self._known(operands, holds), self._known(operands, ~holds)

    def _known(self, operands: list[exp.Expression], pred: Any) -> Any:
        """``pred`` where every operand has a value, else False (never null)."""
        guards = [~self.value(o).is_null() for o in operands if not _is_literal(o)]
        if not guards:
            return self._rows(pred)
        if not self.guarded:
            return pred
        known = guards[0]
        for g in guards[1:]:
            known = known & g
        # pred is null only where an operand is: the when() gives False there
        return self.ns.when(known).then(pred).otherwise(False)

    def _in_list(self, node: exp.In) -> list | None:
        """The IN list as values of the column's type, or None (then an OR of equalities)."""
        if not isinstance(node.this, exp.Column) or not all(map(_is_literal, node.expressions)):
            return None
        dtype = self.schema.get(node.this.name)
        values = [_literal_value(i) for i in node.expressions]
        kinds = {type(v) for v in values}
        if dtype is None:
            return None
        if dtype.is_float() and kinds <= {int, float}:
            return [float(v) for v in values]
        if dtype.is_integer() and kinds == {int}:
            return values
        if _is_text(dtype) and kinds == {str}:
            return values
        return None

    def _rows(self, constant: Any) -> Any:
        """A constant as one value per row (lazy backends cannot sum a bare literal)."""
        if not self.schema:
            return constant
        c = self.ns.col(next(iter(self.schema)))
        return (c.is_null() | ~c.is_null()) & constant

    def value(self, node: exp.Expression) -> Any:
        ns = self.ns
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Column):
            c = ns.col(node.name)
            dtype = self.schema.get(node.name)
            if dtype is not None and getattr(dtype, "is_float", lambda: False)():
                return c.fill_nan(None) if self.polars else ns.when(~c.is_nan()).then(c)
            return c
        if _is_literal(node):
            return ns.lit(_literal_value(node))
        if isinstance(node, exp.Neg):
            return ns.lit(0) - self.value(node.this)
        if isinstance(node, exp.Div):
            den = self.value(node.expression)
            # x / 0 is NULL, as SQLite and MySQL have it (PostgreSQL gets NULLIF)
            return self.value(node.this) / ns.when(den != 0).then(den)
        if isinstance(node, ARITHMETIC):
            a, b = self.value(node.this), self.value(node.expression)
            return {exp.Add: a + b, exp.Sub: a - b, exp.Mul: a * b}[type(node)]
        if isinstance(node, exp.Lower):
            return self.value(node.this).str.to_lowercase()
        if isinstance(node, exp.Upper):
            return self.value(node.this).str.to_uppercase()
        if isinstance(node, exp.Length):
            return self.value(node.this).str.len_chars()
        if isinstance(node, exp.Abs):
            return self.value(node.this).abs()
        if isinstance(node, exp.Trim):
            # spaces only, as SQL's TRIM (Ibis has no strip_chars(" "))
            return self.value(node.this).str.replace_all("^ +| +$", "", literal=False)
        if isinstance(node, exp.Coalesce):
            return ns.coalesce(*[self.value(a) for a in (node.this, *node.expressions)])
        raise ConditionError(f"cannot compile {node.sql()!r}")  # refused by parse already


_COMPARE = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}


def _any(preds: list[Any]) -> Any:
    out = preds[0]
    for p in preds[1:]:
        out = out | p
    return out
