"""The scheduler's state on the REST API (``GET /dataops/api/status``, validated against
openapi.yaml on a real jupyter_server) and in ``dataops status``: alive with heartbeat, host and
pid while a scheduler runs; "scheduler not running" plainly when none does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_openapi_contract import call

from jupyter_dataops.pipeline.definition.project import Project

pytest_plugins = ["pytest_jupyter.jupyter_server"]

YAML = """\
pipeline: nightly
timezone: Europe/Paris
steps:
  load: {notebook: load.ipynb}
  report: {notebook: report.ipynb, depends_on: [load], schedule: "0 6 * * *", catchup: all}
"""


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


async def test_status_without_a_project_says_no_scheduler_runs(jp_fetch):
    code, body = await call(jp_fetch, "GET", "/dataops/api/status")
    assert code == 200 and body["pipeline"] is None and body["schedules"] == []
    assert body["scheduler"]["alive"] is False and body["scheduler"]["host"] is None
    assert body["scheduler"]["message"].startswith("scheduler not running")
    assert body["hint"]


async def test_status_shows_a_live_scheduler_then_not_running(jp_fetch, jp_root_dir):
    root = Path(jp_root_dir)
    (root / "dataops.yaml").write_text(YAML)
    store = Project(root).open_store(create=True)
    me = store.register_scheduler("nightly", project_dir=str(root))

    code, body = await call(jp_fetch, "GET", "/dataops/api/status")
    assert code == 200 and body["pipeline"] == "nightly"
    sched = body["scheduler"]
    assert sched["alive"] is True and sched["pid"] == os.getpid() and sched["host"] == store.host
    assert sched["heartbeat_at"] and sched["message"].startswith("scheduler running on")
    [report] = body["schedules"]
    assert report["key"] == "report" and report["steps"] == ["load", "report"]
    assert (report["timezone"], report["catchup"]) == ("Europe/Paris", "all")
    assert report["next_run"].endswith("+00:00") and report["last_scheduled"] is None

    store.stop_scheduler(me)
    _, body = await call(jp_fetch, "GET", "/dataops/api/status")
    assert body["scheduler"]["alive"] is False
    assert body["scheduler"]["message"].startswith("scheduler not running")
    assert f"pid {os.getpid()}" in body["scheduler"]["message"]  # last seen


def test_dataops_status_says_whether_a_scheduler_runs(tmp_path):
    import nbformat

    for name in ("load", "report"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    (tmp_path / "dataops.yaml").write_text(textwrap.dedent(YAML))
    Project(tmp_path).open_store(create=True)

    def status(*args: str, code: int = 0):
        out = subprocess.run(
            [sys.executable, "-m", "jupyter_dataops.cli", "status", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert out.returncode == code, out.stdout + out.stderr
        return out.stdout + out.stderr

    assert "scheduler not running" in status()
    down = status("--check", code=1)  # for monitoring: schedules and nobody to run them
    assert "check failed: 1 schedule(s) (report) and scheduler not running" in down
    assert "dataops scheduler" in down
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_dataops.cli", "scheduler"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the scheduler and each `dataops status` are new interpreters: at load 13 (2 cores) the
        # scheduler logged scheduler_started after 46 s, a status took 16 s
        deadline = time.monotonic() + 180
        while "scheduler running on" not in (out := status()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert f"pid {proc.pid}" in out, out
        assert "report" in out and "Europe/Paris" in out
        assert "check failed" not in status("--check", code=0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert "scheduler not running" in status()
    status("--check", "--json", code=1)
    (tmp_path / "dataops.yaml").write_text(
        YAML.replace(', schedule: "0 6 * * *", catchup: all', "")
    )
    status("--check", code=0)  # nothing scheduled: nothing to be down
