"""What watches a run: the ``RunObserver`` hooks, and ``Watched``, the runner's reporter with the
observers hung on it.

The runner itself attaches the observers (``observers.attach.watch``), so every way a run
starts — ``dataops run``, the scheduler, "Run now", an Airflow task, any executor — is watched
the same way; no caller has to remember to add one. An observer never changes a run: a hook that
raises is logged and the run goes on.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.observers")


class RunObserver:
    """Hooks on one run's lifecycle; each does nothing unless overridden. Built per run as
    ``cls(pipeline, store)`` (``store``: the run's store, open for the whole run)."""

    def __init__(self, pipeline: Any, store: Store) -> None:
        self.pipeline = pipeline
        self.store = store

    @classmethod
    def enabled(cls, pipeline: Any) -> bool:
        """Whether this observer watches runs of ``pipeline`` (e.g. alerts configured)."""
        return True

    def run_started(self, run_id: int, plans: dict[str, Any]) -> None:
        """The pipeline run and its queued step runs are recorded."""

    def step_started(self, step: str, attempt: int) -> None:
        """An attempt is running."""

    def attempt_finished(self, plan: Any, step_run_id: int, result: Any) -> None:
        """An attempt's step run is finished in the store (retried attempts too), before
        ``step_retrying`` or ``step_finished``. ``result``: the ``AttemptResult``."""

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        """A failed attempt will be retried after ``delay`` seconds."""

    def step_finished(self, outcome: Any) -> None:
        """A step ended (``success``, ``failed`` or ``skipped``); its record is committed."""

    def run_finished(self, result: Any) -> None:
        """The run ended and is recorded (``RunResult``)."""

    def run_interrupted(self, run_id: int) -> None:
        """Ctrl-C or a signal stopped the run; its unfinished steps are recorded
        ``interrupted``."""

    def close(self, timeout: float) -> None:
        """Deliver what is still pending, waiting at most ``timeout`` seconds (the process
        may exit right after the run: a CLI, an Airflow task, the server's worker)."""


class Watched:
    """The runner's reporter: each event goes to the caller's reporter (a terminal display, the
    scheduler's claim bookkeeping...), then to every observer, which never raise into the run."""

    def __init__(self, reporter: Any, observers: list[RunObserver]) -> None:
        self.reporter = reporter
        self.observers = observers

    def __getattr__(self, name: str) -> Any:  # e.g. RichReporter.stop()
        return getattr(self.reporter, name)

    def _notify(self, hook: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(*args)
            except Exception as exc:  # noqa: BLE001 - an observer never fails a run
                log.warning(
                    "%s.%s failed: %s: %s", type(observer).__name__, hook, type(exc).__name__, exc
                )

    def run_started(self, run_id: int, plans: dict[str, Any]) -> None:
        self.reporter.run_started(run_id, plans)
        self._notify("run_started", run_id, plans)

    def step_started(self, step: str, attempt: int) -> None:
        self.reporter.step_started(step, attempt)
        self._notify("step_started", step, attempt)

    def attempt_finished(self, plan: Any, step_run_id: int, result: Any) -> None:
        self._notify("attempt_finished", plan, step_run_id, result)

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        self.reporter.step_retrying(step, attempt, error, delay)
        self._notify("step_retrying", step, attempt, error, delay)

    def step_finished(self, outcome: Any) -> None:
        self.reporter.step_finished(outcome)
        self._notify("step_finished", outcome)

    def run_finished(self, result: Any) -> None:
        self._notify("run_finished", result)
        self.reporter.run_finished(result)

    def run_interrupted(self, run_id: int) -> None:
        self._notify("run_interrupted", run_id)

    def close(self, timeout: float) -> None:
        """Every observer's pending deliveries, within one shared ``timeout``."""
        deadline = time.monotonic() + timeout
        for observer in self.observers:
            self._notify_one(observer, max(0.0, deadline - time.monotonic()))

    def _notify_one(self, observer: RunObserver, timeout: float) -> None:
        try:
            observer.close(timeout)
        except Exception as exc:  # noqa: BLE001
            log.warning("%s.close failed: %s: %s", type(observer).__name__, type(exc).__name__, exc)


__all__ = ["RunObserver", "Watched"]
