"""Forked step workers never finalize what their parent held (CI: a worker segfaulted in gc).

Each test leaves a garbage cycle with a finalizer in the parent, uncollected, then forks. The
finalizer records the pid of the process that runs it: it must be the parent's, never a child's.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from pathlib import Path

import pytest

from jupyter_dataops.pipeline.execution.executors import LocalExecutor
from jupyter_dataops.pipeline.execution.forking import frozen_for_fork, started_pool
from jupyter_dataops.store import open_store


class _Finalized:
    """One half of a reference cycle; its finalizer appends the current pid to ``log``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.other = self

    def __del__(self) -> None:
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()}\n")


def _pids(log: Path) -> list[int]:
    return [int(x) for x in log.read_text().split()] if log.exists() else []


@pytest.fixture
def garbage(tmp_path):
    """A cycle with a finalizer that only a collection can free, left uncollected."""
    log = tmp_path / "finalized.log"
    gc.collect()
    gc.disable()
    try:
        _Finalized(log)  # unreachable at once: only the collector can free it
        yield log
    finally:
        gc.enable()


def test_a_pool_worker_never_collects_its_parents_garbage(garbage):
    pool = started_pool(2)
    try:
        assert gc.get_freeze_count() == 0  # the parent's objects are its collector's again
        collected = [pool.submit(gc.collect) for _ in range(4)]
        worker_pids = {pool.submit(os.getpid).result() for _ in range(4)}
        assert all(f.result() >= 0 for f in collected)
        assert pool.submit(gc.get_freeze_count).result() > 0
    finally:
        pool.shutdown()
    assert not set(_pids(garbage)) & worker_pids, "a worker ran a finalizer of its parent"
    gc.collect()
    assert _pids(garbage) == [os.getpid()]  # the parent still frees it, once


def test_without_the_freeze_a_forked_child_would_finalize_it(garbage):
    """The hazard itself: a plain fork collects (and finalizes) the parent's garbage."""
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=gc.collect)
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert _pids(garbage) == [child.pid]
    gc.collect()


def test_a_scheduler_style_child_forked_in_the_block_leaves_it_alone(garbage):
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=gc.collect)
    with frozen_for_fork():
        child.start()
    child.join(60)
    assert child.exitcode == 0
    assert gc.get_freeze_count() == 0
    assert _pids(garbage) == []
    gc.collect()
    assert _pids(garbage) == [os.getpid()]


def test_a_nested_fork_keeps_the_inherited_objects_frozen():
    def inner(queue) -> None:
        with frozen_for_fork():
            pass
        queue.put(gc.get_freeze_count())

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with frozen_for_fork():
        child = ctx.Process(target=inner, args=(queue,))
        child.start()
    assert queue.get(timeout=60) > 0
    child.join(60)


def test_the_local_executor_forks_its_workers_frozen(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    executor = LocalExecutor(store, workers=1)
    executor.open()
    try:
        assert executor._pool is not None
        assert executor._pool.submit(gc.get_freeze_count).result() > 0
        assert gc.get_freeze_count() == 0
    finally:
        executor.close()
