"""Alembic environment of the run store.

Migrations run programmatically from ``jupyter_dataops.store.engine.migrate``, which passes an open
connection in ``config.attributes["connection"]``. ``alembic`` on the command line also works
with ``-x url=...`` (for writing new revisions with ``--autogenerate``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from jupyter_dataops.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copy-and-move
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    from jupyter_dataops.store.engine import TIDY_TABLES, vacuum_analyze

    vacuum_analyze(engine, config.attributes.get(TIDY_TABLES, ()))  # after the commit


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
