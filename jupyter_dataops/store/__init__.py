"""The run store: every pipeline, step version, run, check result, metric and lineage record.

SQLite beside ``dataops.yaml`` by default; any SQLAlchemy URL (PostgreSQL via psycopg 3) for
teams. See ``docs/ARCHITECTURE.md`` ("store") for the contract the front doors rely on.
"""

from __future__ import annotations

from jupyter_dataops.store.api import Store, open_store, pid_alive
from jupyter_dataops.store.engine import ENV_STORE_URL, head_revision, resolve_store_url
from jupyter_dataops.store.models import CHECK_STATUSES, MODES, STATUSES
from jupyter_dataops.store.redact import REDACTED, is_secret_name, redact_parameters

__all__ = [
    "CHECK_STATUSES",
    "ENV_STORE_URL",
    "MODES",
    "REDACTED",
    "STATUSES",
    "Store",
    "head_revision",
    "is_secret_name",
    "open_store",
    "pid_alive",
    "redact_parameters",
    "resolve_store_url",
]
