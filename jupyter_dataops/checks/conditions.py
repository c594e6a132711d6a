"""``failed_rows(CONDITION)``: one small condition language, parsed once, compiled per backend.

A condition is parsed with sqlglot when the check line is parsed and kept to a subset that every
backend runs alike (``SUPPORTED``); anything else is refused then, with its position. The parsed
condition compiles to

* polars or narwhals expressions (``to_polars``, ``to_narwhals``: Dask, Ibis, SQLFrame, DuckDB
  relations), and
* the SQL of a database dialect (``to_sql``: PostgreSQL, SQLite, MySQL/MariaDB, DuckDB, through
  sqlglot's transpiler).

Meaning is SQL's: a row whose condition is NULL (unknown) is not a failed row; NaN in a float column
is NULL, as everywhere in the checks. The frame expressions say this without relying on a
backend's own null logic: each predicate compiles to two never-null expressions, "is true" and "is
false" (NOT swaps them, AND/OR combine them by Kleene's tables), so pandas-backed frames, where a
comparison with a missing value is plainly False, count the same rows as a database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

SUPPORTED = (
    "columns (name or \"quoted name\"), numbers, 'text', DATE '2024-01-31', "
    "TIMESTAMP '2024-01-31 12:00:00', TRUE, FALSE; = != <> < <= > >=; AND, OR, NOT; "
    "IS [NOT] NULL; [NOT] IN (...); [NOT] BETWEEN ... AND ...; [NOT] LIKE 'pattern' (% and _); "
    "+ - * /; parentheses; LOWER, UPPER, LENGTH, ABS, COALESCE, TRIM"
)
FUNCTIONS = {exp.Lower: "LOWER", exp.Upper: "UPPER", exp.Length: "LENGTH", exp.Abs: "ABS"}
FUNCTIONS |= {exp.Coalesce: "COALESCE", exp.Trim: "TRIM"}
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div)
PREDICATES = (*COMPARISONS, exp.In, exp.Between, exp.Like, exp.Is, exp.And, exp.Or, exp.Not)
TEMPORAL_TYPES = {exp.DataType.Type.DATE: "date", exp.DataType.Type.TIMESTAMP: "timestamp"}
#: literal types after ``resolve`` (a timestamp compared with a zoned column carries its offset)
LITERAL_TYPES = {**TEMPORAL_TYPES, exp.DataType.Type.TIMESTAMPTZ: "timestamp"}
#: sqlglot's name of a database dialect (SQLAlchemy's name when not listed)
DIALECTS = {"postgresql": "postgres", "mariadb": "mysql"}


class ConditionError(Exception):
    """A condition outside the language: ``message`` and the 0-based ``offset`` in its text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# ---- parsing -------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse(text: str) -> exp.Expression:
    """The condition's tree, or ``ConditionError`` saying what is not supported and where."""
    try:
        tokens = sqlglot.tokenize(text)
    except TokenError as exc:
        raise ConditionError(f"cannot read the condition: {_first(exc)}") from None
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            raise ConditionError("';' ends a statement: a condition is one expression", tok.start)
    try:
        tree = sqlglot.parse_one(text)
    except ParseError as exc:
        err = (exc.errors or [{}])[0]
        col = max(int(err.get("col") or 1) - 1, 0)
        line = int(err.get("line") or 1)
        offset = sum(len(x) + 1 for x in text.split("\n")[: line - 1]) + col
        what = str(err.get("description") or _first(exc)).split(" for <")[0]
        raise ConditionError(f"cannot read the condition: {what}", offset) from None
    if tree is None:
        raise ConditionError("failed_rows needs a condition, e.g. failed_rows(shipped_at < due)")
    _check(tree, text, boolean=True)
    return tree


def columns(text: str) -> tuple[str, ...]:
    """The columns a condition reads, in order, once each (nothing if it does not parse)."""
    try:
        tree = parse(text)
    except ConditionError:
        return ()
    return tuple(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))


def boolean_columns(text: str) -> tuple[str, ...]:
    """Columns used as true/false on their own (``failed_rows(paid AND amount > 0)``)."""

    def walk(node: exp.Expression) -> list[str]:
        if isinstance(node, exp.Paren):
            return walk(node.this)
        if isinstance(node, exp.Column):
            return [node.name]
        if isinstance(node, (exp.And, exp.Or)):
            return walk(node.this) + walk(node.expression)
        if isinstance(node, exp.Not):
            return walk(node.this)
        return []

    try:
        return tuple(dict.fromkeys(walk(parse(text))))
    except ConditionError:
        return ()


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _offset(node: exp.Expression, text: str) -> int:
    """Where a node starts in the text: its own token, else its first token that has one."""
    if isinstance(node, (exp.Subquery, exp.Select)):
        m = re.search(r"\bselect\b", text, re.IGNORECASE)
        if m:
            return m.start()
    starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
    return min(starts) if starts else 0


def _refuse(node: exp.Expression, text: str, what: str) -> ConditionError:
    return ConditionError(f"{what} is not supported in a condition (supported: {SUPPORTED})",
                          _offset(node, text))  # fmt: skip


def _check(node: exp.Expression, text: str, *, boolean: bool) -> None:
    """Refuse what the language does not have; ``boolean``: this place needs true/false."""
    if isinstance(node, exp.Paren):
        return _check(node.this, text, boolean=boolean)
    values = (exp.Literal, exp.Cast, exp.Neg, exp.Null, *ARITHMETIC, *FUNCTIONS)
    if boolean and isinstance(node, values):
        raise ConditionError(
            f"a condition must be true or false, but {node.sql()!r} is a value: compare it, "
            "e.g. amount > 0",
            _offset(node, text),
        )
    if not boolean and isinstance(node, PREDICATES):
        raise _refuse(node, text, f"a true/false value inside an expression ({node.sql()!r})")
    if isinstance(node, exp.Column):
        if node.table:
            raise ConditionError(
                f"{node.sql()!r}: a condition reads columns of the checked table only; write the "
                'column name alone (quote names with dots: "a.b")',
                _offset(node, text),
            )
        return None
    if isinstance(node, exp.Literal | exp.Boolean):
        return None
    if isinstance(node, exp.Null):
        raise ConditionError(
            "NULL is allowed only in IS NULL / IS NOT NULL (a comparison with NULL is never "
            "true in SQL)",
            _offset(node, text) or _null_offset(text),
        )
    if isinstance(node, exp.Cast):
        kind = TEMPORAL_TYPES.get(node.to.this)
        if kind is None or not (isinstance(node.this, exp.Literal) and node.this.is_string):
            raise _refuse(node, text, f"{node.sql()!r} (only DATE '...' and TIMESTAMP '...')")
        try:
            temporal_value(node.this.this, kind)
        except ValueError:
            raise ConditionError(
                f"{node.this.this!r} is not a {kind} (write it as 2024-01-31"
                + (" 12:00:00)" if kind == "timestamp" else ")"),
                _offset(node, text),
            ) from None
        return None
    if isinstance(node, (exp.And, exp.Or)):
        _check(node.this, text, boolean=True)
        return _check(node.expression, text, boolean=True)
    if isinstance(node, exp.Not):
        return _check(node.this, text, boolean=True)
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise _refuse(node, text, f"{node.sql()!r} (IS takes NULL only)")
        return _check(node.this, text, boolean=False)
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise _refuse(node.args.get("query") or node, text, "a subquery")
        _check(node.this, text, boolean=False)
        for item in node.expressions:
            _check(item, text, boolean=False)
        return None
    if isinstance(node, exp.Like):
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise _refuse(pattern, text, "a LIKE pattern that is not a quoted text")
        if "\\" in pattern.this:
            raise ConditionError(
                "a backslash in a LIKE pattern means different things in different databases: "
                "LIKE has no escape character here",
                _offset(pattern, text),
            )
        return _check(node.this, text, boolean=False)
    if isinstance(node, exp.Between):
        for part in (node.this, node.args["low"], node.args["high"]):
            _check(part, text, boolean=False)
        return None
    if isinstance(node, COMPARISONS + ARITHMETIC):
        _check(node.this, text, boolean=False)
        return _check(node.expression, text, boolean=False)
    if isinstance(node, exp.Neg):
        return _check(node.this, text, boolean=False)
    if type(node) in FUNCTIONS:
        if isinstance(node, exp.Trim) and (node.args.get("position") or node.expression):
            raise _refuse(node, text, "TRIM(LEADING/TRAILING/BOTH ... FROM ...)")
        for arg in (node.this, *node.expressions):
            _check(arg, text, boolean=False)
        return None
    raise _refuse(node, text, _describe(node))


def _null_offset(text: str) -> int:
    m = re.search(r"\bnull\b", text, re.IGNORECASE)
    return m.start() if m else 0


def _describe(node: exp.Expression) -> str:
    if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
        return "a subquery"
    if isinstance(node, exp.Window):
        return "a window function (OVER)"
    if isinstance(node, exp.AggFunc):
        return f"the aggregate {node.sql_name()}"
    if isinstance(node, exp.Anonymous):
        return f"the function {node.name.upper()}"
    if isinstance(node, exp.Func):
        return f"the function {node.sql_name()}"
    if isinstance(node, exp.Escape):
        return "LIKE ... ESCAPE"
    if isinstance(node, exp.ILike):
        return "ILIKE (write LOWER(column) LIKE 'pattern')"
    return f"{node.sql()!r} ({type(node).__name__})"


def temporal_value(text: str, kind: str) -> dt.date | dt.datetime:
    """The date (``kind`` "date") or datetime a literal's text means."""
    if kind == "date":
        return dt.date.fromisoformat(text.strip())
    return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))


# ---- resolving against a schema: text compared with a date column is a date -----------------


def resolve(text: str, schema: Mapping[str, Any]) -> exp.Expression:
    """The parsed condition with text literals compared to a date/datetime column read as that
    column's type (``'2024-01-31'`` against a datetime column is midnight), so every backend
    compares the same values. ``schema`` maps columns to polars dtypes."""
    tree = parse(text).copy()
    for node in list(tree.find_all(*COMPARISONS, exp.In, exp.Between)):
        if isinstance(node, exp.In):
            operands = [node.this, *node.expressions]
        elif isinstance(node, exp.Between):
            operands = [node.this, node.args["low"], node.args["high"]]
        else:
            operands = [node.this, node.expression]
        dtypes = [schema.get(o.name) for o in operands if isinstance(o, exp.Column)]
        kinds = {_temporal_kind(d) for d in dtypes} - {None}
        if len(kinds) != 1:
            continue
        kind = kinds.pop()
        zones = {getattr(d, "time_zone", None) for d in dtypes} - {None}
        for o in operands:
            if isinstance(o, exp.Literal) and o.is_string:
                typed = o.replace(_typed(o.this, kind))
            elif isinstance(o, exp.Cast) and kind != "date":
                typed = o.replace(_typed(o.this.this, kind))
            else:
                continue
            if len(zones) == 1:  # frames compare times of the column's own zone
                typed.meta["zone"] = next(iter(zones))
    return tree


def _temporal_kind(dtype: Any) -> str | None:
    if dtype is None:
        return None
    name = type(dtype).__name__ if not isinstance(dtype, type) else dtype.__name__
    if name == "Datetime" and getattr(dtype, "time_zone", None):
        return "timestamptz"
    return {"Date": "date", "Datetime": "timestamp"}.get(name)


def _typed(value: str, kind: str) -> exp.Cast:
    """A typed literal of ``kind`` ("date", "timestamp", or "timestamptz": a naive time is UTC,
    as everywhere in the checks)."""
    try:
        v = temporal_value(value, "date" if kind == "date" else "timestamp")
    except ValueError:
        raise ValueError(f"{value!r} is not a {kind}: write it as 2024-01-31") from None
    if kind == "date":
        return exp.Cast(this=exp.Literal.string(v.isoformat()), to=exp.DataType.build("date"))
    if not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day)
    if kind == "timestamptz" and v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)
    typ = "timestamptz" if v.tzinfo is not None else "timestamp"
    return exp.Cast(this=exp.Literal.string(v.isoformat(sep=" ")), to=exp.DataType.build(typ))


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


def _is_literal(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_literal(node.this)
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    return isinstance(node, (exp.Literal, exp.Boolean, exp.Cast))


def _literal_value(node: exp.Expression) -> Any:
    if isinstance(node, exp.Paren):
        return _literal_value(node.this)
    if isinstance(node, exp.Neg):
        v = _literal_value(node.this)
        return None if v is None else -v
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Cast):
        v = temporal_value(node.this.this, LITERAL_TYPES[node.to.this])
        zone = node.meta.get("zone")
        if zone and isinstance(v, dt.datetime) and v.tzinfo is not None:
            from contextlib import suppress
            from zoneinfo import ZoneInfo

            with suppress(KeyError, ValueError):  # a fixed offset: the UTC time compares alike
                v = v.astimezone(ZoneInfo(zone))
        return v
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        s = node.this
        return int(s) if re.fullmatch(r"\d+", s) else float(s)
    return None


# ---- SQL of a database dialect ---------------------------------------------------------------


def to_sql(
    text: str, schema: Mapping[str, Any], dialect: str, nan_columns: tuple[str, ...] = ()
) -> str:
    """The condition in a database's SQL (``dialect``: SQLAlchemy's or sqlglot's name).
    ``nan_columns``: float columns where the database stores NaN, read as NULL."""
    name = DIALECTS.get(dialect, dialect)
    tree = resolve(text, schema)

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name in nan_columns:
            nan = exp.Cast(this=exp.Literal.string("NaN"), to=exp.DataType.build("double"))
            return exp.Nullif(this=node.copy(), expression=nan)
        if isinstance(node, exp.Div):  # x / 0 is NULL on every database
            den = exp.Nullif(this=node.expression.copy(), expression=exp.Literal.number(0))
            return exp.Div(this=node.this.copy(), expression=den, typed=False, safe=False)
        if isinstance(node, exp.Cast) and name == "sqlite":
            # SQLite keeps dates as text: compare with the text SQLAlchemy stores
            v = _literal_value(node)
            iso = v.isoformat() if type(v) is dt.date else v.strftime("%Y-%m-%d %H:%M:%S.%f")
            return exp.Literal.string(iso)
        if isinstance(node, exp.Like) and name == "sqlite":  # LIKE ignores case in SQLite
            glob = exp.Glob(this=node.this.copy(), expression=exp.Literal.string(_glob(node)))
            return exp.Not(this=glob) if node.args.get("negate") else glob
        if isinstance(node, exp.Column) and name == "mysql" and _is_text(schema.get(node.name)):
            # text compares by the column's collation, case-insensitive by default: compare
            # code points, as every other backend does
            binary = sqlglot.parse_one(_MYSQL_BINARY, read="mysql")
            binary.find(exp.Column).replace(node.copy())
            return binary
        return node

    return tree.transform(rewrite).sql(dialect=name, identify=True)


_MYSQL_BINARY = "CONVERT(x USING utf8mb4) COLLATE utf8mb4_bin"


def _is_text(dtype: Any) -> bool:
    return dtype is not None and type(dtype).__name__ in ("String", "Utf8", "Categorical")


def _glob(like: exp.Like) -> str:
    out = []
    for ch in like.expression.this:
        out.append({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(ch, ch))
    return "".join(out)
