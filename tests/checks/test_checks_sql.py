"""Checks where the data lives: one suite on polars, SQLite, PostgreSQL, DuckDB and Dask.

Every backend must give the polars engine's statuses, observed values and failing-row counts,
except the checks a backend cannot express, which must report ``error`` saying why (listed in
``CANNOT``). The SQL engine runs in the database (a real SQLite file, the CI PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
import sqlalchemy as sa
from builders import load_tables

from jupyter_dataops.checks import run_checks
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.store.testing import store_url

AS_OF = "2024-02-03"
SPEC = r"""row_count between 10 and 100
missing_count(customer_id) = 0
missing_percent(amount) < 1%
duplicate_count(order_id) = 0
duplicate_percent(order_id, line_no) = 0
distinct_count(status) = 3
distinct_count(amount) > 0
invalid_count(status) = 0: valid values [new, shipped, returned]
invalid_count(amount) = 0: valid range 10 .. 50
invalid_percent(email) < 5%: valid regex ^[^@]+@[^@]+\.[^@]+$
invalid_count(email) = 0: valid format email
invalid_count(day) = 0: valid format date
invalid_count(code) = 0: valid length 2 .. 4
invalid_count(created_at) = 0: valid range 2024-01-01 .. 2024-01-20
min(amount) >= 10
max(amount) < 59
avg(amount) between 20 and 40
stddev(amount) < 10
sum(amount) > 0
sum(paid) > 0
sum(customer_id) > 0
median(amount) < 30
percentile(amount, 0.9) < 60
freshness(created_at) < 2d
min(created_at) >= 2024-01-01
failed_rows(amount > 50) = 0
reference_missing_count(customer_id) = 0: in customers.customer_id
columns: order_id, status
"""
#: backend -> {line: what its error must say}: the checks a backend cannot express
CANNOT = {
    "sqlite": {
        "median(amount) < 30": "no exact percentile",
        "percentile(amount, 0.9) < 60": "no exact percentile",
    },
    # tests/checks/test_checks_mysql.py (MariaDB)
    "mysql": {
        "median(amount) < 30": "no exact percentile",
        "percentile(amount, 0.9) < 60": "no exact percentile",
    },
    "dask": {
        "median(amount) < 30": "approximately over its 2 partitions",
        "percentile(amount, 0.9) < 60": "approximately over its 2 partitions",
    },
}


def orders() -> pl.DataFrame:
    """60 orders with one duplicate id, missing customers, one bad status, a null and a NaN
    amount, bad e-mails, impossible dates and a datetime column."""
    rows = []
    for i in range(60):
        rows.append(
            {
                "order_id": 6 if i == 7 else i,
                "line_no": i % 3 if i != 7 else 0,
                "customer_id": None if i % 17 == 0 else i % 10,
                "status": "lost" if i == 5 else ["new", "shipped", "returned"][i % 3],
                "amount": None if i == 3 else (math.nan if i == 4 else 10.0 + (i * 7) % 50),
                "email": f"user{i}@example.com" if i % 11 else f"bad{i}",
                "day": f"2023-02-{(i % 31) + 1:02d}",
                "code": "AB" * (1 + i % 3),
                "created_at": dt.datetime(2024, 1, 1) + dt.timedelta(hours=13 * i),
                "paid": i % 4 == 0,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "order_id": pl.Int64,
            "line_no": pl.Int64,
            "customer_id": pl.Int64,
            "status": pl.String,
            "amount": pl.Float64,
            "email": pl.String,
            "day": pl.String,
            "code": pl.String,
            "created_at": pl.Datetime("us"),
            "paid": pl.Boolean,
        },
    )


CUSTOMERS = pl.DataFrame({"customer_id": list(range(8))})


def load(url: str, frame: pl.DataFrame = None, customers: bool = True) -> None:  # type: ignore[assignment]
    """``frame`` as table ``orders`` (and ``customers``) in the database, typed explicitly."""
    frame = orders() if frame is None else frame
    tables = {"orders": frame, "customers": CUSTOMERS} if customers else {"orders": frame}
    load_tables(url, tables, text=sa.Text)


@pytest.fixture(scope="module")
def reference():
    return run_checks(orders(), SPEC, as_of=AS_OF, namespace={"customers": CUSTOMERS})


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


def assert_like_polars(result, reference, backend: str) -> None:
    cannot = CANNOT.get(backend, {})
    assert [r.source for r in result.results] == [r.source for r in reference.results]
    for got, want in zip(result.results, reference.results, strict=True):
        if got.source in cannot:
            assert got.status == "error", (backend, got.source, got.status, got.message)
            assert cannot[got.source] in got.message, (backend, got.message)
            continue
        assert got.status == want.status, (backend, got.source, got.message, want.message)
        assert _same(got.observed, want.observed), (backend, got.source, got.observed)
        assert got.failing_count == want.failing_count, (backend, got.source)
        if want.failing_rows is not None:
            assert got.failing_rows is not None and got.failing_rows.height == min(
                want.failing_count, 5
            ), (backend, got.source)
            assert set(got.failing_rows.columns) >= set(want.failing_rows.columns) - {
                "_dataops_row"
            }
    # the reference suite fails and passes lines, and errs on none
    assert {r.status for r in reference.results} == {"pass", "fail"}


def _dask():
    dd = pytest.importorskip("dask.dataframe")
    return dd.from_pandas(orders().to_pandas(), npartitions=2)


def _duckdb():
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("orders_arrow", orders().to_arrow())
    return con.sql("SELECT * FROM orders_arrow")


def _sqlframe():
    pytest.importorskip("sqlframe")
    from sqlframe.duckdb import DuckDBSession

    return DuckDBSession().createDataFrame(orders().to_pandas())


def _ibis(tmp_path):
    ibis = pytest.importorskip("ibis")
    orders().write_parquet(tmp_path / "orders.parquet")
    return ibis.duckdb.connect().read_parquet(tmp_path / "orders.parquet")


@pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")
@pytest.mark.parametrize(
    "backend", ["polars", "sqlite", "postgresql", "duckdb", "dask", "sqlframe", "ibis"]
)
def test_same_suite_same_results_on_every_backend(backend, reference, tmp_path):
    ns = {"customers": CUSTOMERS}
    if backend in ("sqlite", "postgresql"):
        with store_url(backend, tmp_path) as url:
            load(url)
            result = run_checks(url, SPEC, table="orders", as_of=AS_OF)
        assert result.extra["plan"].startswith(f"{backend}: one aggregate query")
    else:
        makers = {"polars": orders, "duckdb": _duckdb, "dask": _dask, "sqlframe": _sqlframe}
        data = _ibis(tmp_path) if backend == "ibis" else makers[backend]()
        result = run_checks(data, SPEC, as_of=AS_OF, namespace=ns)
        if backend != "polars":
            assert f"{backend}: one lazy select" in result.extra["plan"]
    assert result.row_count == 60
    assert_like_polars(result, reference, backend)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_engine_takes_an_engine_a_connection_and_a_namespace_reference(backend, tmp_path):
    with store_url(backend, tmp_path) as url:
        load(url, customers=False)  # no customers table: the reference comes from Python
        engine = sa.create_engine(url)
        try:
            spec = (
                "row_count = 60\nreference_missing_count(customer_id) = 0: in customers.customer_id"
            )
            via_engine = run_checks(
                engine, spec, table="orders", namespace={"customers": CUSTOMERS}
            )
            with engine.connect() as conn:
                via_conn = run_checks(conn, spec, table="orders")
        finally:
            engine.dispose()
    assert [r.status for r in via_engine.results] == ["pass", "fail"]
    assert via_engine.results[1].observed == 12 and via_engine.results[1].failing_count == 12
    # no table and no frame of that name: the check says what to do, the others still run
    assert via_conn.results[0].status == "pass"
    assert via_conn.results[1].status == "error"
    assert "no table 'customers'" in via_conn.results[1].message
    assert "namespace=" in via_conn.results[1].message


def test_postgresql_reads_nan_as_missing_and_runs_a_regex(tmp_path):
    """PostgreSQL stores NaN (SQLite cannot): it is missing, skipped by aggregates."""
    with store_url("postgresql", tmp_path) as url:
        load(url)
        result = run_checks(
            url,
            "missing_count(amount) = 2\navg(amount) > 0\ninvalid_count(email) = 6: valid regex @",
            table="orders",
        )
    assert [r.status for r in result.results] == ["pass", "pass", "pass"], [
        r.message for r in result.results
    ]
    assert math.isclose(result.results[1].observed, orders()["amount"].fill_nan(None).mean())


def test_bad_table_and_bad_url_say_what_to_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load(url)
    with pytest.raises(DataOpsError, match=r"no table 'nope'.*tables: customers, orders"):
        run_checks(url, "row_count > 0", table="nope")
    with pytest.raises(DataOpsError, match="needs the table"):
        run_checks(url, "row_count > 0")
    with pytest.raises(DataOpsError, match="not a database URL"):
        run_checks("orders.db", "row_count > 0", table="orders")
    with pytest.raises(DataOpsError, match="table='orders' is for a database"):
        run_checks(orders(), "row_count > 0", table="orders")


def test_sql_schema_lines_and_missing_columns_use_the_mapped_types(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load(url)
    result = run_checks(
        url,
        "schema: order_id int64, amount float64, created_at datetime\navg(email) > 0\n"
        "missing_count(emial) = 0",
        table="orders",
    )
    statuses = [r.status for r in result.results]
    assert statuses == ["pass", "error", "error"], [r.message for r in result.results]
    assert "avg needs a numeric column" in result.results[1].message
    assert "did you mean 'email'" in result.results[2].message


def test_failing_rows_come_by_limit_not_by_download(tmp_path):
    """A failing check on a 20k-row table returns 5 sample rows and the count from SQL."""
    url = f"sqlite:///{tmp_path / 'big.db'}"
    big = pl.concat([orders()] * 334).with_row_index("rid").drop("rid")
    load(url, big)
    engine = sa.create_engine(url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        result = run_checks(engine, "invalid_count(status) = 0: valid values [new]", table="orders")
    finally:
        engine.dispose()
    (res,) = result.results
    assert res.status == "fail" and res.observed == big.filter(pl.col("status") != "new").height
    assert res.failing_count == res.observed
    assert res.failing_rows.height == 5
    assert set(res.failing_rows["status"].to_list()) <= {"shipped", "returned", "lost"}
    on_orders = [s for s in statements if "FROM orders" in s and "PRAGMA" not in s.upper()]
    # one aggregate query, one count of the offending rows, one LIMIT fetch of 5 of them
    assert len(on_orders) == 3, on_orders
    assert sum("LIMIT" in s.upper() for s in on_orders) == 1


# ---- the command line and the magic --------------------------------------------------------


def _cli(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_cli_checks_a_database_table(backend, tmp_path):
    import json

    spec = tmp_path / "orders.checks"
    spec.write_text("row_count = 60\ninvalid_count(status) = 0: valid values [new, shipped]\n")
    ok = tmp_path / "ok.checks"
    ok.write_text("row_count = 60\nmissing_count(order_id) = 0\n")
    with store_url(backend, tmp_path) as url:
        load(url)
        failing = _cli("check", url, str(spec), "--table", "orders", "--json")
        passing = _cli("check", url, str(ok), "--table", "orders")
        no_table = _cli("check", url, str(ok))
    assert failing.returncode == 1, failing.stderr
    data = json.loads(failing.stdout)
    statuses = [r["status"] for r in data["results"]]
    assert statuses == ["pass", "fail"]
    assert (
        data["results"][1]["observed"]
        == orders().filter(~pl.col("status").is_in(["new", "shipped"])).height
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "PASSED" in passing.stdout
    assert no_table.returncode == 2 and "--table NAME" in no_table.stderr + no_table.stdout


def test_cli_table_with_a_file_is_refused(tmp_path):
    data = tmp_path / "o.parquet"
    orders().write_parquet(data)
    spec = tmp_path / "s.checks"
    spec.write_text("row_count = 60\n")
    proc = _cli("check", str(data), str(spec), "--table", "orders")
    assert proc.returncode == 2
    assert "--table is for a database URL" in proc.stderr + proc.stdout
    assert _cli("check", str(data), str(spec)).returncode == 0


@pytest.fixture()
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_dataops.pipeline.execution import context

    for var in (context.ENV_MODE, context.ENV_STEP_RUN_ID, context.ENV_STORE_URL):
        monkeypatch.delenv(var, raising=False)
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext jupyter_dataops", store_history=False)
    sh.run_cell("%config DataOpsMagics.fail_on = 'never'", store_history=False)
    yield sh
    sh.run_cell("%unload_ext jupyter_dataops", store_history=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_magic_checks_a_url_and_an_engine_variable(shell, backend, tmp_path):
    cell = "row_count = 60\nduplicate_count(order_id) = 0\n"
    with store_url(backend, tmp_path) as url:
        load(url)
        by_url = shell.run_cell(f"%%dataops_test {url} --table orders\n{cell}")
        shell.user_ns["warehouse"] = sa.create_engine(url)
        try:
            by_var = shell.run_cell(f"%%dataops_test warehouse --table orders --name q\n{cell}")
        finally:
            shell.user_ns.pop("warehouse").dispose()
        no_table = shell.run_cell(f"%%dataops_test {url}\n{cell}")
    for res in (by_url, by_var):
        assert res.error_in_exec is None, res.error_in_exec
        assert [r.status for r in res.result.results] == ["pass", "fail"]
        assert res.result.results[1].failing_count == 2
        assert res.result.extra["plan"].startswith(f"{backend}: one aggregate query")
    assert by_url.result.name == "orders" and by_var.result.name == "q"
    assert isinstance(no_table.error_in_exec, DataOpsError)
    assert "--table NAME" in str(no_table.error_in_exec)


@pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")
@pytest.mark.parametrize(
    "backend", ["polars", "sqlite", "postgresql", "duckdb", "dask", "sqlframe", "batched"]
)
def test_most_frequent_values_come_from_every_engine(backend, tmp_path, monkeypatch):
    """The TopValues fact (profiles for suggest and drift) on each engine: a group-by in the
    backend, merged counts in batches; missing values never count. The SQL engine does not
    offer it (yet): it says so."""
    from jupyter_dataops.checks import facts, planner
    from jupyter_dataops.checks.engines.streaming import StreamingEngine
    from jupyter_dataops.checks.inputs import CheckInputs

    frame = pl.DataFrame(
        {
            "tag": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + [None] * 7,
            "x": [1.0] * 4 + [math.nan] * 6 + [2.0] * 7,
        }
    )
    wanted = [facts.TopValues("tag", 2), facts.TopValues("x", 5)]
    ctx = CheckInputs(None, None, None)
    if backend in ("sqlite", "postgresql"):
        with store_url(backend, tmp_path) as url:
            load_tables(url, {"tags": frame}, text=sa.Text)
            plan = planner.native_engine(url, "tags", ctx)
            plan.add(wanted)
            values = plan.execute()
        for fact in wanted:
            assert isinstance(values[fact], facts.Unavailable)
            assert "engine cannot compute TopValues" in values[fact].message
        return
    elif backend == "batched":
        from jupyter_dataops.checks.engines.batched import BatchedEngine

        frame.write_parquet(tmp_path / "t.parquet")
        lf = pl.scan_parquet(tmp_path / "t.parquet")
        plan = BatchedEngine(lf, dict(lf.collect_schema()), ctx, batch_rows=4)
        plan.add(wanted)
        values = plan.execute()
    else:
        data = {
            "polars": lambda: frame.lazy(),
            "duckdb": lambda: _duckdb_of(frame),
            "dask": lambda: pytest.importorskip("dask.dataframe").from_pandas(
                frame.to_pandas(), npartitions=2
            ),
            "sqlframe": lambda: _sqlframe_of(frame),
        }[backend]()
        plan = planner.native_engine(data, None, ctx) or StreamingEngine(
            data, dict(data.collect_schema()), ctx
        )
        plan.add(wanted)
        values = plan.execute()
    assert values[wanted[0]] == [{"value": "a", "count": 5}, {"value": "b", "count": 3}]
    # NaN is missing: only 1.0 (4) and 2.0 (7) count
    assert values[wanted[1]] == [{"value": 2.0, "count": 7}, {"value": 1.0, "count": 4}]


def _duckdb_of(frame: pl.DataFrame):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("f", frame.to_arrow())
    return con.sql("SELECT * FROM f")


def _sqlframe_of(frame: pl.DataFrame):
    pytest.importorskip("sqlframe")
    from sqlframe.duckdb import DuckDBSession

    return DuckDBSession().createDataFrame(frame.rows(), schema="tag string, x double")
