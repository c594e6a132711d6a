"""A resolved condition in a database's SQL, through sqlglot's transpiler."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from jupyter_dataops.checks.conditions.parse import _is_text, _literal_value, resolve

#: sqlglot's name of a database dialect (SQLAlchemy's name when not listed; a dialect sqlglot
#: does not know gets standard SQL)
DIALECTS = {"postgresql": "postgres", "mariadb": "mysql", "mssql": "tsql"}


def to_sql(
    text: str, schema: Mapping[str, Any], dialect: str, nan_columns: tuple[str, ...] = ()
) -> str:
    """The condition in a database's SQL (``dialect``: SQLAlchemy's or sqlglot's name).
    ``nan_columns``: float columns where the database stores NaN, read as NULL."""
    name = DIALECTS.get(dialect, dialect)
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        name = ""  # sqlglot's own: standard SQL
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


def _glob(like: exp.Like) -> str:
    out = []
    for ch in like.expression.this:
        out.append({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(ch, ch))
    return "".join(out)
