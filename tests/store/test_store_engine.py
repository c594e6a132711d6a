"""Where the store lives, how it connects, and its Alembic migrations (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import SAWarning

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store import ENV_STORE_URL, head_revision, open_store, resolve_store_url
from jupyter_dataops.store.engine import HEAD_REVISION, create_store_engine, current_revision
from jupyter_dataops.store.models import Base
from jupyter_dataops.store.testing import store_url as make_store_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with make_store_url(request.param, tmp_path) as u:
        yield u


def test_default_store_is_a_sqlite_file_beside_the_pipeline_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_STORE_URL, raising=False)
    (tmp_path / "dataops.yaml").write_text("steps: {}\n")
    assert resolve_store_url(tmp_path) == f"sqlite:///{tmp_path / '.dataops' / 'dataops.db'}"
    with open_store(tmp_path) as store:
        assert (tmp_path / ".dataops" / "dataops.db").is_file()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_environment_url_wins_over_the_pipeline_file_and_relative_paths_follow_the_project(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(ENV_STORE_URL, raising=False)
    configured = "sqlite:///shared/runs.db"
    assert resolve_store_url(tmp_path, configured) == f"sqlite:///{tmp_path / 'shared/runs.db'}"
    pg = "postgresql+psycopg://u:p@db.example/dataops"
    assert resolve_store_url(tmp_path, pg) == pg
    monkeypatch.setenv(ENV_STORE_URL, f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve_store_url(tmp_path, pg) == f"sqlite:///{tmp_path / 'env.db'}"


def test_a_malformed_store_url_says_what_to_write(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_STORE_URL, raising=False)
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL.*postgresql\\+psycopg"):
        resolve_store_url(tmp_path, "not a url at all")


def test_an_unknown_driver_names_the_url_and_the_fix():
    with pytest.raises(StoreError, match="No SQLAlchemy driver.*nosuchdb"):
        open_store("nosuchdb://u@h/x")


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with pytest.raises(StoreError, match="Cannot open the run store") as info:
        open_store("postgresql+psycopg://dataops:topsecret@127.0.0.1:1/dataops")
    assert "topsecret" not in str(info.value)
    assert "DATAOPS_STORE_URL" in str(info.value)


def test_a_fresh_database_is_migrated_to_head(url):
    with open_store(url) as store:
        assert current_revision(store.engine) == head_revision()
        tables = set(inspect(store.engine).get_table_names())
    assert {
        "pipelines",
        "steps",
        "step_versions",
        "pipeline_runs",
        "step_runs",
        "check_results",
        "metrics",
        "lineage",
        "alembic_version",
    } <= tables


def _migrated_one_by_one(url: str) -> Engine:
    """The store at ``url`` made by running every migration from the first (``open_store``
    makes a new one from the models in one step)."""
    from alembic import command

    from jupyter_dataops.store.engine import alembic_config

    engine = create_store_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return engine


def _schema(engine: Engine) -> dict:
    """Everything a store's schema is made of, table by table, as the database reports it:
    columns (type, nullability, default), keys, foreign keys, unique and check constraints,
    and each index with the statement that makes it (so expression indexes are compared too)."""
    insp = inspect(engine)
    # SQLite's reflection skips expression indexes (with a warning): the statements that made
    # them, from sqlite_master below, compare them
    warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)

    def names(items, *fields):
        return sorted(
            tuple(tuple(v) if isinstance(v, list) else v for v in (i.get(f) for f in fields))
            for i in items
        )

    tables = {}
    for table in insp.get_table_names():
        tables[table] = {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
                for c in insp.get_columns(table)
            },
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": names(
                insp.get_foreign_keys(table),
                "name",
                "constrained_columns",
                "referred_table",
                "referred_columns",
            ),
            "indexes": names(
                insp.get_indexes(table), "name", "column_names", "expressions", "unique"
            ),
            "uniques": names(insp.get_unique_constraints(table), "name", "column_names"),
            "checks": names(insp.get_check_constraints(table), "name", "sqltext"),
        }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            made = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
            schema = ""
        else:
            made = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
            schema = f"{conn.exec_driver_sql('SELECT current_schema()').scalar()}."
        index_sql = {
            name: " ".join(sql.replace('"', "").replace(schema or "\0", "").split())
            for name, sql in made
        }
    return {"tables": tables, "index_sql": index_sql}


def test_a_new_store_made_from_the_models_is_the_store_the_migrations_make(url, tmp_path):
    """``open_store`` makes an empty database's schema from the models (Alembic's "create_all,
    then stamp head"): table by table, the same as running every migration from the first."""
    with open_store(url) as store:
        made = _schema(store.engine)
        assert current_revision(store.engine) == HEAD_REVISION
    (tmp_path / "chain").mkdir()
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    with make_store_url(backend, tmp_path / "chain") as u:
        engine = _migrated_one_by_one(u)
        try:
            migrated = _schema(engine)
            assert current_revision(engine) == HEAD_REVISION
        finally:
            engine.dispose()
    assert set(made["tables"]) == set(migrated["tables"])
    for table in made["tables"]:
        assert made["tables"][table] == migrated["tables"][table], table
    assert made["index_sql"] == migrated["index_sql"]


# SQLite cannot reflect expression indexes: autogenerate skips them there (PostgreSQL compares
# them); the test above compares their CREATE INDEX statements on both.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_and_migrations_describe_the_same_schema(url):
    engine = _migrated_one_by_one(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_store_made_from_the_models_takes_the_next_migration(url):
    """A later release's migration moves the version row the fresh path wrote."""
    from alembic import command

    from jupyter_dataops.store.engine import alembic_config

    open_store(url).close()
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0015")
        assert current_revision(engine) == "0015"
    finally:
        engine.dispose()
    with open_store(url) as store:
        assert current_revision(store.engine) == HEAD_REVISION


def test_processes_opening_one_new_store_together_make_it_once(url):
    code = (
        "from jupyter_dataops.store import open_store\n"
        f"with open_store({url!r}) as store:\n"
        "    store.create_pipeline_run('p')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with open_store(url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pipeline_runs").scalar() == 4
        assert current_revision(store.engine) == HEAD_REVISION


def test_opening_a_store_at_head_changes_nothing(url):
    open_store(url).close()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with open_store(url) as store:
            assert store.count_runs() == 0
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    writes = [
        s
        for s in statements
        if s.lstrip().split(" ", 1)[0].upper()
        in ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
    ]
    assert statements and writes == []


def test_the_head_revision_constant_is_alembics_head():
    # A new migration must bump HEAD_REVISION, or stores would never be migrated to it.
    from jupyter_dataops.store.engine import HEAD_REVISION, script_head

    assert HEAD_REVISION == script_head() == head_revision()


def test_opening_a_store_at_head_does_not_import_alembic(url):
    open_store(url).close()  # migrates the fresh store (this process imports Alembic)
    code = (
        "import sys\n"
        "from jupyter_dataops.store import open_store\n"
        f"with open_store({url!r}) as store:\n"
        "    assert store.count_runs() == 0\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'alembic'], 'alembic imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_empty_database_is_migrated_even_when_another_table_exists(url):
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with open_store(url) as store:
        assert current_revision(store.engine) == head_revision()
        assert store.count_runs() == 0


def test_a_store_from_a_newer_version_is_refused_with_advice(url):
    with open_store(url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dface'"))
    with pytest.raises(StoreError, match="'f00dface'.*newer version.*Upgrade jupyter-dataops"):
        open_store(url)


def test_migrations_ship_inside_the_package():
    import jupyter_dataops.store as pkg

    folder = Path(pkg.__file__).with_name("migrations")
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert list((folder / "versions").glob("0001_*.py"))


def test_a_store_at_an_older_revision_is_upgraded_on_open_keeping_its_runs(url):
    from alembic import command

    from jupyter_dataops.store.engine import alembic_config

    engine = create_store_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO pipelines (id, name, created_at) VALUES (1, 'old', :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
    engine.dispose()
    assert head_revision() != "0001"
    with open_store(url) as store:
        assert current_revision(store.engine) == head_revision()
        assert [p["name"] for p in store.list_pipelines()] == ["old"]
        indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("metrics")}
    assert "ix_metrics_step_id_key_step_run_id_value" in indexes
    assert "ix_metrics_step_id_key_step_run_id" not in indexes


def test_a_store_locked_by_another_writer_gives_advice_instead_of_hanging_forever(
    tmp_path, monkeypatch
):
    import sqlite3

    from jupyter_dataops.store import engine as engine_module

    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        run = store.create_pipeline_run("sales")
        blocker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 200)  # wait 0.2 s, not 30 s
            fresh = open_store(url)
            with pytest.raises(StoreError, match="busy for more than 0.2 s.*PostgreSQL"):
                fresh.finish_pipeline_run(run)
            fresh.close()
        finally:
            blocker.rollback()
            blocker.close()


def test_postgresql_tests_skip_without_a_server_but_fail_when_ci_requires_one(monkeypatch):
    from jupyter_dataops.store.testing import pg_url_or_skip

    monkeypatch.delenv("DATAOPS_TEST_PG_URL", raising=False)
    monkeypatch.delenv("DATAOPS_REQUIRE_PG", raising=False)
    with pytest.raises(pytest.skip.Exception):
        pg_url_or_skip()
    monkeypatch.setenv("DATAOPS_REQUIRE_PG", "1")
    with pytest.raises(pytest.fail.Exception, match="DATAOPS_REQUIRE_PG=1"):
        pg_url_or_skip()
    monkeypatch.setenv("DATAOPS_TEST_PG_URL", "postgresql+psycopg://u:p@h/db")
    assert pg_url_or_skip() == "postgresql+psycopg://u:p@h/db"
