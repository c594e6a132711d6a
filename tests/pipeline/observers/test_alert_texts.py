"""What every alert says (issue 25 item 7): a failed step, a failed check, an SPC signal, a
drift (with the run it was compared with), a late partition, a reported problem and an
incident opened and resolved each name the host and, when a run is behind them, its parameters,
and show numbers rounded as the CLI shows them. Runs are recorded in a real store as the runner
records them; the checks are real ``run_checks`` on the step's real history; the alerts go to a
real local webhook through the observers the runner calls after each step."""

from __future__ import annotations

import re
import socket
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from builders import write_notebook

from jupyter_dataops.checks import run_checks
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.context import StepHistory
from jupyter_dataops.pipeline.observers.alerts import alert_step_runs
from jupyter_dataops.pipeline.observers.incident_actions import report_incident
from jupyter_dataops.pipeline.observers.incidents import record_step_run
from jupyter_dataops.pipeline.observers.lateness import notice_late
from jupyter_dataops.store import open_store

SPEC = (
    "avg(amount) < 100\n"
    "spc avg(amount): baseline 3\n"
    "drift(amount) < 0.2: psi against last  # the amounts keep their shape\n"
)
HOST = f"host: {socket.gethostname()}"
#: a number with more digits than the CLI shows (6 significant digits)
LONG_NUMBER = re.compile(r"\d\.\d{7,}|\d{2}\.\d{6,}")


def record(store, pipeline, day: str, shift: float, *, crash: bool = False) -> int:
    """One production run of ``orders`` for ``day`` (amounts 0..19 + ``shift``), judged and
    recorded as the runner does, then seen by the incident and alert observers."""
    parameters = {"day": day, "rate": 0.123456789}
    prid = store.create_pipeline_run("sales", parameters=parameters)
    srid = store.create_step_run(prid, "orders", parameters=parameters)
    store.start_step_run(srid)
    if crash:
        store.finish_step_run(srid, "failed", error="RuntimeError: the orders source is down")
    else:
        history = StepHistory(store, "orders", "sales", exclude=str(srid), suite="orders")
        frame = pl.DataFrame({"amount": [float(i % 20) + shift for i in range(200)]})
        result = run_checks(frame, SPEC, name="orders", history=history)
        store.record_suite(srid, result)
        failed = any(r.status in ("fail", "error") for r in result.results)
        store.finish_step_run(srid, "failed" if failed else "success", error=failed and "checks")
    store.finish_pipeline_run(prid)
    record_step_run(pipeline, store, store.get_run(srid))
    alert_step_runs(pipeline.alerts, store, [srid])
    return srid


def test_every_alert_names_host_and_parameters_and_rounds_like_the_cli(tmp_path: Path, hook):
    write_notebook(tmp_path / "orders.ipynb", "day = ''", "x = 1")
    (tmp_path / "dataops.yaml").write_text(
        f"pipeline: sales\nalerts:\n  - webhook: {hook.url}\n    format: slack\n"
        "    on: [failure, check_failed, spc_signal]\n"
        "steps:\n  orders: {notebook: orders.ipynb}\n"
    )
    pipeline = load_pipeline(tmp_path / "dataops.yaml")
    with open_store(tmp_path) as store:
        base = [record(store, pipeline, f"2026-09-0{d}", 0.001 * d) for d in (1, 2, 3)]
        assert hook.bodies == []  # the baseline: nothing to say
        shifted = record(store, pipeline, "2026-09-04", 30.0)
        crashed = record(store, pipeline, "2026-09-05", 0.0, crash=True)
        fixed = record(store, pipeline, "2026-09-06", 0.002)
        report_incident(pipeline, store, "orders", "revenue is zero for Belgium", by="ana")

    texts = [b["text"] for b in hook.bodies]
    titles = [t.splitlines()[0] for t in texts]
    # the signal and the crash each open incidents; the fixed run resolves all three
    assert len(texts) == 6, titles
    signal, failed, *resolved, reported = texts
    assert "data test failed, SPC signal" in titles[0] and f"(run {shifted})" in titles[0]
    assert "step failed" in titles[1] and f"(run {crashed})" in titles[1]
    assert all("resolved" in t and f"(run {fixed})" in t for t in titles[2:5])
    assert "problem reported" in titles[5]

    for text in texts:
        assert HOST in text, text
        assert not LONG_NUMBER.search(text), text
    assert "parameters: day=2026-09-04, rate=0.123457" in signal
    assert "parameters: day=2026-09-05, rate=0.123457" in failed
    assert all("parameters: day=2026-09-06, rate=0.123457" in t for t in resolved)
    assert "error: RuntimeError: the orders source is down" in failed
    # the drift line: its number rounded, the run it was compared with, no comment
    drift = next(line for line in signal.splitlines() if "drift(amount)" in line)
    assert drift.startswith("check line 3 fail: drift(amount) < 0.2: psi against last (observed")
    assert f"(compared with run {base[-1]}, day=2026-09-03, rate=0.123457)" in drift
    assert "keep their shape" not in signal
    # the SPC signal: the rule in words and the limits as the chart draws them
    assert "SPC: spc avg(amount): baseline 3: " in signal
    # the incident each opened, since when as the CLI shows a time
    assert re.search(
        r"incident: \d+ \(open, seen 1 time\(s\) since [-\d]{10} [:\d]{8} UTC\)", signal
    )
    assert "incident: " in failed


def test_a_late_alert_names_the_partition_and_the_host(tmp_path: Path, hook):
    write_notebook(tmp_path / "a.ipynb", "", "x = 1")
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: daily\npartitions: {every: day, start: 2026-09-01}\n"
        f'expect_by: "07:00"\nalerts:\n  - webhook: {hook.url}\n    format: slack\n'
        "    on: [late]\nsteps:\n  a: {notebook: a.ipynb}\n"
    )
    pipeline = load_pipeline(tmp_path / "dataops.yaml")
    with open_store(tmp_path) as store:
        notice_late(pipeline, store, datetime(2026, 9, 2, 8, 0, tzinfo=timezone.utc))
    [body] = hook.bodies
    text = body["text"]
    assert "partition late" in text.splitlines()[0] and "partition: 2026-09-01" in text
    assert HOST in text and not LONG_NUMBER.search(text)
