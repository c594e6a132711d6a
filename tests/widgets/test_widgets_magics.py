"""``%dataops_history`` and ``%dataops_chart`` through a real IPython shell.

The small store tests record runs through the store API; the slow one seeds the project by really
running its pipeline with ``dataops run`` (papermill kernels) and reads it back through the magics.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import write_notebook
from IPython.core.interactiveshell import InteractiveShell

from jupyter_dataops.store import open_store
from jupyter_dataops.widgets.chart import MetricChartWidget
from jupyter_dataops.widgets.history import RunHistory


@pytest.fixture(scope="module")
def shell():  # noqa: ANN201
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext jupyter_dataops", store_history=False)
    yield sh
    sh.run_cell("%unload_ext jupyter_dataops", store_history=False)


@pytest.fixture
def project(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """A project with a pipeline file and three recorded runs of ``measure`` (one failed)."""
    for var in ("DATAOPS_STORE_URL", "DATAOPS_MODE", "DATAOPS_STEP_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: demo\nsteps:\n  measure:\n    notebook: measure.ipynb\n"
    )
    with open_store(tmp_path) as store:
        store.upsert_step("demo", "measure", notebook="measure.ipynb")
        for value, status in ((10.0, "success"), (10.4, "success"), (9.9, "failed")):
            prid = store.create_pipeline_run("demo")
            srid = store.create_step_run(prid, "measure", parameters={"shift": value - 10})
            store.start_step_run(srid)
            store.record_metric(srid, "avg(x)", value, suite="batch")
            store.finish_step_run(srid, status, error="boom" if status == "failed" else None)
            store.finish_pipeline_run(prid)
    monkeypatch.chdir(tmp_path / "notebooks")  # a notebook in a subfolder of the project
    return tmp_path


def run(shell, line: str):  # noqa: ANN001, ANN201
    return shell.run_cell(line, store_history=False)


def test_history_magic_shows_the_project_runs_with_filters(shell, project):
    res = run(shell, "%dataops_history measure --status failed --page-size 5")
    assert res.error_in_exec is None
    widget = res.result
    assert isinstance(widget, RunHistory)
    assert widget.step == "measure" and widget.status == "failed" and widget.page_size == 5
    assert [r["status"] for r in widget.rows] == ["failed"]
    assert widget.project_dir == project


def test_history_magic_without_arguments_lists_every_step(shell, project):
    widget = run(shell, "%dataops_history").result
    assert widget.step is None and len(widget.rows) == 3


def test_chart_magic_shows_the_metric_as_its_spc_line_judged_it(shell, project):
    res = run(shell, "%dataops_chart measure avg(x) --last 50")
    assert res.error_in_exec is None
    widget = res.result
    assert isinstance(widget, MetricChartWidget)
    assert widget.chart.chart == "i" and widget.chart.rules == "qcc"  # no spc line: the defaults
    assert widget.last.value == 50
    assert len(widget.output.outputs) == 1
    assert [p["value"] for p in widget.series] == [10.0, 10.4, 9.9]


def test_chart_magic_with_a_bad_option_reports_an_error_and_the_kernel_goes_on(shell, project):
    res = run(shell, "%dataops_chart measure avg(x) --rules weird")  # the spc line's, not here
    assert "unrecognized arguments: --rules weird" in str(res.error_in_exec)
    assert run(shell, "1 + 1").result == 2


def test_magics_outside_a_project_say_where_they_looked(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run(shell, "%dataops_history")
    assert f"No dataops.yaml in {tmp_path}" in str(res.error_in_exec)
    res = run(shell, "%dataops_chart")  # STEP and METRIC are required
    assert res.error_in_exec is not None
    assert "arguments are required: step, metric" in str(res.error_in_exec)


@pytest.mark.slow
def test_magics_read_what_dataops_run_recorded(shell, tmp_path, monkeypatch):
    """Two real pipeline runs (papermill kernels): one passes, then one fails its data tests."""
    for var in ("DATAOPS_STORE_URL", "DATAOPS_MODE", "DATAOPS_STEP_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    write_gate_notebook(tmp_path / "gate.ipynb")
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: demo\nsteps:\n  gate:\n    notebook: gate.ipynb\n"
    )
    dataops = [sys.executable, "-m", "jupyter_dataops.cli"]
    ok = subprocess.run(
        [*dataops, "run", "--unpromoted", "-p", "gate.rows=3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(
        [*dataops, "run", "--unpromoted"], cwd=tmp_path, capture_output=True, text=True
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    monkeypatch.chdir(tmp_path)

    history = run(shell, "%dataops_history gate").result
    assert [r["status"] for r in history.rows] == ["failed", "success"]
    assert history.rows[0]["checks"]["fail"] == 1 and history.rows[1]["checks"]["fail"] == 0
    history._row_buttons[0].click()
    detail = history.detail.outputs[0]["data"]["text/html"]
    assert "<code>row_count &gt;= 3</code>" in detail
    assert "dataops-check-fail" in detail and "row_count is 2" in detail
    path = detail.split('class="dataops-notebook-link"')[1].split('data-path="')[1].split('"')[0]
    assert Path(path).is_file() and path.endswith("gate.ipynb")
    assert Path(path).parent.parent.name == "runs"  # .dataops/runs/<pipeline run>/gate.ipynb

    chart = run(shell, "%dataops_chart gate row_count").result
    assert [p["value"] for p in chart.series] == [3.0, 2.0]  # failed runs are plotted too
    assert len(chart.output.outputs) == 1


def write_gate_notebook(path: Path) -> None:
    """A parameterised step whose data test fails unless ``rows`` is 3 or more."""
    write_notebook(
        path,
        "rows = 2",
        "%load_ext jupyter_dataops\nimport polars as pl\n"
        "frame = pl.DataFrame({'v': list(range(rows))})",
        "%%dataops_test frame\nrow_count >= 3\nmissing_count(v) = 0",
    )
