"""Where the run store lives, how to connect to it, and bringing its schema to the newest version.

Opening a store that is already at the newest schema costs one plain query (the
``alembic_version`` row compared with ``HEAD_REVISION``); Alembic is imported only when a
migration really has to run, because importing it costs every kernel and every ``dataops``
command most of a second. A new (empty) database is made from the models and stamped head, as
Alembic's documentation recommends, instead of running every migration from the first.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from jupyter_dataops.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# The newest revision in migrations/versions. A new migration must update it:
# tests/store/test_store_engine.py checks it against Alembic's ScriptDirectory head.
HEAD_REVISION = "0017"

ENV_STORE_URL = "DATAOPS_STORE_URL"
DEFAULT_DB = Path(".dataops") / "dataops.db"
BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
WRITE = "dataops_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
_PG_MIGRATION_LOCK = 0x6461_7461_6F70  # pg_advisory_xact_lock key ("dataop")


def resolve_store_url(project_dir: str | os.PathLike | None, configured: str | None = None) -> str:
    """The SQLAlchemy URL of a project's run store.

    Precedence: ``DATAOPS_STORE_URL`` in the environment, then ``configured`` (the store URL of the
    pipeline file), then ``sqlite:///<project_dir>/.dataops/dataops.db``. A relative SQLite path is
    taken relative to ``project_dir``, so the store sits beside ``dataops.yaml`` wherever the
    command runs from.
    """
    base = Path(project_dir or ".").expanduser().resolve()
    url = os.environ.get(ENV_STORE_URL, "").strip() or (configured or "").strip()
    if not url:
        return f"sqlite:///{base / DEFAULT_DB}"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"The run store URL {url!r} is not a valid SQLAlchemy URL ({exc}). Use e.g. "
            "'sqlite:///.dataops/dataops.db' or 'postgresql+psycopg://user:password@host/db'."
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database).expanduser()
        if not db.is_absolute():
            parsed = parsed.set(database=str(base / db))
        return parsed.render_as_string(hide_password=False)
    return url


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def create_store_engine(url: str) -> Engine:
    """An engine for the store: SQLite gets WAL, a busy timeout and explicit BEGIN handling."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"The run store URL {url!r} is not a valid SQLAlchemy URL: {exc}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship and test; plain postgresql:// would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if backend == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_events(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StoreError(
            f"No SQLAlchemy driver for the run store URL {_redacted(url)!r} ({exc}). For "
            "PostgreSQL use 'postgresql+psycopg://...' and `pip install \"psycopg[binary]\"`."
        ) from None
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"The database driver for {_redacted(url)!r} is not installed ({exc.name}). "
            'Install it with pip (PostgreSQL: `pip install "psycopg[binary]"`).'
        ) from None
    return engine


def _wal(cur) -> None:  # noqa: ANN001
    """Switch the database to WAL. SQLite answers "database is locked" at once, without its busy
    handler, when another connection holds a write lock on a store not yet in WAL (processes
    opening a fresh store together): wait for it like any busy write, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # pysqlite's own transaction handling starts transactions late (on the first write), which
        # lets two writers deadlock; we switch it off and issue BEGIN ourselves (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # Writers take the write lock up front, so a busy database waits (busy_timeout) instead of
        # failing half-way with "database is locked".
        immediate = conn.get_execution_options().get(WRITE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Config:
    """The Alembic configuration of the migrations shipped inside the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest schema revision this package knows (``HEAD_REVISION``)."""
    return HEAD_REVISION


def script_head() -> str:
    """The head revision according to Alembic's scripts (imports Alembic; for tests and tools)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no Alembic revisions under {MIGRATIONS_DIR / 'versions'}")
    return head


class _Unreadable(Exception):  # internal signal, never reaches a user
    """The version table could not be read plainly: let Alembic look (slow path)."""


def _read_revisions(conn) -> list[str]:  # noqa: ANN001
    """The rows of ``alembic_version`` (empty when the store has no schema yet), one query."""
    try:
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
        return [str(v) for v in rows]
    except OperationalError as exc:
        if "no such table" in str(exc.orig):  # SQLite: an empty database
            return []
        raise
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
            return []
        raise _Unreadable(str(exc.orig)) from None


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database, ``None`` when it is empty."""
    with engine.connect() as conn:
        try:
            revisions = _read_revisions(conn)
        except _Unreadable:
            revisions = []
        finally:
            conn.rollback()
    return revisions[0] if len(revisions) == 1 else (",".join(revisions) or None)


def migrate(engine: Engine) -> bool:
    """Bring the store schema to head; returns whether anything ran.

    At head it costs one plain query and no Alembic import. Otherwise the upgrade runs in one
    transaction holding a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so
    processes opening a fresh store together migrate it once.
    """
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            try:
                revisions: list[str] | None = _read_revisions(conn)
            except _Unreadable:
                revisions = None
            finally:
                conn.rollback()
        if revisions == [HEAD_REVISION]:
            return False
        if revisions == [] and _create_fresh(engine):
            return True
        return _upgrade(engine, url, revisions)
    except OperationalError as exc:
        raise operational_error("open", url, exc) from None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the migration lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
    advisory lock), so processes opening a fresh store together change its schema once."""
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        yield conn


def _version_table() -> Table:
    """``alembic_version`` as Alembic makes it (``MigrationContext``: one ``String(32)``
    column, primary key ``alembic_version_pkc``), so later upgrades read and move it."""
    return Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )


def _create_fresh(engine: Engine) -> bool:
    """An empty database gets the head schema from the models, stamped ``HEAD_REVISION``, in
    one transaction: Alembic's recipe for a new database ("create_all, then stamp head"),
    without importing Alembic or running every migration (0.03-0.08 s, not 0.2-0.7 s, here).
    ``tests/store/test_store_engine.py`` proves the two schemas the same, table by table.

    False (nothing done) when the database holds a table of the store after all (another
    process made it meanwhile, or a half-made store): the upgrade then looks, under its lock."""
    from sqlalchemy import inspect

    from jupyter_dataops.store.models import Base

    version = _version_table()
    with _migration_lock(engine) as conn:
        present = set(inspect(conn).get_table_names())
        if present & {*Base.metadata.tables, version.name}:
            return False
        Base.metadata.create_all(conn, checkfirst=False)
        version.create(conn)
        conn.execute(version.insert().values(version_num=HEAD_REVISION))
    return True


def _upgrade(engine: Engine, url: str, seen: list[str] | None) -> bool:
    """Run the Alembic upgrade to head under the migration lock (imports Alembic).

    ``seen``: the revisions the plain read found (None: unreadable); a revision newer than this
    package is refused before any lock is taken.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    for revision in seen or ():
        _check_known(script, revision, url)
    with _migration_lock(engine) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return False
        _check_known(script, current, url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    vacuum_analyze(engine, cfg.attributes.get(TIDY_TABLES, ()))
    return True


# The tables the upgrade's migrations filled or indexed anew (``tidy_after_upgrade``)
TIDY_TABLES = "dataops_tidy_tables"


def tidy_after_upgrade(*tables: str) -> None:
    """Called by a migration that fills columns or builds indexes: on PostgreSQL, once the whole
    upgrade has committed, ``tables`` are vacuumed and analyzed (``vacuum_analyze``)."""
    from alembic import context, op

    if op.get_bind().dialect.name == "postgresql":
        context.config.attributes.setdefault(TIDY_TABLES, set()).update(tables)


def vacuum_analyze(engine: Engine, tables: Iterable[str]) -> None:
    """``VACUUM (ANALYZE)`` ``tables`` on PostgreSQL, outside any transaction (VACUUM cannot run
    in one). ANALYZE gives the planner statistics of new columns and indexes; VACUUM sets the
    visibility map that index-only scans need after rows were rewritten. Without them a store
    just migrated reads the tables' rows (a chart window 0.5 s instead of 0.07 s at 1M runs)
    until autovacuum comes by. Not done (the role does not own the table, the server refused):
    a warning, and autovacuum does it later; the migration itself has committed."""
    names = sorted(set(tables))
    if engine.dialect.name != "postgresql" or not names:
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.exec_driver_sql(f'VACUUM (ANALYZE) "{name}"')
    except DBAPIError as exc:
        warnings.warn(
            f"The run store was migrated, but VACUUM ANALYZE of {', '.join(names)} failed "
            f"({str(exc.orig).strip()}): its queries may be slow until autovacuum has visited "
            "them. Run `VACUUM ANALYZE` on those tables as their owner to speed them up now.",
            stacklevel=2,
        )


def operational_error(action: str, url: str, exc: OperationalError) -> StoreError:
    """A StoreError that says what to do about a database the store cannot use."""
    reason = str(exc.orig).strip()
    if "locked" in reason or "busy" in reason:
        advice = (
            f"Another process kept the store busy for more than {BUSY_TIMEOUT_MS / 1000:g} s; "
            "try again, and for many parallel runners use a server database (PostgreSQL)."
        )
    elif url.startswith("sqlite"):
        advice = "Check that the folder exists and is writable, and that the file is a SQLite file."
    else:
        advice = (
            "Check that the database server is running and the URL "
            f"({ENV_STORE_URL} or the pipeline file) is right."
        )
    return StoreError(f"Cannot {action} the run store {url}: {reason}. {advice}")


def _check_known(script: ScriptDirectory, current: str | None, url: str) -> None:
    if current is None:
        return
    try:
        script.get_revision(current)
    except Exception:  # alembic raises ResolutionError / CommandError subclasses
        raise StoreError(
            f"The run store {url} has schema revision {current!r}, which this version of "
            "jupyter-dataops does not know: it was written by a newer version. Upgrade "
            "jupyter-dataops (pip install -U jupyter-dataops)."
        ) from None
