"""dtype tests and the polars expressions for "missing" and "valid" values.

Shared by the catalogue (which rows offend) and the polars engines (how facts are counted), so
a missing or valid value means the same thing wherever it is computed.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from jupyter_dataops.checks.formats import format_valid
from jupyter_dataops.checks.spec import ValidRule


def is_float(dtype: pl.DataType) -> bool:
    return dtype.is_float()


def is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean


def is_temporal(dtype: pl.DataType) -> bool:
    return isinstance(dtype, (pl.Date, pl.Datetime))


def is_stringlike(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def missing_expr(col: str, dtype: pl.DataType) -> pl.Expr:
    """True where the value is missing: null, or NaN in a float column."""
    c = pl.col(col)
    return (c.is_null() | c.is_nan()) if is_float(dtype) else c.is_null()


def present(col: str, dtype: pl.DataType) -> pl.Expr:
    """The column with NaN turned into null, so aggregates skip both."""
    c = pl.col(col)
    return c.fill_nan(None) if is_float(dtype) else c


def _dtype_name(dtype: pl.DataType) -> str:
    return str(dtype)


def coerce_values(rule: ValidRule, dtype: pl.DataType) -> list:
    """The ``valid values`` list converted to the column's type (ValueError if impossible)."""
    if is_stringlike(dtype):
        return list(rule.values)
    out: list = []
    for v, quoted in zip(rule.values, rule.quoted, strict=True):
        if quoted:
            raise ValueError(f"{v!r} is quoted text")
        if dtype == pl.Boolean:
            if v.lower() not in ("true", "false"):
                raise ValueError(f"{v!r} is not true or false")
            out.append(v.lower() == "true")
        elif dtype.is_integer():
            out.append(int(v.replace("_", "")))
        elif dtype.is_numeric():
            out.append(float(v.replace("_", "")))
        elif isinstance(dtype, pl.Date):
            out.append(dt.date.fromisoformat(v))
        elif isinstance(dtype, pl.Datetime):
            out.append(dt.datetime.fromisoformat(v))
        else:
            raise ValueError(f"values cannot be compared with {dtype}")
    return out


def valid_expr(
    col: str, dtype: pl.DataType, rule: ValidRule, expr: pl.Expr | None = None
) -> pl.Expr:
    """True where a (non-missing) value meets the rule; ``expr`` replaces ``pl.col(col)``
    (e.g. a slice of it)."""
    c = pl.col(col) if expr is None else expr
    if rule.kind == "values":
        return c.is_in(coerce_values(rule, dtype))
    if isinstance(dtype, (pl.Categorical, pl.Enum)) and rule.kind in ("regex", "format", "length"):
        c = c.cast(pl.String)
    if rule.kind == "regex":
        return c.str.contains(rule.pattern)
    if rule.kind == "format":
        return format_valid(c, rule.pattern)
    lo, hi = rule.low.value, rule.high.value  # type: ignore[union-attr]
    if rule.kind == "length":
        n = c.str.len_chars()
        return (n >= lo) & (n <= hi)
    if isinstance(dtype, pl.Datetime):
        lo, hi = (pl.lit(as_datetime(v, dtype)).cast(dtype) for v in (lo, hi))
    return (c >= lo) & (c <= hi)


def as_datetime(v: dt.date, dtype: pl.Datetime) -> dt.datetime:
    """A date or datetime bound as a datetime comparable with a ``dtype`` column: a date is its
    midnight, a naive value is UTC in a column with a time zone, an aware value is turned into
    naive UTC in a column without one."""
    if not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day)
    if dtype.time_zone and v.tzinfo is None:
        return v.replace(tzinfo=dt.timezone.utc)
    if not dtype.time_zone and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


# Spellings accepted in `schema:`; anything polars names (e.g. "Datetime(time_unit='us')") works
# too, compared by its str().
DTYPE_ALIASES = {
    "int8": "Int8",
    "int16": "Int16",
    "int32": "Int32",
    "int64": "Int64",
    "uint8": "UInt8",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "float32": "Float32",
    "float64": "Float64",
    "string": "String",
    "str": "String",
    "utf8": "String",
    "boolean": "Boolean",
    "bool": "Boolean",
    "date": "Date",
    "datetime": "Datetime",
    "time": "Time",
    "duration": "Duration",
    "categorical": "Categorical",
    "enum": "Enum",
    "decimal": "Decimal",
    "binary": "Binary",
    "null": "Null",
    "list": "List",
    "struct": "Struct",
    "int128": "Int128",
}
