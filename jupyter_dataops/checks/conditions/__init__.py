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

``parse`` (the language and its refusals), ``frames`` (polars, narwhals) and ``sql`` (dialects).
"""

from jupyter_dataops.checks.conditions.frames import like_regex, to_narwhals, to_polars
from jupyter_dataops.checks.conditions.parse import (
    SUPPORTED,
    ConditionError,
    boolean_columns,
    columns,
    parse,
    resolve,
    temporal_value,
)
from jupyter_dataops.checks.conditions.sql import DIALECTS, to_sql

__all__ = [
    "DIALECTS",
    "SUPPORTED",
    "ConditionError",
    "boolean_columns",
    "columns",
    "like_regex",
    "parse",
    "resolve",
    "temporal_value",
    "to_narwhals",
    "to_polars",
    "to_sql",
]
