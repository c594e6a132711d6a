"""SPC on the factory itself: every production step run records how it ran, and is judged.

After each production step attempt finishes, the runner calls ``observe`` once. It records the
attempt's operational metrics in the run store's metrics table under reserved ``ops:`` keys,
with no line written in the notebook:

- ``ops:duration``: seconds from the step run's start to its end (as the store recorded them);
- ``ops:queue_delay`` (runs the scheduler started): seconds from when the step could start (its
  scheduled tick, or its upstream steps' end in that run when later) to its start; a manual run
  has no schedule to be late against, so it records none (its step runs are created when the run
  is planned: "created -> started" would measure the upstream steps, not a queue);
- ``ops:notebook_bytes``: size of the executed notebook;
- ``ops:output_rows:<name>`` and ``ops:output_bytes:<name>``: each declared output that is a
  readable file (rows for csv/tsv, parquet, ndjson/jsonl and arrow/feather files);
- ``ops:checks_failing``: check lines of the step run that failed or errored.

Each value is judged like an ``spc METRIC`` line with severity ``warn`` (``checks.spc_check
.judge_spc``: chart ``i``, rules ``qcc`` and a 20-run baseline unless the step's
``operations:`` in ``dataops.yaml`` says otherwise, or ``operations: off``), with two
differences made for how a factory's operations move (measured on the sample factory's 60 days,
where a frozen baseline flagged every run's notebook size after day 21 and 64 of 154 durations):

- the baseline ROLLS: the N newest successful runs before this one (``window: rolling`` in the
  stored verdict), so a lasting change (a bigger report, a slower machine, more data) becomes the
  new normal after a while instead of a signal on every run forever; the chart draws each run
  against the limits its verdict recorded;
- a rule broken by a change too small to matter is not a signal: the value must also differ from
  the centre line by at least ``min_change`` of it (default 20 %; ``operations: {min_change:
  0}`` turns the floor off), so a notebook a few bytes longer or a run 0.3 s slower is noted in
  the message, not alerted;
- durations, queue delays and failing checks signal only upwards (``UPWARD``): a run faster than
  usual is good news, noted in the message, not alerted (sizes and rows signal both ways).

The verdicts are
stored as check rows of the suite ``operations`` (metric = the ``ops:`` key, with their ``spc``
details), so a signal is a ``warn`` on the step run, an ``spc_signal`` alert (``alerts
.step_events`` reads the stored rows) and a flagged point in ``charts.metric_chart``.

``observe`` never raises into the runner: a failure is logged and the run goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.checks.spec import CheckSpec, SpcOptions
from jupyter_dataops.pipeline.definition.operations_options import OperationsOptions, parse_options
from jupyter_dataops.pipeline.observers.base import RunObserver
from jupyter_dataops.store.models import OPERATIONS_SUITE

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.operations")

PREFIX = "ops:"
SUITE = OPERATIONS_SUITE  # its lines are counted apart from the user's (RunRow.operations)
DURATION = "ops:duration"
QUEUE_DELAY = "ops:queue_delay"
NOTEBOOK_BYTES = "ops:notebook_bytes"
CHECKS_FAILING = "ops:checks_failing"
OUTPUT_ROWS = "ops:output_rows:"
OUTPUT_BYTES = "ops:output_bytes:"
UPWARD = (DURATION, QUEUE_DELAY, CHECKS_FAILING)  # only a rise is a signal
KEY_LIMIT = 300  # metric keys in the store (an output named longer gets no ops: metrics)


class _OpsLine(CheckSpec):
    """An implicit ``warn: spc ops:...`` line: its metric key is the reserved key itself."""

    @property
    def metric_call(self) -> str | None:
        return self.metric

    @property
    def metric_key(self) -> str | None:
        return self.metric


def _seconds(later: str | None, earlier: Any) -> float | None:
    if not later or earlier is None:
        return None
    try:
        end = datetime.fromisoformat(later)
        start = earlier if isinstance(earlier, datetime) else datetime.fromisoformat(earlier)
        return max(0.0, (end - start).total_seconds())
    except (TypeError, ValueError):
        return None


def _scheduled_for(store: Store, pipeline: str, pipeline_run_id: int) -> str | None:
    """The tick that started this pipeline run, when the scheduler started it."""
    try:
        claims = store.list_scheduled_runs(pipeline=pipeline, limit=200)
    except Exception as exc:  # noqa: BLE001 - an older store: no scheduled time known
        log.debug("no scheduled runs: %s", exc)
        return None
    ticks = [c["scheduled_for"] for c in claims if c.get("pipeline_run_id") == pipeline_run_id]
    return min(ticks) if ticks else None


def _queue_delay(
    store: Store, run: Mapping[str, Any], pipeline: str, depends_on: list[str] | tuple[str, ...]
) -> float | None:
    """Seconds from when a scheduled step could start to its start (None: not scheduled)."""
    prid = int(run["pipeline_run_id"])
    tick = _scheduled_for(store, pipeline, prid)
    if tick is None or not run.get("started_at"):
        return None
    ready = datetime.fromisoformat(tick)
    if depends_on:
        detail = store.get_pipeline_run(prid) or {}
        for s in detail.get("steps", []):
            if s["step"] in depends_on and s.get("ended_at"):
                ready = max(ready, datetime.fromisoformat(s["ended_at"]))
    return _seconds(run["started_at"], ready)


def _row_count(path: Path) -> int | None:
    """Rows of a data file polars can scan (None for other files or on a read error)."""
    import polars as pl

    scanners = {
        ".csv": lambda p: pl.scan_csv(p),
        ".tsv": lambda p: pl.scan_csv(p, separator="\t"),
        ".parquet": pl.scan_parquet,
        ".pq": pl.scan_parquet,
        ".ndjson": pl.scan_ndjson,
        ".jsonl": pl.scan_ndjson,
        ".arrow": pl.scan_ipc,
        ".feather": pl.scan_ipc,
        ".ipc": pl.scan_ipc,
    }
    scan = scanners.get(path.suffix.lower())
    if scan is None:
        return None
    try:
        return int(scan(path).select(pl.len()).collect().item())
    except Exception as exc:  # noqa: BLE001 - an unreadable file still has its bytes
        log.info("ops: cannot count the rows of %s: %s", path, exc)
        return None


def _output_file(name: str, folders: list[Path]) -> Path | None:
    """A declared output as a readable file (relative to the project, else the notebook's
    folder), or None (a table, a URI, or not written)."""
    if "://" in name:
        return None
    for folder in folders:
        path = Path(name) if Path(name).is_absolute() else folder / name
        if path.is_file() and os.access(path, os.R_OK):
            return path
    return None


def collect(
    store: Store,
    run: Mapping[str, Any],
    *,
    pipeline: str,
    outputs: list[str] | tuple[str, ...] = (),
    depends_on: list[str] | tuple[str, ...] = (),
    folders: list[Path] | None = None,
    duration: float | None = None,
) -> dict[str, float]:
    """The operational metrics of a finished step run (``store.get_run`` dict)."""
    out: dict[str, float] = {}
    seconds = run.get("duration")
    if seconds is None:
        seconds = _seconds(run.get("ended_at"), run.get("started_at"))
    if seconds is None:
        seconds = duration
    if seconds is not None:
        out[DURATION] = float(seconds)
    delay = _queue_delay(store, run, pipeline, depends_on)
    if delay is not None:
        out[QUEUE_DELAY] = delay
    notebook = run.get("notebook_path")
    if notebook and Path(notebook).is_file():
        out[NOTEBOOK_BYTES] = float(Path(notebook).stat().st_size)
    for name in outputs:
        path = _output_file(name, folders or [])
        if path is None or len(OUTPUT_BYTES + name) > KEY_LIMIT:
            continue
        out[OUTPUT_BYTES + name] = float(path.stat().st_size)
        rows = _row_count(path)
        if rows is not None:
            out[OUTPUT_ROWS + name] = float(rows)
    checks = run.get("check_results") or []
    out[CHECKS_FAILING] = float(
        sum(
            1
            for c in checks
            if c.get("status") in ("fail", "error")
            and not str(c.get("metric") or "").startswith(PREFIX)
        )
    )
    return {k: v for k, v in out.items() if math.isfinite(v)}


def judge(
    store: Store,
    step: str,
    step_run_id: int,
    metrics: Mapping[str, float],
    options: OperationsOptions,
    *,
    pipeline: str | None = None,
) -> list[dict[str, Any]]:
    """The check rows of the implicit ``warn: spc`` lines on ``metrics``, each judged against
    the step's N newest earlier successful production runs (this one excluded) and kept a signal
    only when it moved at least ``min_change`` of the centre line."""
    from jupyter_dataops.checks.spc_check import judge_spc

    def history(key: str) -> list[float]:
        return store.metric_history(
            step, key, pipeline=pipeline, exclude_step_run=step_run_id, limit=options.baseline
        )

    rows = []
    opts = SpcOptions(chart="i", rules=options.rules, baseline=options.baseline, rolling=True)
    for i, (key, value) in enumerate(metrics.items(), start=1):
        line = _OpsLine(
            line=i, source=f"warn: spc {key}", kind="spc", metric=key, severity="warn", spc=opts
        )
        verdict = _floor(
            judge_spc(line, value, history), key, value, options.min_change, key in UPWARD
        )
        details = verdict.details(line)
        details["min_change"] = options.min_change
        rows.append(
            {
                "line": i,
                "source": line.source,
                "status": verdict.status,
                "observed": value,
                "threshold": opts.text,
                "metric": key,
                "message": verdict.message,
                "spc": details,
            }
        )
    return rows


def _floor(verdict: Any, key: str, value: float, min_change: float, upward: bool) -> Any:
    """A verdict whose broken rules moved the value less than ``min_change`` of the centre line,
    or down on an ``upward`` metric: passed, the rules and the reason named in its message."""
    center = verdict.center
    if not verdict.broken or center is None or not math.isfinite(center):
        return verdict
    rules = ", ".join(verdict.broken)
    if upward and value <= center:
        why = f"is below its centre {center:.6g} (only a rise is a signal for {key})"
    else:
        moved = abs(value - center) / abs(center) if center else math.inf
        if not min_change or moved >= min_change:
            return verdict
        why = f"is {moved:.1%} from its centre {center:.6g}, under min_change {min_change:.0%}"
    return dataclasses.replace(
        verdict,
        status="pass",
        broken=[],
        message=f"{key} = {value:.6g} breaks {rules} but {why}: not a signal",
    )


def observe(store: Store, pipeline: Any, plan: Any, step_run_id: int, result: Any = None) -> None:
    """Record and judge the operational metrics of one finished production step attempt (the
    runner's single hook). Never raises."""
    try:
        spec = pipeline.steps.get(plan.name)
        options = getattr(spec, "operations", None) or OperationsOptions()
        if not options.enabled:
            return
        run = store.get_run(step_run_id)
        if run is None or run.get("mode") != "production":
            return
        metrics = collect(
            store,
            run,
            pipeline=pipeline.name,
            outputs=list(plan.outputs),
            depends_on=list(plan.depends_on),
            folders=[Path(pipeline.project_dir), Path(plan.cwd)],
            duration=getattr(result, "duration", None),
        )
        rows = judge(store, plan.name, step_run_id, metrics, options, pipeline=pipeline.name)
        store.record_suite(step_run_id, {"name": SUITE, "results": rows, "metrics": metrics})
        signals = [r["metric"] for r in rows if (r["spc"] or {}).get("broken")]
        if signals:
            log.info("ops: step %s run %s: SPC signal on %s", plan.name, step_run_id, signals)
    except Exception as exc:  # noqa: BLE001 - operations never change a run's outcome
        log.warning("ops: step run %s not recorded: %s: %s", step_run_id, type(exc).__name__, exc)


class OperationsObserver(RunObserver):
    """Operations SPC on every attempt, as soon as its step run is finished in the store (so
    the alerts of ``step_finished`` read its verdicts)."""

    def attempt_finished(self, plan: Any, step_run_id: int, result: Any) -> None:
        observe(self.store, self.pipeline, plan, step_run_id, result)


__all__ = [
    "CHECKS_FAILING",
    "DURATION",
    "NOTEBOOK_BYTES",
    "OUTPUT_BYTES",
    "OUTPUT_ROWS",
    "PREFIX",
    "QUEUE_DELAY",
    "SUITE",
    "UPWARD",
    "OperationsObserver",
    "OperationsOptions",
    "collect",
    "judge",
    "observe",
    "parse_options",
]
