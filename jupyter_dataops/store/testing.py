"""Test helpers: run the same tests on SQLite and on a real PostgreSQL.

``DATAOPS_TEST_PG_URL`` names a PostgreSQL database (``.ci/start-postgres.sh`` exports it); each
test gets its own schema there, so suites may run side by side. Without the variable the
PostgreSQL cases skip, unless ``DATAOPS_REQUIRE_PG=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL_ENV = "DATAOPS_TEST_PG_URL"
REQUIRE_PG_ENV = "DATAOPS_REQUIRE_PG"
BACKENDS = ("sqlite", "postgresql")


def server_url_or_skip(url_env: str, require_env: str, how: str) -> str:
    """The test server URL in ``url_env``; skips the test when unset, fails it when
    ``require_env`` is set (CI requires the server). ``how`` says how to start one."""
    import pytest

    url = os.environ.get(url_env, "").strip()
    if url:
        return url
    msg = f"{url_env} is not set ({how})"
    if os.environ.get(require_env, "").strip() in ("1", "true", "yes"):
        pytest.fail(f"{require_env}=1 but {msg}", pytrace=False)
    pytest.skip(msg)
    raise AssertionError("unreachable")


def pg_url_or_skip() -> str:
    """The test PostgreSQL URL; skips the test when unset, fails it when CI requires PostgreSQL."""
    return server_url_or_skip(
        PG_URL_ENV, REQUIRE_PG_ENV, "source .ci/start-postgres.sh to start a test PostgreSQL"
    )


@contextmanager
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty run store on ``backend`` (``sqlite`` file in ``tmp_path`` or a fresh
    PostgreSQL schema, dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    base = make_url(pg_url_or_skip())
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        query = dict(base.query)
        query["options"] = f"-csearch_path={schema}"
        url = base.set(query=query).render_as_string(hide_password=False)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


__all__ = ["BACKENDS", "PG_URL_ENV", "REQUIRE_PG_ENV", "pg_url_or_skip", "store_url"]
