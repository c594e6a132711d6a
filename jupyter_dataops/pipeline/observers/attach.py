"""The one place a run's observers are built: the runner calls ``watch`` for every run, whichever
door started it (``dataops run``, the scheduler, "Run now", an Airflow task, any executor)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.observers.alerts import AlertObserver
from jupyter_dataops.pipeline.observers.base import RunObserver, Watched
from jupyter_dataops.pipeline.observers.incidents import IncidentObserver
from jupyter_dataops.pipeline.observers.lineage import emitters
from jupyter_dataops.pipeline.observers.operations import OperationsObserver

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.observers")

#: how long the end of a run waits for alerts and lineage events still being delivered
WAIT_SECONDS = 20.0


def observers_for(pipeline: Any, store: Store) -> list[RunObserver]:
    """The observers of one run of ``pipeline``: operations SPC, incidents, then the pipeline's
    alerts (``alerts:``), then every registered lineage emitter that is enabled (OpenLineage when
    configured). Operations comes first (alerts and incidents read its verdicts), incidents
    before alerts (an alert goes out once per incident)."""
    out: list[RunObserver] = [
        OperationsObserver(pipeline, store),
        IncidentObserver(pipeline, store),
    ]
    if AlertObserver.enabled(pipeline):
        out.append(AlertObserver(pipeline, store))
    for name in emitters.names():
        try:
            cls = emitters[name]
            if cls.enabled(pipeline):
                out.append(cls(pipeline, store))
        except Exception as exc:  # noqa: BLE001 - a broken emitter never stops a run
            log.warning("lineage emitter %r not used: %s: %s", name, type(exc).__name__, exc)
    return out


def watch(reporter: Any, pipeline: Any, store: Store) -> Watched:
    """``reporter`` with the run's observers hung on it (what the runner reports to)."""
    return Watched(reporter, observers_for(pipeline, store))


__all__ = ["WAIT_SECONDS", "observers_for", "watch"]
