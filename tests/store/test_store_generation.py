"""``Store.generation``: it changes with every commit, by this process or another, and stays
the same while nothing is committed (what the REST server's kept answers rely on).

On PostgreSQL the generation is the server's snapshot, which any commit on that server moves
(other tests' too), so "holds while only reading" is asserted on SQLite only."""

from __future__ import annotations

import subprocess
import sys

from jupyter_dataops.store import open_store


def record_run(store, pipeline: str = "shop") -> int:
    prid = store.create_pipeline_run(pipeline)
    srid = store.create_step_run(prid, "orders")
    store.finish_step_run(srid, "success")
    return srid


def test_the_generation_holds_while_only_reading_and_moves_with_each_commit(
    store, store_url, store_backend
):
    record_run(store)
    before = store.generation()
    assert before is not None
    store.list_runs(limit=5)
    store.count_runs()
    if store_backend == "sqlite":
        assert store.generation() == before  # reading commits nothing
    before = store.generation()

    with open_store(store_url) as other:  # another engine: another connection, as a worker
        srid = record_run(other)
    after_run = store.generation()
    assert after_run != before
    assert store.list_runs(limit=1)[0]["id"] == srid

    store.finish_step_run(srid, "failed", error="replayed")  # this store's own write too
    assert store.generation() != after_run


def test_a_commit_by_another_process_moves_the_generation(store, store_url):
    record_run(store)
    before = store.generation()
    code = (
        "import sys; from jupyter_dataops.store import open_store\n"
        "s = open_store(sys.argv[1]); p = s.create_pipeline_run('shop')\n"
        "s.create_step_run(p, 'orders'); s.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, store_url], check=True, timeout=120)
    assert store.generation() != before
    assert store.count_runs() == 2


def test_a_closed_store_still_tells_its_generation(store, store_backend):
    record_run(store)
    store.close()  # releases connections; the cached store stays usable
    first = store.generation()
    assert first is not None
    if store_backend == "sqlite":
        assert store.generation() == first
    record_run(store)
    assert store.generation() != first
