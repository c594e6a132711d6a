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

``pytest_collection_modifyitems`` puts the long tests first (see ``_rank``), so that under
``pytest -n 2 --dist worksteal`` no long test starts last and makes a tail.
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


def _rank(item: pytest.Item) -> int:
    """Where a test's module goes in the run order (stable: each module stays together, in its
    own order, so module- and package-scoped fixtures are still set up once per worker):

    0. ``tests/browser``: a seeded project, a lab server and chromium shared by the package
       (~45 s to set up). First, so the worker that takes the first half of the list runs them
       all and pays that set-up once, not on both workers.
    1. a module with a test marked ``slow`` (real kernels, servers, Airflow, the demo).
    2. the rest (quick, pure Python): what is left when the long ones are done, the tail.
    """
    if item.path.parent.name == "browser" and item.path.parent.parent.name == "tests":
        return 0
    return 1 if item.get_closest_marker("slow") else 2


@pytest.hookimpl(trylast=True)  # after pytest's own fixture-scope ordering, which it keeps
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    module_rank: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        module_rank[module] = min(module_rank.get(module, 2), _rank(item))
    items.sort(key=lambda item: module_rank[item.nodeid.split("::", 1)[0]])


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
