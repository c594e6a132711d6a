"""Alerts delivered to a real local HTTP server (webhook) and a real local SMTP server
(aiosmtpd) after real runs; a dead channel is retried, logged and never changes a run; bad
``alerts:`` entries are refused with file and line."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from builders import dataops_process, promoted, sleep_notebook, write_notebook

from jupyter_dataops.pipeline.definition.alert_config import AlertSpec, parse_alert
from jupyter_dataops.pipeline.definition.spec import PipelineFileError, load_pipeline
from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline
from jupyter_dataops.pipeline.observers.alerts import (
    AlertEvent,
    deliver,
    redact_url,
    step_events,
)
from jupyter_dataops.store import open_store

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


def dead_url() -> str:
    """A local port where nothing listens (port 1: privileged, never served here; a port
    bound and released could be taken by a kernel's socket before the alert is sent)."""
    return "http://127.0.0.1:1/services/T000/SECRET"


def project(tmp_path: Path, alerts: str) -> Path:
    shutil.copy(NOTEBOOKS / "failing_checks.ipynb", tmp_path / "failing_checks.ipynb")
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: sales\n"
        + textwrap.dedent(alerts)
        + "steps:\n  load:\n    notebook: failing_checks.ipynb\n"
    )
    return tmp_path / "dataops.yaml"


@pytest.mark.slow
def test_a_failed_data_test_reaches_the_webhook_and_a_dead_channel_changes_nothing(
    tmp_path, hook, caplog
):
    dead = dead_url()
    path = project(
        tmp_path,
        f"""\
        alerts:
          - webhook: {dead}
            on: [failure]
          - webhook: {hook.url}/T000/B000
            on: [check_failed, failure]
        """,
    )
    pipeline = load_pipeline(path)
    with open_store(tmp_path) as store, caplog.at_level(logging.INFO, "jupyter_dataops.alerts"):
        result = run_pipeline(
            pipeline,
            store=store,
            reporter=NullReporter(),  # the runner adds the pipeline's alerts
            unpromoted=True,
        )
        assert result.status == "failed" and result.steps["load"].reason == "checks"
        [body] = hook.bodies
        assert body["event"] == "failure" and body["events"] == ["failure", "check_failed"]
        assert body["pipeline"] == "sales" and body["step"] == "load"
        srid = result.steps["load"].step_run_ids[-1]
        assert body["step_run_id"] == srid and body["pipeline_run_id"] == result.run_id
        [check] = [c for c in body["checks"] if c["source"] == "row_count >= 3"]
        assert check["status"] == "fail" and check["observed"] == 2
        assert body["notebook"].endswith("load.ipynb") and Path(body["notebook"]).exists()
        assert "row_count >= 3" in body["title"] + str(body["checks"])
        # The dead channel was tried three times and logged, without the secret in its URL.
        log = {a["channel"] + ":" + a["status"]: a for a in store.list_alerts(pipeline="sales")}
        assert log["webhook:failed"]["attempts"] == 3 and log["webhook:sent"]["attempts"] == 1
        assert "SECRET" not in log["webhook:failed"]["target"] + log["webhook:failed"]["error"]
        assert "SECRET" not in caplog.text
        # The run's outcome is the same as without alerts.
        assert store.get_run(srid)["status"] == "failed"


def test_slack_format_and_events_a_channel_did_not_ask_for(hook):
    spec = parse_alert({"webhook": hook.url, "format": "slack", "on": ["spc_signal"]})
    event = AlertEvent(events=["failure"], pipeline="p", step="s", step_run_id=3)
    assert deliver([spec], event) == []  # it wants SPC signals only
    event.events = ["spc_signal"]
    event.spc = ["spc avg(x): WE1 1 point beyond the control limits (3σ)"]
    [sent] = deliver([spec], event)
    assert sent["event"] == "alert_sent"
    [body] = hook.bodies
    assert set(body) == {"text"} and "WE1 1 point beyond the control limits" in body["text"]


def test_an_spc_signal_names_the_rule_in_words():
    run = {
        "id": 7,
        "pipeline_run_id": 2,
        "pipeline": "p",
        "step": "s",
        "status": "success",
        "notebook_path": "/runs/2/s.ipynb",
        "check_results": [
            {"line": 1, "source": "row_count > 0", "status": "pass", "observed": 50, "spc": None},
            {
                "line": 2,
                "source": "spc avg(x): baseline 5",
                "status": "warn",
                "observed": 14.2,
                "message": "out of control",
                "spc": {"broken": ["WE1"]},
            },
        ],
    }
    event = step_events(run)
    assert event.events == ["spc_signal"]
    assert event.spc == ["spc avg(x): baseline 5: WE1 1 point beyond the control limits (3σ)"]
    assert "executed notebook: /runs/2/s.ipynb" in event.text()
    assert step_events({**run, "check_results": run["check_results"][:1]}) is None


def test_email_reaches_a_local_smtp_server(tmp_path):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got = []

    class Keep(Message):
        def handle_message(self, message):
            got.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        spec = parse_alert(
            {"email": ["ops@example.com"], "smtp": f"127.0.0.1:{port}", "on": ["failure"]}
        )
        event = AlertEvent(
            events=["failure"],
            pipeline="sales",
            step="load",
            step_run_id=12,
            status="failed",
            error="ValueError: boom",
            notebook="/p/.dataops/runs/4/load.ipynb",
        )
        [sent] = deliver([spec], event)
        assert sent["event"] == "alert_sent"
    finally:
        controller.stop()
    [msg] = got
    assert msg["To"] == "ops@example.com"
    assert msg["Subject"] == "[dataops] sales/load (run 12): step failed"
    body = msg.get_payload()
    assert "error: ValueError: boom" in body and "/p/.dataops/runs/4/load.ipynb" in body


def test_a_channel_that_raises_is_logged_never_raised(caplog):
    spec = AlertSpec("email", ["a@example.com"], {"smtp": "127.0.0.1:1"}, ("failure",))
    with caplog.at_level(logging.WARNING, "jupyter_dataops.alerts"):
        [res] = deliver([spec], AlertEvent(events=["failure"], pipeline="p"), retry_delay=0)
    assert res["event"] == "alert_failed" and res["attempts"] == 3 and res["error"]
    assert "alert not delivered" in caplog.text


def test_redacted_urls_keep_host_not_secrets():
    assert (
        redact_url("https://hooks.slack.com/services/T0/B0/XyZ")
        == "https://hooks.slack.com/services/***"
    )
    assert (
        redact_url("https://u:pw@h.example:8443/hook?token=abc")
        == "https://h.example:8443/hook/***"
    )
    assert redact_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("entry", "line", "key", "words"),
    [
        ("- webhook: ftp://x\n    on: [failure]", 3, "webhook", "http(s) URL"),
        ("- webhook: https://x\n    on: [failur]", 4, "on", "unknown event 'failur'"),
        (
            "- email: a@x\n    smtp: h:25\n    password: hunter2\n    on: [failure]",
            5,
            "password",
            "never go in dataops.yaml",
        ),
        ("- email: a@x\n    on: [failure]", 3, "smtp", "missing `smtp: host:port`"),
        ("- pager: x\n    on: [failure]", 3, "alerts", "exactly one channel"),
    ],
)
def test_bad_alert_entries_name_file_line_and_key(tmp_path, entry, line, key, words):
    (tmp_path / "dataops.yaml").write_text(f"pipeline: p\nalerts:\n  {entry}\nsteps: {{}}\n")
    with pytest.raises(PipelineFileError) as info:
        load_pipeline(tmp_path)
    err = info.value
    assert (err.line, err.key) == (line, key) and words in str(err)
    assert "hunter2" not in str(err)


# -- the scheduler sends alerts too, and a dead channel does not stop it ------------------------


@pytest.mark.slow
def test_the_scheduler_alerts_on_a_failed_scheduled_run_and_survives_a_dead_channel(tmp_path, hook):
    root = tmp_path / "proj"
    write_notebook(
        root / "job.ipynb",
        "fail = False",
        "if fail:\n    raise ValueError('boom from the notebook')",
    )
    promoted(root, "job", "pipeline: nightly\n")
    (root / "dataops.yaml").write_text(
        textwrap.dedent(f"""\
        pipeline: nightly
        alerts:
          - webhook: {dead_url()}
            on: [failure]
          - webhook: {hook.url}
            on: [failure]
        steps:
          job:
            notebook: job.ipynb
            schedule: "* * * * * *"
            parameters: {{fail: true}}
        """)
    )
    proc = dataops_process("scheduler", "--interval", "0.2", cwd=root)

    def failures_seen() -> int:  # of the step's incident (one incident, however many runs)
        with open_store(root) as store:
            return max((i["count"] for i in store.list_incidents(pipeline="nightly")), default=0)

    try:
        deadline = time.monotonic() + 120
        while (not hook.bodies or failures_seen() < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None  # still running after the dead channel's failures
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=90)[1]
    assert proc.returncode == 0, err
    # every failed run attached to the step's one incident: alerted once, when it opened
    assert failures_seen() >= 2 and len(hook.bodies) == 1, err
    body = hook.bodies[0]
    assert body["event"] == "failure" and body["step"] == "job"
    assert "boom from the notebook" in body["error"]
    assert '"alert_failed"' in err or "alert not delivered" in err


@pytest.mark.slow
def test_dataops_run_sends_the_alerts_too(tmp_path, hook):
    project(tmp_path, f"alerts:\n  - webhook: {hook.url}\n    on: [check_failed]\n")
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", "run", "--unpromoted"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stderr  # the data test failed: the exit code says so
    [body] = hook.bodies
    assert body["events"] == ["failure", "check_failed"] and body["step"] == "load"


@pytest.mark.slow
def test_a_scheduled_run_stopped_by_sigterm_alerts_interrupted(tmp_path, hook):
    root = tmp_path / "proj"
    sleep_notebook(root / "slow.ipynb")
    promoted(root, "slow", "pipeline: nightly\n")
    (root / "dataops.yaml").write_text(
        f"pipeline: nightly\nalerts:\n  - webhook: {hook.url}\n    on: [interrupted]\n"
        'steps:\n  slow:\n    notebook: slow.ipynb\n    schedule: "* * * * * *"\n'
        "    parameters: {seconds: 60}\n"
    )
    proc = dataops_process("scheduler", "--stop-timeout", "0", cwd=root)
    try:
        with open_store(root) as store:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not any(
                r["status"] == "running" for r in store.list_runs(step="slow")
            ):
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=90)[1]
    assert proc.returncode == 0, err
    [body] = hook.bodies
    assert body["event"] == "interrupted" and body["step"] == "slow"
    assert body["status"] == "interrupted" and "stopped" in body["error"]


@pytest.mark.slow
def test_ctrl_c_on_dataops_run_alerts_interrupted(tmp_path, hook):
    sleep_notebook(tmp_path / "slow.ipynb", "60.0")
    (tmp_path / "dataops.yaml").write_text(
        f"pipeline: p\nalerts:\n  - webhook: {hook.url}\n    on: [interrupted]\n"
        "steps:\n  slow: {notebook: slow.ipynb}\n"
    )
    proc = dataops_process("run", "--unpromoted", cwd=tmp_path, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (tmp_path / ".dataops" / "dataops.db").exists():
            time.sleep(0.2)
        with open_store(tmp_path) as store:
            while time.monotonic() < deadline and not any(
                r["status"] == "running" for r in store.list_runs(step="slow")
            ):
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    [body] = hook.bodies
    assert body["event"] == "interrupted" and body["step"] == "slow"
