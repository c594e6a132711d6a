"""The panel's scheduler section in a real JupyterLab, driven by headless chromium.

A project of its own (one promoted step scheduled at 03:00, so no tick fires and no kernel starts
during the test) served by its own ``jupyter lab``: with no scheduler the panel says "scheduler
not running" plainly; once a real ``dataops scheduler`` process runs in the project folder, the
panel's polling shows "scheduler running on HOST (pid N)"; SIGTERM stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from jupyter_dataops.pipeline.execution.promote import promote

from .conftest import KERNELSPEC, LabPage, LabServer, start_lab, stop_lab
from .test_panel import open_panel, watched_page

pytestmark = pytest.mark.browser

SCHEDULE = "0 3 * * *"
TIMEZONE = "UTC"
SCHEDULER = '[data-testid="dataops-scheduler"]'


def write_scheduled_project(root: Path) -> Path:
    """A pipeline ``nightly`` whose one step ``tick`` is promoted and scheduled daily at 03:00."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.cells = [
        nbformat.v4.new_code_cell("seconds = 0.0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\ntime.sleep(seconds)"),
    ]
    nbformat.write(nb, root / "tick.ipynb")
    (root / "dataops.yaml").write_text("pipeline: nightly\nsteps: {}\n")
    promote(root / "tick.ipynb", "tick", pipeline_file=root / "dataops.yaml")
    (root / "dataops.yaml").write_text(
        "pipeline: nightly\n"
        "steps:\n"
        "  tick:\n"
        "    notebook: tick.ipynb\n"
        f"    schedule: '{SCHEDULE}'\n"
        f"    timezone: {TIMEZONE}\n"
    )
    return root


@pytest.fixture(scope="module")
def scheduled_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A ``jupyter lab`` serving the scheduled project (its own, not the seeded one)."""
    root = write_scheduled_project(tmp_path_factory.mktemp("scheduled_root"))
    server = start_lab(root, tmp_path_factory.mktemp("scheduled_lab_state"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def scheduler_page(chromium_context, scheduled_lab: LabServer) -> Iterator[LabPage]:
    """A tab on the scheduled project's lab; fails the test if the page threw or went off-host."""
    with watched_page(chromium_context, scheduled_lab) as lab:
        yield lab


def start_scheduler(root: Path) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATAOPS_") or k == "DATAOPS_WARM_IDLE"
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_dataops.cli", "scheduler", "--interval", "0.5"],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_panel_says_plainly_that_no_scheduler_runs(scheduler_page):
    panel = open_panel(scheduler_page)
    line = panel.locator(SCHEDULER)
    line.wait_for()
    assert line.inner_text().startswith("scheduler not running")
    assert line.get_attribute("data-alive") == "false"
    assert "jp-DataOps-scheduler-stopped" in line.get_attribute("class")
    schedule = panel.locator('[data-testid="dataops-schedule"][data-key="tick"]')
    text = schedule.inner_text()
    assert SCHEDULE in text and TIMEZONE in text and "next tick" in text
    assert "no tick yet" in text
    scheduler_page.screenshot("panel-scheduler-not-running")


def test_the_panel_shows_a_running_scheduler_then_its_stop(scheduler_page, scheduled_lab):
    panel = open_panel(scheduler_page)
    line = panel.locator(SCHEDULER)
    line.wait_for()
    assert line.inner_text().startswith("scheduler not running")
    scheduler = start_scheduler(scheduled_lab.root_dir)
    try:
        running = panel.locator(f'{SCHEDULER}[data-alive="true"]')
        running.wait_for(timeout=30_000)  # the panel polls every 3 s
        text = running.inner_text()
        assert text.startswith("scheduler running on ")
        assert f"(pid {scheduler.pid})" in text
        assert "last heartbeat" in text
        assert "jp-DataOps-scheduler-running" in running.get_attribute("class")
        scheduler_page.screenshot("panel-scheduler-running")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        _, stderr = scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0, stderr
    stopped = panel.locator(f'{SCHEDULER}[data-alive="false"]')
    stopped.wait_for(timeout=30_000)
    assert stopped.inner_text().startswith("scheduler not running")
