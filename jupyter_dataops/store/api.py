"""The run store: one method per question the pipeline runner, CLI, widgets and REST server ask.

``Store`` is a facade composed of one mixin per concern, each in its own module over
``base.StoreBase`` (engine, transactions, id helpers):

- ``catalogue``   pipelines, steps, promoted versions
- ``runs``        run lifecycle: create, start, finish, heartbeat
- ``results``     check results and metric points; metric history/series for SPC and charts
- ``chart_reads`` a chart's window of a metric's series, counted and paged in SQL
- ``series_counts`` a step's metric series: counts and last points by index seeks (``0015``)
- ``queries``     run history: list/count/get runs and pipeline runs, the pipelines overview
- ``maintenance`` liveness: runs whose runner died become ``interrupted``
- ``partitions``  which periods ran; one SPC point per partition (migration ``0007``)
- ``grid``        partitions × steps: each partition's latest run of each step (the panel's grid)
- ``profiles``    column profiles of drift lines (``against last``), migration ``0006``
- ``scheduling``  exactly-once claims of a schedule's ticks and scheduler heartbeats (``0005``)
- ``alert_log``   every alert delivery, sent or failed (``0005``)
- ``pruning``     retention: which step runs may be pruned, which were (``0005``)
- ``incidents``   one incident per problem: opened, attached, acknowledged, resolved (``0009``)

Every table is in ``models.py``; the "successful production run" condition SPC baselines and
drift references read is ``base._successful_production``.

Row shapes are in ``rows``; process helpers (``pid_alive``) in ``processes``. Every method
returns plain JSON-ready values (dicts, lists, ints, ISO-8601 UTC strings), so a front door can
serialise the answer as it is.
"""

from __future__ import annotations

import os

from jupyter_dataops.store.alert_log import AlertLogMixin
from jupyter_dataops.store.catalogue import CatalogueMixin
from jupyter_dataops.store.chart_reads import ChartReadsMixin
from jupyter_dataops.store.engine import resolve_store_url
from jupyter_dataops.store.grid import GridMixin
from jupyter_dataops.store.incidents import IncidentsMixin
from jupyter_dataops.store.maintenance import MaintenanceMixin
from jupyter_dataops.store.models import STATUSES
from jupyter_dataops.store.partitions import PartitionsMixin
from jupyter_dataops.store.phases import PhasesMixin
from jupyter_dataops.store.processes import pid_alive, process_started
from jupyter_dataops.store.profiles import ProfilesMixin
from jupyter_dataops.store.pruning import PruningMixin
from jupyter_dataops.store.queries import QueriesMixin
from jupyter_dataops.store.results import ResultsMixin
from jupyter_dataops.store.runs import RunsMixin
from jupyter_dataops.store.scheduling import SchedulingMixin


class Store(
    CatalogueMixin,
    RunsMixin,
    ResultsMixin,
    ChartReadsMixin,
    ProfilesMixin,
    QueriesMixin,
    MaintenanceMixin,
    SchedulingMixin,
    AlertLogMixin,
    PruningMixin,
    GridMixin,
    PartitionsMixin,
    IncidentsMixin,
    PhasesMixin,
):
    """A run store at one SQLAlchemy URL. Open it with ``open_store``; close it (or use ``with``).

    Safe to share between threads; a forked child process reconnects on first use.
    """


def open_store(url_or_project_dir: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating as needed) the run store at a URL or of a project folder.

    A string containing ``://`` is a SQLAlchemy URL; anything else is the folder holding
    ``dataops.yaml`` and goes through ``resolve_store_url`` (``DATAOPS_STORE_URL`` wins).
    """
    target = url_or_project_dir
    if isinstance(target, str) and "://" in target:
        return Store(target)
    return Store(resolve_store_url(target or "."))


__all__ = ["STATUSES", "Store", "open_store", "pid_alive", "process_started"]
