"""Forking step workers safely from a process that has threads.

The runner, the scheduler and a test process all fork: the local executor's and the backfill's
pool workers, the scheduler's run children. A forked child keeps only the forking thread; what
the other threads held becomes garbage there, and the child's garbage collector then finalizes
objects (database connections, sockets, a library's thread pool) whose threads and locks do not
exist in the child. CI saw a pool worker die of a segmentation fault inside such a collection.

The cure is the one the ``gc`` documentation gives for fork without exec: freeze every object
right before the fork (the child inherits them in the permanent generation, which its collector
never examines), and unfreeze them in the parent once the children exist.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager


@contextmanager
def frozen_for_fork() -> Iterator[None]:
    """Fork inside this block: children never collect (or finalize) what the parent had.

    The parent's objects go back to its collector when the block ends, unless they were already
    frozen when it began (a forked child forking in turn keeps its inheritance frozen)."""
    already = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()


def worker_init() -> None:
    """In each pool worker: die with the runner, so a killed runner leaves no orphan kernels.

    The initializer of every process pool that runs step attempts (the local executor's, the
    demo's backfill)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the runner's handler, inherited by fork
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        except OSError:  # pragma: no cover - no libc: the kernel's own parent poller still acts
            pass


def _pid() -> int:
    return os.getpid()


def started_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for step attempts with all ``workers`` started now.

    Forked where the platform allows (a worker starts in milliseconds, with papermill already
    imported) and spawned elsewhere; forked from frozen objects (``frozen_for_fork``). Started
    at once, before the caller starts its own threads (a progress display, partition threads)."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=worker_init,
    )
    with frozen_for_fork():
        for f in [pool.submit(_pid) for _ in range(workers)]:
            f.result()
    return pool
