"""OpenLineage events for pipeline runs, sent with the ``openlineage-python`` client.

Configured the standard way: ``OPENLINEAGE_URL`` (with ``OPENLINEAGE_API_KEY`` /
``OPENLINEAGE_ENDPOINT``), an ``openlineage.yml`` named by ``OPENLINEAGE_CONFIG`` or found in the
working folder or ``~/.openlineage/``, or ``OPENLINEAGE__TRANSPORT__*`` variables. Nothing is sent
when none is set, or when ``OPENLINEAGE_DISABLED=true``.

A pipeline run is one OpenLineage run of the job ``<pipeline>`` in the namespace ``<pipeline>``;
each step run (one attempt) is a run of the job ``<step>`` with that pipeline run as its parent
facet: START when the attempt starts, then COMPLETE or FAIL (with the error message facet). Run
ids are UUIDv7 derived from the run store's ids and creation times, so they are stable. A step's
declared ``inputs``/``outputs`` are its datasets, and the ``%%dataops_test`` results it recorded
are the ``dataQualityAssertions`` facet of the dataset each suite checked.

Events are queued and sent by one background thread, so a slow or dead endpoint never slows the
steps; the run waits at most ``FLUSH_SECONDS`` at its end for the last ones. A failure to send
is logged (logger ``jupyter_dataops.lineage``) and never fails a run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.pipeline.observers.base import RunObserver
from jupyter_dataops.plugins import Registry

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.lineage")

FLUSH_SECONDS = 10.0
INTEGRATION = "JUPYTER_DATAOPS"
_CALL = re.compile(r"^\s*([A-Za-z_][\w]*)\s*\(\s*([A-Za-z_][\w.]*)?")


def config_file() -> Path | None:
    """The ``openlineage.yml`` the client will read, looked up as the client does."""
    for candidate in (
        os.environ.get("OPENLINEAGE_CONFIG"),
        os.path.join(os.getcwd(), "openlineage.yml"),
        os.path.join(os.path.expanduser("~/.openlineage"), "openlineage.yml"),
    ):
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    return None


def configured() -> bool:
    """Whether OpenLineage is configured in this environment (and not disabled)."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OPENLINEAGE_URL", "").strip():
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ):
        return True
    return config_file() is not None


def _producer() -> str:
    from jupyter_dataops._version import __version__

    return f"urn:jupyter-dataops:{__version__}"


def _make_client() -> Any:
    """An ``OpenLineageClient`` from the standard configuration, leaving ``os.environ`` as it was
    (the client copies ``OPENLINEAGE_URL`` into ``OPENLINEAGE__TRANSPORT__...`` variables, which
    would outlive a changed URL in a long-lived process and reach the kernels)."""
    from openlineage.client import OpenLineageClient

    before = set(os.environ)
    try:
        return OpenLineageClient()
    finally:
        for key in set(os.environ) - before:
            if key.startswith("OPENLINEAGE__"):
                del os.environ[key]


def run_uuid(kind: str, run_id: int | str, created_at: str | None, store_url: str) -> str:
    """A stable OpenLineage run id for a pipeline run or step run of a store (UUIDv7: sortable
    by the run's creation time, the same for its START and its COMPLETE/FAIL)."""
    from openlineage.client.uuid import generate_static_uuid

    instant = (
        datetime.fromisoformat(created_at)
        if created_at
        else datetime(1970, 1, 1, tzinfo=timezone.utc)
    )
    return str(generate_static_uuid(instant, f"{store_url}|{kind}|{run_id}".encode()))


def dataset_id(name: str, default_namespace: str) -> tuple[str, str]:
    """(namespace, name) of a declared input/output: ``scheme://authority/path`` follows
    OpenLineage's naming (``file:///data/x.csv`` -> ``file``, ``/data/x.csv``;
    ``postgres://db:5432/shop.public.orders`` -> ``postgres://db:5432``, ``shop.public.orders``);
    a plain name (``orders.csv``, ``warehouse.orders``) is kept as written in the pipeline's
    namespace."""
    if "://" in name:
        scheme, rest = name.split("://", 1)
        authority, _, path = rest.partition("/")
        if scheme == "file":
            return "file", "/" + path
        return f"{scheme}://{authority}", path
    return default_namespace, name


def _suite_matches(suite: str, dataset: str) -> bool:
    """A suite checked a dataset when it is named as the dataset, its file stem or table name."""
    base = dataset.rstrip("/").rsplit("/", 1)[-1]
    return suite in (dataset, base, Path(base).stem, base.rsplit(".", 1)[-1])


def assertions_by_dataset(
    checks: list[dict[str, Any]], inputs: list[str], outputs: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The recorded check rows of a step run, grouped by the declared dataset each suite checked
    (matched by name: ``%%dataops_test orders`` checked ``orders.csv``). A suite matching no
    dataset goes to the step's only output when it has exactly one; otherwise it is left out, as
    is the ``operations`` suite (the runner's SPC on the step itself, not on a dataset)."""
    from jupyter_dataops.pipeline.observers.operations import SUITE as OPERATIONS

    out: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        suite = check.get("suite") or ""
        if suite == OPERATIONS:  # how the step ran (durations...), not a dataset's quality
            continue
        target = next((d for d in [*outputs, *inputs] if _suite_matches(suite, d)), None)
        if target is None and len(outputs) == 1:
            target = outputs[0]
        if target is not None:
            out.setdefault(target, []).append(check)
    return out


def assertion(check: dict[str, Any]) -> dict[str, Any]:
    """One check row as an OpenLineage assertion: the check type, the column it looks at,
    success (``pass`` only) and severity (``warn`` or ``error`` for what did not pass)."""
    metric = check.get("metric") or check.get("source") or ""
    match = _CALL.match(metric)
    kind = match.group(1) if match else (metric.split(":")[0].split()[0] if metric else "check")
    status = check.get("status")
    observed = check.get("observed")
    return {
        "assertion": kind,
        "success": status == "pass",
        "column": match.group(2) if match and match.group(2) else None,
        "severity": {"warn": "warn", "fail": "error", "error": "error"}.get(status),
        "name": f"{check.get('suite') or 'checks'}:{check.get('line')}",
        "description": check.get("message") or None,
        "expected": check.get("threshold") or None,
        "actual": None if observed is None else str(observed),
        "content": check.get("source") or None,
        "contentType": "dataops_test",
    }


class _Sender:
    """One background thread that sends queued events; never raises into the run."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="openlineage-sender", daemon=True)
        self._client: Any = None
        self.sent = 0
        self.failed = 0
        self._thread.start()

    def put(self, event: Any) -> None:
        self._queue.put(event)

    def _loop(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                if self._client is None:
                    self._client = _make_client()
                self._client.emit(event)
                self.sent += 1
            except Exception as exc:  # noqa: BLE001 - lineage never fails a run
                self.failed += 1
                log.warning("OpenLineage event not sent: %s: %s", type(exc).__name__, exc)
            finally:
                self._queue.task_done()

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, waiting at most ``timeout`` seconds (default ``FLUSH_SECONDS``),
        then stop the thread."""
        timeout = FLUSH_SECONDS if timeout is None else timeout
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "OpenLineage: %d event(s) not sent within %.0f s; giving up on them.",
                self._queue.qsize(),
                timeout,
            )
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close(1.0)


class OpenLineageEmitter(RunObserver):
    """A lineage emitter (``emitters["openlineage"]``): OpenLineage events of a run's
    lifecycle, sent by one background thread; ``close`` flushes them (bounded)."""

    name = "openlineage"

    def __init__(self, pipeline: Any, store: Store) -> None:
        super().__init__(pipeline, store)
        self.namespace = pipeline.name
        self.sender = _Sender()
        self.run_id: int | None = None
        self.run_uuid: str | None = None
        self.plans: dict[str, Any] = {}
        self.started: set[tuple[str, int]] = set()  # attempts that sent START

    @classmethod
    def enabled(cls, pipeline: Any) -> bool:
        """Configured the standard OpenLineage way, and the client installed."""
        if not configured():
            return False
        try:
            import openlineage.client  # noqa: F401
        except ImportError:
            log.warning(
                "OpenLineage is configured (OPENLINEAGE_URL or openlineage.yml) but "
                'openlineage-python is not installed: pip install "jupyter-dataops[lineage]". '
                "No events are sent."
            )
            return False
        return True

    # -- run events -----------------------------------------------------------------------
    def run_started(self, run_id: int, plans: dict[str, Any]) -> None:
        self._safely(self._run_started, run_id, plans)

    def step_started(self, step: str, attempt: int) -> None:
        self.started.add((step, attempt))
        self._safely(self._step_event, step, attempt, "START", None)

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        if (step, attempt) in self.started:
            self._safely(self._step_event, step, attempt, "FAIL", error)

    def step_finished(self, outcome: Any) -> None:
        # A step skipped, or refused before its kernel started, never ran: no run to end.
        if (
            outcome.status in ("success", "failed")
            and (outcome.step, outcome.attempts) in self.started
        ):
            state = "COMPLETE" if outcome.status == "success" else "FAIL"
            self._safely(self._step_event, outcome.step, outcome.attempts, state, outcome.error)

    def run_finished(self, result: Any) -> None:
        self._safely(self._run_finished, result)

    def close(self, timeout: float) -> None:
        self.sender.close(min(timeout, FLUSH_SECONDS))

    # -- events ---------------------------------------------------------------------------
    def _safely(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - lineage never fails a run
            log.warning("OpenLineage event not built: %s: %s", type(exc).__name__, exc)

    def _run_started(self, run_id: int, plans: dict[str, Any]) -> None:
        self.run_id = run_id
        self.plans = plans
        row = self.store.get_pipeline_run(run_id) or {}
        self.run_uuid = run_uuid("pipeline-run", run_id, row.get("created_at"), self.store.url)
        self.sender.put(
            self._event("START", self.namespace, self.pipeline.name, self.run_uuid, job_type="DAG")
        )

    def _run_finished(self, result: Any) -> None:
        state = "COMPLETE" if result.ok else "FAIL"
        error = None if result.ok else f"pipeline run {result.run_id} {result.status}"
        self.sender.put(
            self._event(
                state,
                self.namespace,
                self.pipeline.name,
                self.run_uuid,
                job_type="DAG",
                error=error,
            )
        )

    def _step_run(self, step: str, attempt: int) -> dict[str, Any] | None:
        rows = self.store.list_runs(step=step, pipeline_run_id=self.run_id, limit=1000)
        return next((r for r in rows if r["attempt"] == attempt), None)

    def _step_event(self, step: str, attempt: int, state: str, error: str | None) -> None:
        row = self._step_run(step, attempt)
        if row is None:
            return
        plan = self.plans.get(step)
        inputs = list(getattr(plan, "inputs", ()) or ())
        outputs = list(getattr(plan, "outputs", ()) or ())
        checks: dict[str, list[dict[str, Any]]] = {}
        if state != "START":
            detail = self.store.get_run(row["id"]) or {}
            error = error or detail.get("error")
            checks = assertions_by_dataset(detail.get("check_results") or [], inputs, outputs)
        srid_uuid = run_uuid("step-run", row["id"], row.get("created_at"), self.store.url)
        self.sender.put(
            self._event(
                state,
                self.namespace,
                step,
                srid_uuid,
                job_type="TASK",
                error=error,
                parent=True,
                inputs=inputs,
                outputs=outputs,
                checks=checks,
            )
        )

    def _event(
        self,
        state: str,
        namespace: str,
        name: str,
        run_id: str | None,
        *,
        job_type: str,
        error: str | None = None,
        parent: bool = False,
        inputs: list[str] = (),
        outputs: list[str] = (),
        checks: dict[str, list[dict[str, Any]]] | None = None,
    ) -> Any:
        import attr
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import (
            data_quality_assertions_dataset,
            error_message_run,
            job_type_job,
            parent_run,
        )

        producer = _producer()
        run_facets: dict[str, Any] = {}
        if parent and self.run_uuid:
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.run_uuid),
                job=parent_run.Job(namespace=self.namespace, name=self.pipeline.name),
                producer=producer,
            )
        if error and state == "FAIL":
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python", producer=producer
            )
        job_facets = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration=INTEGRATION,
                jobType=job_type,
                producer=producer,
            )
        }
        known = attr.fields_dict(data_quality_assertions_dataset.Assertion)

        def quality(dataset: str) -> dict[str, Any]:
            rows = (checks or {}).get(dataset)
            if not rows:
                return {}
            items = [
                data_quality_assertions_dataset.Assertion(
                    **{k: v for k, v in assertion(r).items() if k in known and v is not None}
                )
                for r in rows
            ]
            return {
                "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                    assertions=items, producer=producer
                )
            }

        input_sets = [
            InputDataset(*dataset_id(d, namespace), inputFacets=quality(d)) for d in inputs
        ]
        output_sets = [OutputDataset(*dataset_id(d, namespace), facets=quality(d)) for d in outputs]
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=datetime.now(timezone.utc).isoformat(),
            run=Run(runId=run_id, facets=run_facets),
            job=Job(namespace=namespace, name=name, facets=job_facets),
            inputs=input_sets,
            outputs=output_sets,
            producer=producer,
        )


#: lineage emitters by name: run observers built when their ``enabled(pipeline)`` says so;
#: another package adds one through the ``jupyter_dataops.lineage_emitter`` group
emitters = Registry("lineage emitter", "jupyter_dataops.lineage_emitter", base=RunObserver)
emitters.register("openlineage", OpenLineageEmitter)


__all__ = [
    "FLUSH_SECONDS",
    "OpenLineageEmitter",
    "assertion",
    "assertions_by_dataset",
    "config_file",
    "configured",
    "dataset_id",
    "emitters",
    "run_uuid",
]
