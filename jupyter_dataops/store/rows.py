"""The shapes of what the store answers (plain JSON-ready dicts), as ``TypedDict``s.

Every read returns one of these; the REST server sends them as they are (``server/openapi.yaml``
describes the same fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from jupyter_dataops.store.base import _iso
from jupyter_dataops.store.models import CHECK_STATUSES


class VersionRow(TypedDict, total=False):
    """A promoted version of a step (``created`` only from ``record_step_version``)."""

    version: int
    notebook_path: str
    content_hash: str
    parameters: dict[str, Any] | None
    promoted_by: str | None
    promoted_at: str | None
    created: bool


class RunRow(TypedDict):
    """A step run in a list: ``checks`` counts the user's check lines per check status,
    ``operations`` the implicit lines of the operations observer (duration, queue delay, ...)."""

    id: int
    pipeline_run_id: int
    pipeline: str
    step: str
    status: str
    mode: str
    attempt: int
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    duration: float | None
    checks: dict[str, int]
    operations: dict[str, int]
    unpromoted: bool
    partition: str | None
    parameters: dict[str, Any] | None  # as the step ran with them (secrets as ***)


class CheckResultDetail(TypedDict):
    """One stored check line; ``spc`` carries an spc line's chart, rules, baseline and verdict."""

    suite: str | None
    line: int | None
    source: str | None
    status: str
    observed: float | None
    threshold: str | None
    metric: str | None
    message: str | None
    spc: dict[str, Any] | None


class RunMetric(TypedDict):
    suite: str | None
    metric: str
    value: float


class RunDetail(RunRow):
    """One step run in full (``Store.get_run``)."""

    error: str | None
    skip_reason: str | None
    notebook_path: str | None
    pid: int | None
    host: str | None
    inputs: list[str]
    outputs: list[str]
    version: VersionRow | None
    check_results: list[CheckResultDetail]
    metrics: list[RunMetric]


class MetricPoint(TypedDict):
    """One point of ``Store.metric_series``."""

    step_run_id: int
    pipeline_run_id: int
    time: str | None
    value: float
    status: str
    attempt: int
    suite: str | None
    partition: str | None  # the period the run was for (None: no partition)


class MetricSummary(TypedDict):
    """One series of ``Store.list_metrics``."""

    metric: str
    suite: str | None
    points: int
    last_value: float
    last_time: str | None


class SpcVerdictRow(TypedDict):
    """A stored spc check row (``Store.spc_verdicts``): what the line judged on one run."""

    step_run_id: int
    mode: str
    suite: str | None
    line: int | None
    source: str | None
    status: str
    spc: dict[str, Any]


class BaselinePoint(TypedDict):
    """One run of an spc line's frozen baseline (``Store.metric_baseline``)."""

    step_run_id: int
    value: float
    size: float | None


class PipelineRunRow(TypedDict):
    id: int
    pipeline: str
    status: str
    mode: str
    trigger: str | None
    parameters: dict[str, Any] | None
    error: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    duration: float | None
    pid: int | None
    host: str | None
    partition: str | None


class PipelineRunDetail(PipelineRunRow):
    steps: list[RunRow]


class LastRun(TypedDict):
    id: int
    status: str
    started_at: str | None
    ended_at: str | None


class StepSummary(TypedDict):
    name: str
    notebook: str | None
    latest_version: VersionRow | None
    last_run: LastRun | None


class PipelineRow(TypedDict):
    name: str
    project_dir: str | None
    steps: list[StepSummary]


def _run_dict(r: Mapping[str, Any]) -> RunRow:
    return {
        "id": r["id"],
        "pipeline_run_id": r["pipeline_run_id"],
        "pipeline": r["pipeline"],
        "step": r["step"],
        "status": r["status"],
        "mode": r["mode"],
        "attempt": r["attempt"],
        "created_at": _iso(r["created_at"]),
        "started_at": _iso(r["started_at"]),
        "ended_at": _iso(r["ended_at"]),
        "duration": r["duration"],
        "checks": {s: int(r[f"n_{s}"]) for s in CHECK_STATUSES},
        "operations": {s: int(r[f"o_{s}"]) for s in CHECK_STATUSES},
        # a production run of a working copy (`dataops run --unpromoted`): no promoted version
        "unpromoted": r["mode"] == "production" and r["step_version_id"] is None,
        "partition": r["partition"],
        "parameters": r["parameters"],
    }


def _pipeline_run_dict(r: Mapping[str, Any]) -> PipelineRunRow:
    return {
        "id": r["id"],
        "pipeline": r["pipeline"],
        "status": r["status"],
        "mode": r["mode"],
        "trigger": r["trigger"],
        "parameters": r["parameters"],
        "error": r["error"],
        "created_at": _iso(r["created_at"]),
        "started_at": _iso(r["started_at"]),
        "ended_at": _iso(r["ended_at"]),
        "duration": r["duration"],
        "pid": r["pid"],
        "host": r["host"],
        "partition": r["partition"],
    }


def _version_dict(v: Mapping[str, Any], created: bool | None = None) -> VersionRow:
    out: VersionRow = {
        "version": v["version"],
        "notebook_path": v["notebook_path"],
        "content_hash": v["content_hash"],
        "parameters": v["parameters"],
        "promoted_by": v["promoted_by"],
        "promoted_at": _iso(v["promoted_at"]),
    }
    if created is not None:
        out["created"] = created
    return out
