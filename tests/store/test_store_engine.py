"""Where the store lives, how it connects, and its Alembic migrations (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text

from jupyter_dataops.errors import StoreError
from jupyter_dataops.store import ENV_STORE_URL, head_revision, open_store, resolve_store_url
from jupyter_dataops.store.engine import create_store_engine, current_revision
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


def test_models_and_migrations_describe_the_same_schema(url):
    with open_store(url) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


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
