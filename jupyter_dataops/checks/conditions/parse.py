"""Parsing a condition (sqlglot) into the language's subset, refusing the rest where it is, and
resolving it against a schema (text compared with a date column is a date)."""

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
    except Exception as exc:  # sqlglot's other errors (e.g. nesting too deep): still a refusal
        raise ConditionError(f"cannot read the condition: {_first(exc)}") from None
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


def _is_text(dtype: Any) -> bool:
    return dtype is not None and type(dtype).__name__ in ("String", "Utf8", "Categorical")
