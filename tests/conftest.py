"""Fixtures shared by the test modules: a run store on each backend.

Fixtures:
  ``store_backend`` -> "sqlite" or "postgresql": every test that uses a store runs on both (the
      PostgreSQL case needs DATAOPS_TEST_PG_URL; see ``jupyter_dataops.store.testing``).
  ``store_url`` -> the URL of an empty run store on ``store_backend`` (a SQLite file in
      ``tmp_path`` or a fresh PostgreSQL schema, dropped afterwards).
  ``store`` -> that store opened with ``open_store``, closed after the test.
  ``hook`` -> a real local webhook receiver (``builders.Hook``), closed after the test.

A module that keeps its store on one file overrides ``store_url`` (the widget tests: SQLite only).
Builders (notebooks, projects, a webhook receiver) live in ``tests/builders.py``.
"""

from __future__ import annotations

import os

import pytest
from builders import Hook

from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url as make_store_url

# `dataops run` leaves its project's kernel template serving the next command; in tests (a new
# project each) it should not linger the default ten minutes after the last one
os.environ.setdefault("DATAOPS_WARM_IDLE", "5")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_backend(request):
    return request.param


@pytest.fixture
def store_url(store_backend, tmp_path):
    with make_store_url(store_backend, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()
