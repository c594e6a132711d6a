"""The SQL engine on MySQL/MariaDB (a real MariaDB in CI), and on dialects it is not tested on.

``DATAOPS_TEST_MYSQL_URL`` names a MariaDB or MySQL database (``.ci/start-mariadb.sh`` exports
it); each test gets a database of its own there, dropped afterwards. Without the variable the
MariaDB cases skip, unless ``DATAOPS_REQUIRE_MYSQL=1`` (CI), where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import sqlalchemy as sa
from test_checks_sql import AS_OF, CUSTOMERS, SPEC, assert_like_polars, load, orders

from jupyter_dataops.checks import run_checks
from jupyter_dataops.store.testing import server_url_or_skip

MYSQL_URL_ENV = "DATAOPS_TEST_MYSQL_URL"
REQUIRE_MYSQL_ENV = "DATAOPS_REQUIRE_MYSQL"


def mysql_url_or_skip() -> str:
    return server_url_or_skip(
        MYSQL_URL_ENV, REQUIRE_MYSQL_ENV, "source .ci/start-mariadb.sh to start a test MariaDB"
    )


@contextmanager
def mysql_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server (dropped afterwards)."""
    base = sa.make_url(mysql_url_or_skip())
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def test_same_suite_same_results_on_mariadb():
    """The cross-engine suite of test_checks_sql: the polars engine's statuses, observed values
    and failing rows, except what the dialect cannot express (``CANNOT["mysql"]``)."""
    reference = run_checks(orders(), SPEC, as_of=AS_OF, namespace={"customers": CUSTOMERS})
    # MySQL stores no NaN: the NaN amount goes in as NULL (missing either way, as in SQLite)
    frame = orders().with_columns(pl.col("amount").fill_nan(None))
    with mysql_database() as url:
        load(url, frame)
        result = run_checks(url, SPEC, table="orders", as_of=AS_OF)
    assert result.extra["plan"].startswith("mysql: one aggregate query"), result.extra["plan"]
    assert result.row_count == 60
    assert_like_polars(result, reference, "mysql")


def test_mariadb_regex_and_length_match_polars_text_values_follow_the_collation():
    """REGEXP is case-sensitive as in polars (though the collation is not), lengths count
    characters, not bytes; ``valid values`` compares by the (case-insensitive) collation."""
    frame = pl.DataFrame({"s": ["abc", "ABC", "héé", "ab", None], "n": [1, 2, 3, 4, 5]})
    spec = (
        "invalid_count(s) = 0: valid regex ^[a-z]+$\n"
        "invalid_count(s) = 0: valid length 3 .. 3\n"
        "invalid_count(s) = 0: valid values [abc, héé, ab]\n"
    )
    polars = run_checks(frame, spec)
    with mysql_database() as url:
        engine = sa.create_engine(url)
        try:
            md = sa.MetaData()
            table = sa.Table("t", md, sa.Column("s", sa.String(20)), sa.Column("n", sa.Integer))
            md.create_all(engine)
            with engine.begin() as conn:
                conn.execute(table.insert(), frame.to_dicts())
            result = run_checks(engine, spec, table="t")
        finally:
            engine.dispose()
    observed = [r.observed for r in result.results]
    assert observed[:2] == [r.observed for r in polars.results[:2]] == [2, 1], [
        r.message for r in result.results
    ]
    # 'ABC' is one of [abc, ...] under utf8mb4_general_ci; polars says it is not
    assert polars.results[2].observed == 1 and observed[2] == 0


def test_a_dialect_not_tested_says_so_and_plain_sql_still_runs(tmp_path):
    """SQLite standing in for a dialect the engine is not tested on (its name set to oracle):
    the checks needing the dialect's own SQL report an error naming the dialect and the
    supported ones; counts and comparisons (plain SQL) still run."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load(url)
    engine = sa.create_engine(url)
    engine.dialect.name = "oracle"
    spec = (
        "row_count = 60\n"
        "invalid_percent(email) < 5%: valid regex ^[^@]+@[^@]+\\.[^@]+$\n"
        "invalid_count(day) = 0: valid format date\n"
        "invalid_count(code) = 0: valid length 2 .. 4\n"
        "stddev(amount) < 10\n"
        "median(amount) < 30\n"
        "percentile(amount, 0.9) < 60\n"
        "invalid_count(status) = 0: valid values [new, shipped, returned]\n"
    )
    try:
        result = run_checks(engine, spec, table="orders")
    finally:
        engine.dispose()
    statuses = [r.status for r in result.results]
    assert statuses == ["pass", *["error"] * 6, "fail"], [r.message for r in result.results]
    checks = ["valid regex", "valid format", "valid length", "stddev", "median", "percentile"]
    for res, check in zip(result.results[1:7], checks, strict=True):
        assert res.message.startswith(
            f"{check} is not supported on dialect 'oracle': supported are postgresql, sqlite, "
            "mysql/mariadb"
        ), res.message
