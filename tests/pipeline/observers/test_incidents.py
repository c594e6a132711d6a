"""Failures become incidents, after real papermill runs: two failing runs of a check are one
incident (count 2) and one webhook alert; a passing run resolves it with one ``resolved`` alert;
``resolve_after`` waits for passes in a row; a failed step without a failing check, a reported
problem and retention, on a real run store."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from builders import ORDERS_STEP, REPORT_STEP, Hook, sales_pipeline, write_notebook

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.alert_config import parse_alert
from jupyter_dataops.pipeline.definition.spec import PipelineFileError, load_pipeline
from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline
from jupyter_dataops.pipeline.observers.alerts import alert_step_runs, remind_open
from jupyter_dataops.pipeline.observers.incident_actions import report_incident
from jupyter_dataops.pipeline.observers.incidents import record_step_run
from jupyter_dataops.store import open_store

CHECKS = "row_count >= 10\nmissing_count(amount) = 0\n"


def orders(path: Path) -> Path:
    """Orders of ``n_rows`` amounts, every ``null_every``-th missing; ``crash`` raises before
    the checks run (the source is down)."""
    return write_notebook(
        path,
        "n_rows = 50\nnull_every = 0\ncrash = False\n",
        "%load_ext jupyter_dataops\nimport polars as pl",
        "if crash:\n    raise RuntimeError('the orders source is down')\n"
        "amount = [float(i) for i in range(n_rows)]\n"
        "if null_every:\n"
        "    amount = [None if i % null_every == 0 else a for i, a in enumerate(amount)]\n"
        "orders = pl.DataFrame({'amount': amount})",
        "%%dataops_test orders --name orders_quality\n" + CHECKS,
    )


def project(root: Path, hook: Hook, extra: str = "") -> Path:
    orders(root / "orders.ipynb")
    write_notebook(root / "report.ipynb", "", "x = 1")
    steps = ORDERS_STEP + "    outputs: [warehouse.orders]\n" + REPORT_STEP
    return sales_pipeline(
        root, hook.url, "check_failed, failure", head=textwrap.dedent(extra), steps=steps
    )


def run(path: Path, store, *params: str):
    return run_pipeline(
        load_pipeline(path),
        ["orders"],
        list(params),
        store=store,
        reporter=NullReporter(),
        unpromoted=True,
    )


@pytest.mark.slow
def test_two_failing_runs_are_one_incident_alerted_once_and_a_pass_resolves_it(tmp_path, hook):
    path = project(tmp_path, hook)
    with open_store(tmp_path) as store:
        first = run(path, store, "null_every=5")
        second = run(path, store, "null_every=7")
        assert first.status == second.status == "failed"
        [incident] = store.list_incidents(pipeline="sales")
        assert incident["kind"] == "check" and incident["key"] == "missing_count(amount) = 0"
        assert incident["status"] == "open" and incident["count"] == 2
        assert [r["step_run_id"] for r in incident["runs"]] == [
            first.steps["orders"].step_run_ids[-1],
            second.steps["orders"].step_run_ids[-1],
        ]
        # blast radius: the step downstream and the declared outputs of both
        assert incident["affected"] == {
            "steps": ["report"],
            "outputs": ["warehouse.orders", "reports/daily.html"],
        }
        [alert] = hook.bodies  # the second failure attached, and was not alerted again
        assert alert["events"] == ["failure", "check_failed"]
        assert alert["incident"]["id"] == incident["id"]

        third = run(path, store)
        assert third.status == "success"
        assert store.list_incidents(pipeline="sales") == []
        done = store.get_incident(incident["id"])
        assert done["status"] == "resolved" and done["resolved_by"] == "dataops"
        assert done["resolved_step_run_id"] == third.steps["orders"].step_run_ids[-1]
        assert [b["event"] for b in hook.bodies] == ["failure", "resolved"]
        assert hook.bodies[1]["incident"]["id"] == incident["id"]

        # the same check failing again opens a new incident, alerted again
        run(path, store, "null_every=5")
        [again] = store.list_incidents(pipeline="sales")
        assert again["id"] != incident["id"] and again["count"] == 1
        assert [b["event"] for b in hook.bodies] == ["failure", "resolved", "failure"]


@pytest.mark.slow
def test_resolve_after_waits_for_passing_runs_in_a_row_and_a_failed_step_is_an_incident(
    tmp_path, hook
):
    path = project(tmp_path, hook, "incidents:\n  resolve_after: 2\n")
    with open_store(tmp_path) as store:
        run(path, store, "null_every=5")
        run(path, store)
        [incident] = store.list_incidents(pipeline="sales")
        assert incident["passes"] == 1 and incident["status"] == "open"
        run(path, store, "crash=True")  # the notebook raises: a failed step, no check ran
        incidents = {i["kind"]: i for i in store.list_incidents(pipeline="sales")}
        assert set(incidents) == {"check", "step_failed"}
        # a run with no verdict on the line (the step failed before it) does not count
        assert incidents["check"]["passes"] == 1
        assert "the orders source is down" in incidents["step_failed"]["title"]
        run(path, store)
        [left] = store.list_incidents(pipeline="sales")  # the check passed twice: resolved
        assert left["kind"] == "step_failed" and left["passes"] == 1
        events = [(b["event"], b["incident"]["kind"]) for b in hook.bodies]
        assert events == [("failure", "check"), ("failure", "step_failed"), ("resolved", "check")]


def test_a_reported_problem_is_listed_and_alerted_once(tmp_path, hook):
    path = project(tmp_path, hook)
    pipeline = load_pipeline(path)
    with open_store(tmp_path) as store:
        incident = report_incident(pipeline, store, "orders", "revenue is zero", by="ana")
        again = report_incident(pipeline, store, "orders", "  revenue   is zero ", by="bo")
        assert again["id"] == incident["id"] and again["count"] == 2
        [listed] = store.list_incidents(pipeline="sales")
        assert listed["kind"] == "reported" and listed["opened_by"] == "ana"
        assert listed["affected"]["steps"] == ["report"]
        [alert] = hook.bodies  # a channel on `failure` hears of reported problems
        assert alert["event"] == "reported" and "revenue is zero" in alert["error"]
        with pytest.raises(DataOpsError, match="no step named 'ordrs'"):
            report_incident(pipeline, store, "ordrs", "x")
        with pytest.raises(DataOpsError, match="needs a title"):
            report_incident(pipeline, store, "orders", "   ")
        with pytest.raises(DataOpsError, match="no `partitions:`"):
            report_incident(pipeline, store, "orders", "x", partition="2026-01-01")


def test_remind_after_alerts_an_open_incident_again_once_per_period(tmp_path, hook):
    from datetime import datetime, timedelta, timezone

    spec = parse_alert({"webhook": hook.url, "on": ["check_failed"], "remind_after": "1d"})
    with open_store(tmp_path) as store:
        incident, _ = store.record_failure(
            "sales", "orders", "check", "row_count >= 10", title="data test failed"
        )
        now = datetime.now(timezone.utc)
        assert remind_open([spec], store, "sales", now + timedelta(hours=23)) == []
        [sent] = remind_open([spec], store, "sales", now + timedelta(days=1, minutes=1))
        assert sent["event"] == "alert_sent"
        assert "still open" in hook.bodies[0]["error"]
        assert remind_open([spec], store, "sales", now + timedelta(days=1, hours=2)) == []
        store.resolve_incident(incident["id"], by="ana", note="fixed upstream")
        assert remind_open([spec], store, "sales", now + timedelta(days=5)) == []


def test_bad_incident_settings_are_refused_with_the_key(tmp_path, hook):
    path = project(tmp_path, hook, "incidents:\n  resolve_after: 0\n")
    with pytest.raises(PipelineFileError, match="resolve_after must be a whole number"):
        load_pipeline(path)
    with pytest.raises(ValueError, match="remind_after is a duration"):
        parse_alert({"webhook": hook.url, "on": ["failure"], "remind_after": "soon"})


def test_retention_keeps_the_runs_an_open_incident_points_to(store):
    run_id = store.create_pipeline_run("p")
    ids = [store.create_step_run(run_id, "s", status="queued") for _ in range(4)]
    for srid in ids:
        store.start_step_run(srid)
        store.finish_step_run(srid, "failed", error="boom")
    store.finish_pipeline_run(run_id)
    incident, _ = store.record_failure(
        "p", "s", "step_failed", "step failed", title="t", step_run_id=ids[0]
    )
    kept = {c["id"] for c in store.retention_candidates("p", "s", keep_runs=1)}
    assert kept == {ids[1], ids[2]}  # ids[3] is the newest, ids[0] the incident's
    store.resolve_incident(incident["id"], by="ana")
    kept = {c["id"] for c in store.retention_candidates("p", "s", keep_runs=1)}
    assert kept == {ids[0], ids[1], ids[2]}


def late_project(root: Path, alerts: str = "") -> Any:
    """Daily partitions from 2026-09-01, due by 07:00; step b depends on a."""
    write_notebook(root / "a.ipynb", "", "x = 1")
    (root / "dataops.yaml").write_text(
        "pipeline: daily\npartitions: {every: day, start: 2026-09-01}\n"
        'expect_by: "07:00"\n' + alerts + "steps:\n  a: {notebook: a.ipynb}\n"
        "  b: {notebook: a.ipynb, depends_on: [a], outputs: [daily.html]}\n"
    )
    return load_pipeline(root / "dataops.yaml")


def arrive(store, pipeline, step: str, key: str) -> int:
    """A successful production run of ``step`` for partition ``key``, recorded as the runner
    records it, then seen by the incident and alert observers (what they call per step)."""
    prid = store.create_pipeline_run("daily", partition=key)
    srid = store.create_step_run(prid, step)
    store.start_step_run(srid)
    store.finish_step_run(srid, "success")
    store.finish_pipeline_run(prid)
    record_step_run(pipeline, store, store.get_run(srid))
    alert_step_runs(pipeline.alerts, store, [srid])
    return srid


def test_late_partitions_are_one_incident_alerted_when_it_opens_and_when_their_runs_arrive(
    tmp_path, hook
):
    from datetime import datetime, timezone

    from jupyter_dataops.pipeline.observers.lateness import notice_late

    pipeline = late_project(tmp_path, f"alerts:\n  - webhook: {hook.url}\n    on: [late]\n")
    now = datetime(2026, 9, 3, 8, 0, tzinfo=timezone.utc)
    with open_store(tmp_path) as store:
        sent = notice_late(pipeline, store, now)
        assert notice_late(pipeline, store, now) == []  # the next command's look: nothing new
        # a and b are late for both days; b waits on a: one incident, on a, b in its radius
        [incident] = store.list_incidents(pipeline="daily")
        assert (incident["kind"], incident["step"]) == ("late", "a")
        assert incident["partitions"] == ["2026-09-01", "2026-09-02"] and incident["count"] == 2
        assert incident["affected"] == {"steps": ["b"], "outputs": ["daily.html"]}
        assert [(s["incident"], s["partitions"]) for s in sent] == [
            (incident["id"], ["2026-09-01", "2026-09-02"])
        ]
        [opened] = hook.bodies  # one alert for the two partitions
        assert opened["event"] == "late" and opened["incident"]["id"] == incident["id"]
        assert "2026-09-01, 2026-09-02" in opened["error"]
        assert "dataops run --partition 2026-09-02" in opened["error"]

        arrive(store, pipeline, "a", "2026-09-01")  # one of two: still open, nothing sent
        assert store.get_incident(incident["id"])["status"] == "open" and len(hook.bodies) == 1
        last = arrive(store, pipeline, "a", "2026-09-02")
        done = store.get_incident(incident["id"])
        assert done["status"] == "resolved" and done["resolved_step_run_id"] == last
        assert done["resolved_by"] == "dataops" and "2026-09-02" in done["resolved_note"]
        assert [b["event"] for b in hook.bodies] == ["late", "resolved"]
        assert hook.bodies[1]["incident"]["id"] == incident["id"]

        # a is done; b never ran: the problem is b's now, a new incident, alerted once
        notice_late(pipeline, store, now)
        [moved] = store.list_incidents(pipeline="daily")
        assert moved["step"] == "b" and moved["partitions"] == ["2026-09-01", "2026-09-02"]
        assert [b["event"] for b in hook.bodies] == ["late", "resolved", "late"]


def test_late_incidents_are_recorded_without_a_late_channel_and_resolve_at_the_next_look(
    tmp_path, hook
):
    from datetime import datetime, timezone

    from jupyter_dataops.pipeline.observers.lateness import notice_late

    pipeline = late_project(tmp_path, f"alerts:\n  - webhook: {hook.url}\n    on: [failure]\n")
    now = datetime(2026, 9, 2, 8, 0, tzinfo=timezone.utc)
    with open_store(tmp_path) as store:
        assert notice_late(pipeline, store, now) == []  # nobody listens for late
        [incident] = store.list_incidents(pipeline="daily")
        assert incident["kind"] == "late" and incident["partitions"] == ["2026-09-01"]
        # the runs arrive by a door that saw no observer (an old runner, a copied store)
        for step in ("a", "b"):
            prid = store.create_pipeline_run("daily", partition="2026-09-01")
            srid = store.create_step_run(prid, step)
            store.start_step_run(srid)
            store.finish_step_run(srid, "success")
        notice_late(pipeline, store, now)
        assert store.list_incidents(pipeline="daily") == []
        assert store.get_incident(incident["id"])["status"] == "resolved"
        assert hook.bodies == []


def test_an_spc_incident_resolves_on_the_next_judged_point_though_a_plain_line_reads_its_metric(
    tmp_path, hook
):
    """The sample factory's daily_metrics: ``avg(amount) between ...`` and ``spc avg(amount)``
    read one metric; only the spc line's verdict says whether the signal is gone."""
    import polars as pl

    from jupyter_dataops.checks import run_checks

    spec = "avg(amount) between 0 and 1000\nspc avg(amount): baseline 5"
    values: list[float] = []
    pipeline = load_pipeline(project(tmp_path, hook))
    with open_store(tmp_path) as store:
        states = []
        for value in (10.0, 11.0, 10.0, 12.0, 11.0, 60.0, 61.0, 11.0):
            result = run_checks(
                pl.DataFrame({"amount": [value]}),
                spec,
                name="q",
                history=lambda key: list(values),
            )
            values.append(value)
            prid = store.create_pipeline_run("sales")
            srid = store.create_step_run(prid, "orders")
            store.start_step_run(srid)
            store.record_suite(srid, result)
            store.finish_step_run(srid, "success")
            record_step_run(pipeline, store, store.get_run(srid))
            states.append([(i["kind"], i["key"], i["count"]) for i in store.list_incidents()])
        assert states[:5] == [[]] * 5  # the baseline
        line = "spc avg(amount): baseline 5"  # the key is the line, not its metric
        assert states[5:] == [[("spc", line, 1)], [("spc", line, 2)], []]
