"""The child process of one scheduled run: forked by the scheduler for each claimed tick, it
runs the tick's steps through the same runner as ``dataops run``, ties the claims to the
pipeline run, and dies with its scheduler (PR_SET_PDEATHSIG, and SIGTERM repeated while the
scheduler is gone) so a killed scheduler takes its runs with it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.scheduling.scheduler_log import log_event

if TYPE_CHECKING:
    from jupyter_dataops.pipeline.definition.model import Pipeline
    from jupyter_dataops.store.api import Store

RESIGNAL_SECONDS = 5.0  # a stopped run that has not ended gets SIGTERM again


class _ClaimReporter:
    """Ties the claimed ticks to the pipeline run as soon as it exists."""

    def __init__(self, store: Store, claim_ids: list[int]) -> None:
        self.store = store
        self.claim_ids = claim_ids
        self.run_id: int | None = None

    def run_started(self, run_id: int, plans: Any) -> None:
        self.run_id = run_id
        for cid in self.claim_ids:
            self.store.start_scheduled_run(cid, run_id)

    def step_started(self, step: str, attempt: int) -> None:
        log_event(logging.INFO, "step_started", step=step, attempt=attempt, run_id=self.run_id)

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        log_event(logging.WARNING, "step_retrying", step=step, attempt=attempt, error=error)

    def step_finished(self, outcome: Any) -> None:
        log_event(
            logging.INFO if outcome.status == "success" else logging.WARNING,
            "step_finished",
            step=outcome.step,
            status=outcome.status,
            step_run_id=outcome.step_run_ids[-1] if outcome.step_run_ids else None,
            error=outcome.error,
        )

    def run_finished(self, result: Any) -> None:
        log_event(logging.INFO, "run_finished", run_id=result.run_id, status=result.status)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover
            pass
    if os.getppid() != parent:  # the scheduler died before the line above took effect
        os._exit(130)

    def watch() -> None:
        # PR_SET_PDEATHSIG sends SIGTERM once, and a signal can land where Python cannot raise
        # it (an at-fork hook, say) and be lost: while the scheduler is gone, repeat it.
        while os.getppid() == parent:
            time.sleep(0.5)
        while True:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(RESIGNAL_SECONDS)

    threading.Thread(target=watch, name="dataops-parent-watch", daemon=True).start()


def run_claimed(
    pipeline: Pipeline,
    steps: list[str],
    claim_ids: list[int],
    store_url: str,
    executor: str,
    workers: int | None,
    parent: int,
    partition: str | None = None,
) -> None:
    """In the child: run ``steps`` through the runner; exit 0 (success), 1 (failed), 130
    (stopped: steps recorded ``interrupted``) or 2 (the run could not start)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the scheduler's handler (inherited)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()  # the terminal's Ctrl-C is the scheduler's to handle, not the run's
    _die_with_parent(parent)
    from jupyter_dataops.pipeline.execution.runner import run_pipeline
    from jupyter_dataops.store import open_store

    store = open_store(store_url)
    reporter = _ClaimReporter(store, claim_ids)  # the runner adds alerts and lineage
    code = 0
    try:
        result = run_pipeline(
            pipeline,
            steps,
            [],
            executor=executor,
            workers=workers,
            store=store,
            reporter=reporter,
            trigger="schedule",
            partition=partition,
        )
        code = 0 if result.ok else 1
    except KeyboardInterrupt:  # RunnerStopped (SIGTERM) too: steps are recorded interrupted
        code = 130  # the runner alerted the interrupted steps before raising
    except DataOpsError as exc:
        code = 2
        for cid in claim_ids:
            store.close_scheduled_run(cid, "failed", str(exc))
        log_event(logging.ERROR, "run_not_started", error=str(exc), steps=steps)
    finally:
        store.close()
        logging.shutdown()
    os._exit(code)
