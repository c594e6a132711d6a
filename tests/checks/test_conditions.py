"""``failed_rows(CONDITION)``: one condition language, the same failed rows on every backend.

A table of conditions with the failed-row count worked out by hand runs on polars (in memory,
streaming and batched), SQLite, PostgreSQL, MariaDB, DuckDB, Dask, SQLFrame and Ibis: every
backend must give the same status, observed value and failing-row count. NULL follows SQL: a row
whose condition is unknown is not a failed row (NaN is NULL). Conditions outside the language are
refused when the line is parsed, with their position, whatever the backend.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from builders import load_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_dataops.checks import conditions, parse_spec, planner, run_checks
from jupyter_dataops.checks.engines import batched as B
from jupyter_dataops.errors import DataOpsSyntaxError
from jupyter_dataops.store.testing import store_url

D = dt.date
T = dt.datetime


def frame() -> pl.DataFrame:
    """Eight rows with nulls in every column, a NaN, quotes, case, spaces, a non-ASCII letter,
    LIKE wildcards in the data, dates and datetimes."""
    return pl.DataFrame(
        {
            "n": [1, 2, None, 4, 5, 6, 7, 0],
            "x": [1.5, math.nan, 2.5, None, -3.0, 10.0, 0.0, 4.0],
            "s": ["apple", "Apple", "it's", None, " pear ", "héllo", "a_b%c", ""],
            "d": [D(2024, 1, i) if i not in (3,) else None for i in range(1, 9)],
            "ts": [
                T(2024, 1, 1, 8),
                T(2024, 1, 2),
                T(2024, 1, 3, 12, 30),
                None,
                T(2024, 1, 5),
                T(2024, 1, 6, 23, 59),
                T(2024, 1, 7),
                T(2024, 1, 8, 6),
            ],
            "ok": [True, False, True, None, False, True, False, True],
            "Qty": [1, 1, 2, 2, 3, 3, 4, 4],
        },
        schema={
            "n": pl.Int64,
            "x": pl.Float64,
            "s": pl.String,
            "d": pl.Date,
            "ts": pl.Datetime("us"),
            "ok": pl.Boolean,
            "Qty": pl.Int64,
        },
    )


#: condition -> failed rows, worked out by hand from ``frame()``
EXPECTED = {
    "n > 3": 4,
    "NOT n > 3": 3,
    "n IS NULL": 1,
    "n IS NOT NULL": 7,
    "x > 2": 3,
    "NOT x > 2": 3,
    "x IS NULL": 2,
    "x = 0": 1,
    "x != 1.5": 5,
    "s = 'it''s'": 1,
    "s = 'apple'": 1,
    "\"s\" = 'héllo'": 1,
    "s LIKE 'a%'": 2,
    "s NOT LIKE '%e%'": 4,
    "s LIKE '_pple'": 2,
    "s LIKE '%b%c'": 1,
    "LOWER(s) = 'apple'": 2,
    "UPPER(s) = 'IT''S'": 1,
    "LENGTH(s) = 5": 4,
    "TRIM(s) = 'pear'": 1,
    "s IN ('apple', 'pear', 'it''s')": 2,
    "s NOT IN ('apple', 'Apple')": 5,
    "n BETWEEN 2 AND 5": 3,
    "n NOT BETWEEN 2 AND 5": 4,
    "d > DATE '2024-01-05'": 3,
    "d BETWEEN '2024-01-02' AND '2024-01-04'": 2,
    "d IN (DATE '2024-01-01', DATE '2024-01-08')": 2,
    "ts >= '2024-01-05'": 4,
    "ts < TIMESTAMP '2024-01-03 12:30:00'": 2,
    "ts = DATE '2024-01-07'": 1,
    "ts IS NULL OR d IS NULL": 2,
    "ok": 4,
    "NOT ok": 3,
    "ok = FALSE": 3,
    "n + x > 5": 2,
    "n / 2 = 0.5": 1,
    "n / (n - 4) > 1": 3,
    "NOT n / (n - 4) > 1": 3,
    "ABS(x) > 2": 4,
    "-n < -5": 2,
    "COALESCE(n, 100) > 50": 1,
    "n > 3 AND x > 2": 1,
    "n > 3 OR x > 2": 6,
    "NOT (n > 3 OR x > 2)": 1,
    "NOT (n > 3 AND x > 2)": 5,
    "Qty >= 3": 4,
    '"Qty" = 2': 2,
    "1 = 2": 0,
}
SPEC = "\n".join(f"failed_rows({c}) = 0" for c in EXPECTED)


def load(url: str, data: pl.DataFrame) -> None:
    """``data`` as table ``t``, typed explicitly."""
    load_tables(url, {"t": data})


def assert_expected(result) -> None:
    got = {r.source[len("failed_rows(") : -len(") = 0")]: r for r in result.results}
    wrong = {
        c: (r.status, r.observed, r.message)
        for c, r in got.items()
        if r.status != ("pass" if EXPECTED[c] == 0 else "fail") or r.observed != EXPECTED[c]
    }
    assert not wrong, wrong
    for c, r in got.items():
        if EXPECTED[c]:  # the offending rows are the same rows
            assert r.failing_count == EXPECTED[c], c
            assert r.failing_rows is not None and r.failing_rows.height == min(EXPECTED[c], 5)


def _database(backend: str, tmp_path):
    if backend == "mysql":
        from test_checks_mysql import mysql_database

        return mysql_database()
    return store_url(backend, tmp_path)


@pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")
@pytest.mark.parametrize(
    "backend",
    [
        "polars",
        "streaming",
        "batched",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        "mysql",
        "duckdb",
        "dask",
        "sqlframe",
        "ibis",
    ],
)
def test_every_backend_fails_the_same_rows(backend, tmp_path, monkeypatch):
    data = frame()
    if backend in ("sqlite", "postgresql", "mysql"):
        if backend == "mysql":  # MariaDB stores no NaN: it goes in as NULL (missing either way)
            data = data.with_columns(pl.col("x").fill_nan(None))
        with _database(backend, tmp_path) as url:
            load(url, data)
            result = run_checks(url, SPEC, table="t")
        assert "one aggregate query" in result.extra["plan"]
    elif backend in ("polars", "streaming"):
        result = run_checks(data if backend == "polars" else data.lazy(), SPEC)
    elif backend == "batched":
        monkeypatch.setattr(planner, "MEMORY_SHARE", 0.0)
        monkeypatch.setattr(planner, "BATCHED_SHARE", 0.0)
        monkeypatch.setattr(B, "BATCH_ROWS", 3)
        data.write_parquet(tmp_path / "t.parquet")
        result = run_checks(pl.scan_parquet(tmp_path / "t.parquet"), SPEC)
        assert "read in batches" in result.extra["plan"]
    else:
        result = run_checks(_lazy(backend, data, tmp_path), SPEC)
        assert f"{backend}: one lazy select" in result.extra["plan"]
    assert_expected(result)


def _lazy(backend: str, data: pl.DataFrame, tmp_path):
    if backend == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        con = duckdb.connect()
        con.register("t_arrow", data.to_arrow())
        return con.sql("SELECT * FROM t_arrow")
    if backend == "dask":
        dd = pytest.importorskip("dask.dataframe")
        # nullable booleans stay booleans (plain pandas makes them objects)
        return dd.from_pandas(data.to_pandas().astype({"ok": "boolean"}), npartitions=2)
    if backend == "sqlframe":
        pytest.importorskip("sqlframe")
        # sqlframe keeps one DuckDBSession per process (a conn= given later is ignored): the
        # table goes into that session's own connection, under a name of this call's own
        import uuid

        from sqlframe.duckdb import DuckDBSession

        session = DuckDBSession()
        name = f"t_{uuid.uuid4().hex}"
        session._conn.register(f"{name}_arrow", data.to_arrow())
        session._conn.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{name}_arrow"')
        session._conn.unregister(f"{name}_arrow")
        return session.table(name)
    ibis = pytest.importorskip("ibis")
    data.write_parquet(tmp_path / "t.parquet")
    return ibis.duckdb.connect().read_parquet(tmp_path / "t.parquet")


@pytest.mark.parametrize(
    "backend", ["polars", pytest.param("postgresql", marks=pytest.mark.postgres), "duckdb"]
)
def test_a_naive_time_against_a_zoned_column_is_utc(backend, tmp_path):
    utc = dt.timezone.utc
    data = pl.DataFrame({"ts": [T(2024, 1, 1, tzinfo=utc), T(2024, 1, 6, 1, tzinfo=utc), None]})
    spec = (
        "failed_rows(ts > '2024-01-05') = 0\n"
        "failed_rows(ts >= TIMESTAMP '2024-01-06 01:00:00') = 0\n"
        "failed_rows(ts = '2024-01-01') = 0\n"
        "failed_rows(NOT ts BETWEEN '2024-01-01' AND '2024-01-02') = 0"
    )
    if backend == "postgresql":
        with store_url("postgresql", tmp_path) as url:
            load_tables(url, {"z": data})
            result = run_checks(url, spec, table="z")
    else:
        result = run_checks(data if backend == "polars" else _lazy("duckdb", data, tmp_path), spec)
    assert [(r.status, r.observed) for r in result.results] == [("fail", 1)] * 4, [
        r.message for r in result.results
    ]


# ---- refused at parse time, with the position --------------------------------------------

REFUSED = [
    ("failed_rows(n > (SELECT 1)) = 0", "n > (SELECT 1)", "SELECT", "a subquery"),
    ("failed_rows(n IN (SELECT n FROM t)) = 0", "n IN (SELECT", "SELECT", "a subquery"),
    ("failed_rows(SUM(n) OVER () > 1) = 0", "SUM(n)", "SUM", "window function"),
    ("failed_rows(n > 1 AND foo(s) = 1) = 0", "foo(s)", "foo", "the function FOO"),
    ("failed_rows(n > 1; DROP TABLE t) = 0", "; DROP", ";", "';' ends a statement"),
    ("failed_rows(n = NULL) = 0", "NULL", "NULL", "only in IS NULL"),
    ("failed_rows(n + 1) = 0", "n + 1", "n", "must be true or false"),
    ("failed_rows(t.n > 1) = 0", "t.n", "t", "columns of the checked table"),
    ("failed_rows(s ILIKE 'a%') = 0", "s ILIKE", "s", "ILIKE"),
    ("failed_rows(s LIKE 'a\\%') = 0", "'a\\%'", "'", "backslash"),
    ("failed_rows(CAST(n AS TEXT) = 'a') = 0", "n AS", "n", "only DATE"),
    ("failed_rows(d > DATE '2024-02-30') = 0", "'2024-02-30'", "'", "is not a date"),
    ("failed_rows(n >) = 0", ">)", ">", "cannot read the condition"),
]


@pytest.mark.parametrize(("line", "near", "at", "says"), REFUSED, ids=[r[3] for r in REFUSED])
def test_what_the_language_lacks_is_refused_where_it_is(line, near, at, says):
    with pytest.raises(DataOpsSyntaxError) as info:
        parse_spec(f"row_count > 0\n{line}")
    e = info.value
    assert e.line == 2
    # the caret is under the refused part
    assert line[e.column - 1 :].startswith(at), (line, e.column, e.message)
    assert e.column - 1 >= line.index(near)
    assert says in e.message
    if "supported" in e.message:
        assert "LIKE" in e.message and "COALESCE" in e.message
    assert "^" in str(e)


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "polars"])
def test_a_refused_condition_is_refused_before_any_backend_runs(backend, tmp_path):
    spec = "row_count > 0\nfailed_rows(n > 1 AND foo(s) = 1) = 0"
    data: object = frame()
    table = None
    if backend == "sqlite":
        data, table = f"sqlite:///{tmp_path / 'never.db'}", "t"
    elif backend == "duckdb":
        data = _lazy("duckdb", frame(), tmp_path)
    with pytest.raises(DataOpsSyntaxError, match="the function FOO is not supported") as info:
        run_checks(data, spec, table=table)
    assert (info.value.line, info.value.column) == (2, 23)
    assert not (tmp_path / "never.db").exists()  # nothing was opened


def test_an_unknown_column_or_a_type_mismatch_names_the_column_on_every_engine(tmp_path):
    spec = "failed_rows(nosuch > 1) = 0\nfailed_rows(s > 1) = 0\nfailed_rows(n) = 0\nrow_count = 8"
    url = f"sqlite:///{tmp_path / 't.db'}"
    load(url, frame())
    for result in (run_checks(frame(), spec), run_checks(url, spec, table="t")):
        assert [r.status for r in result.results] == ["error", "error", "error", "pass"]
        assert "'nosuch'" in result.results[0].message
        assert "cannot compare string with numeric" in result.results[1].message
        assert "'n' is Int64, not true/false" in result.results[2].message


def test_the_sql_of_each_dialect_is_transpiled_by_sqlglot():
    schema = dict(frame().schema)
    cond = "s LIKE 'a%' AND n / 2 > 1 AND ts > '2024-01-05'"
    assert conditions.to_sql(cond, schema, "postgresql") == (
        '"s" LIKE \'a%\' AND CAST("n" AS DOUBLE PRECISION) / NULLIF(2, 0) > 1 '
        "AND \"ts\" > CAST('2024-01-05 00:00:00' AS TIMESTAMP)"
    )
    # SQLite: LIKE ignores case there, so GLOB; datetimes compare as the text SQLAlchemy stores
    assert conditions.to_sql(cond, schema, "sqlite") == (
        '"s" GLOB \'a*\' AND CAST("n" AS REAL) / NULLIF(2, 0) > 1 '
        "AND \"ts\" > '2024-01-05 00:00:00.000000'"
    )
    # MySQL/MariaDB: text compares by code point, not by the case-insensitive collation
    mysql = conditions.to_sql("s = 'a'", schema, "mariadb")
    assert mysql == "CAST(`s` AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin = 'a'"
    # other dialects: sqlglot's when it knows them, else standard SQL
    assert (
        conditions.to_sql("n / 2 > 1", schema, "mssql") == "CAST([n] AS FLOAT) / NULLIF(2, 0) > 1"
    )
    assert conditions.to_sql("n / 2 > 1", schema, "firebird") == '"n" / NULLIF(2, 0) > 1'


# ---- random conditions from the grammar: polars, SQLite and DuckDB agree --------------------

_NUM = st.sampled_from(["n", "x", "Qty", "n + x", "n * 2 - Qty", "n / (Qty - 2)", "ABS(x)"])
_NUMBERS = st.sampled_from(["0", "1", "2.5", "-3", "4", "10"])
_TEXT = st.sampled_from(["s", "LOWER(s)", "UPPER(s)", "TRIM(s)", "COALESCE(s, 'none')"])
_STRINGS = st.sampled_from(["'apple'", "'it''s'", "''", "'héllo'", "'APPLE'", "'pear'"])
_PATTERNS = st.sampled_from(["'a%'", "'%e%'", "'_pple'", "'%'", "'%''%'", "'%b%c'", "'A%'"])
_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def _atoms() -> st.SearchStrategy[str]:
    num_cmp = st.builds(lambda a, o, b: f"{a} {o} {b}", _NUM, _OPS, _NUMBERS | _NUM)
    text_cmp = st.builds(lambda a, o, b: f"{a} {o} {b}", _TEXT, _OPS, _STRINGS)
    like = st.builds(
        lambda a, n, p: f"{a} {n}LIKE {p}", _TEXT, st.sampled_from(["", "NOT "]), _PATTERNS
    )
    is_null = st.builds(
        lambda c, n: f"{c} IS {n}NULL",
        st.sampled_from(["n", "x", "s", "d", "ts", "ok", "n + x"]),
        st.sampled_from(["", "NOT "]),
    )
    in_list = st.builds(
        lambda a, n, vs: f"{a} {n}IN ({', '.join(vs)})",
        _NUM,
        st.sampled_from(["", "NOT "]),
        st.lists(_NUMBERS, min_size=1, max_size=3),
    )
    between = st.builds(
        lambda a, n, lo, hi: f"{a} {n}BETWEEN {lo} AND {hi}",
        _NUM,
        st.sampled_from(["", "NOT "]),
        _NUMBERS,
        _NUMBERS,
    )
    dates = st.builds(
        lambda c, o, v: f"{c} {o} {v}",
        st.sampled_from(["d", "ts"]),
        _OPS,
        st.sampled_from(["DATE '2024-01-04'", "'2024-01-05'", "TIMESTAMP '2024-01-03 12:30:00'"]),
    )
    flags = st.sampled_from(["ok", "NOT ok", "ok = TRUE", "TRUE", "FALSE"])
    return num_cmp | text_cmp | like | is_null | in_list | between | dates | flags


_CONDITIONS = st.recursive(
    _atoms(),
    lambda inner: (
        st.builds(lambda a, o, b: f"({a}) {o} ({b})", inner, st.sampled_from(["AND", "OR"]), inner)
        | st.builds(lambda a: f"NOT ({a})", inner)
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def sqlite_and_duckdb(tmp_path_factory):
    duckdb = pytest.importorskip("duckdb")
    url = f"sqlite:///{tmp_path_factory.mktemp('conditions') / 't.db'}"
    load(url, frame())
    con = duckdb.connect()
    con.register("t", frame().to_arrow())
    return url, con


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_CONDITIONS, min_size=1, max_size=6, unique=True))
def test_random_conditions_count_the_same_rows_on_polars_sqlite_and_duckdb(
    sqlite_and_duckdb, conds
):
    url, con = sqlite_and_duckdb
    spec = "\n".join(f"failed_rows({c}) = 0" for c in conds)
    on_polars = run_checks(frame(), spec)
    on_sqlite = run_checks(url, spec, table="t")
    schema = dict(frame().schema)
    for c, p, q in zip(conds, on_polars.results, on_sqlite.results, strict=True):
        assert p.status != "error", (c, p.message)
        assert (p.observed, p.status) == (q.observed, q.status), (c, q.message)
        # NaN is NULL in DuckDB too: the float column read through NULLIF-style CASE
        sql = conditions.to_sql(c, schema, "duckdb")
        table = "(SELECT * REPLACE (CASE WHEN isnan(x) THEN NULL ELSE x END AS x) FROM t)"
        (n,) = con.execute(f"SELECT count(*) FROM {table} WHERE {sql}").fetchone()
        assert n == p.observed, (c, sql)
