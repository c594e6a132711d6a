"""The store's generation: a cheap value that changes whenever anything is committed to it.

A reader that keeps an answer (the REST server's answer cache) asks for the generation before it
reads; while the generation stays the same, nothing was committed since, by this process or any
other, so the kept answer is still the answer. No table or trigger is needed:

- SQLite: ``PRAGMA data_version`` on a connection kept for asking only (it changes when another
  connection, in any process, commits; this one never writes);
- PostgreSQL: the current snapshot (``xmin:xmax:in-progress ids``). Two equal snapshots see the
  same committed rows, so a commit anywhere changes it (other databases' commits too: a few
  needless misses, never a stale answer);
- other databases: ``None`` (nothing is kept).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from sqlalchemy import Engine

from jupyter_dataops.store.engine import BUSY_TIMEOUT_MS


class GenerationProbe:
    """``probe()`` -> the store's generation now (a string), or None when it cannot tell."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._opened = 0  # which asking connection: data_version counts per connection
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        file_db = database and database != ":memory:" and not database.startswith("file:")
        self._sqlite_path = database if file_db else None

    def __call__(self) -> str | None:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return self._sqlite() if self._sqlite_path else None
        if dialect == "postgresql":
            function = (
                "pg_current_snapshot"
                if (self.engine.dialect.server_version_info or (13,)) >= (13,)
                else "txid_current_snapshot"
            )
            with self.engine.connect() as conn:
                snapshot = conn.exec_driver_sql(f"SELECT {function}()::text").scalar()
                conn.rollback()
            return f"pg:{snapshot}"
        return None

    def _sqlite(self) -> str | None:
        try:
            return self._ask_sqlite()
        except sqlite3.Error:  # cannot tell: the reader reads afresh and reports any problem
            self.close()
            return None

    def _ask_sqlite(self) -> str:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():  # a forked child asks anew
                self._conn = sqlite3.connect(
                    self._sqlite_path,
                    isolation_level=None,  # no transaction held open: each ask sees the newest
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                )
                self._pid = os.getpid()
                self._opened += 1
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            return f"sqlite:{self._pid}:{self._opened}:{version}"

    def close(self) -> None:
        """Release the asking connection (the next ask opens a new one)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
