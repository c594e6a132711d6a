"""The run context the magic uses: recording suites under a step run, and SPC history."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from jupyter_dataops.checks import run_checks
from jupyter_dataops.pipeline.definition import project as project_module
from jupyter_dataops.pipeline.execution import context
from jupyter_dataops.pipeline.execution.context import RunContext
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url as make_store_url

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "_STORES", {})
    with make_store_url(request.param, tmp_path) as url:
        s = open_store(url)
        yield s
        s.close()


def production_run(store, value: float, status: str = "success") -> int:
    """A finished production step run of sales/load whose suite measured avg(x) = value."""
    pr = store.create_pipeline_run("sales", mode="production")
    store.upsert_step("sales", "load")
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    ctx = RunContext("production", step="load", step_run_id=str(sr), store_url=store.url)
    suite = run_checks(pl.DataFrame({"x": [value, value]}), "row_count > 0\navg(x) > -1000")
    assert context.record_suite(ctx, suite) == 2
    store.finish_step_run(sr, status, error=None if status == "success" else "a check failed")
    return sr


def test_current_reads_the_environment():
    assert context.current({}) is None
    assert context.current({"DATAOPS_MODE": "interactive"}) is None
    ctx = context.current(
        {
            "DATAOPS_MODE": "Production",
            "DATAOPS_STEP": "load",
            "DATAOPS_STEP_RUN_ID": "7",
            "DATAOPS_STORE_URL": "sqlite:///x.db",
        }
    )
    assert ctx == RunContext("production", step="load", step_run_id="7", store_url="sqlite:///x.db")
    assert context.current(ctx.env()) == ctx


def test_record_suite_writes_results_and_metrics_under_the_step_run(store):
    sr = production_run(store, 5.0)
    run = store.get_run(sr)
    assert [c["status"] for c in run["check_results"]] == ["pass", "pass"]
    assert {m["metric"]: m["value"] for m in run["metrics"]} == {"row_count": 2.0, "avg(x)": 5.0}


def test_nothing_is_recorded_interactively_or_without_a_step_run(store):
    suite = run_checks(pl.DataFrame({"x": [1]}), "row_count > 0")
    assert context.record_suite(None, suite) == 0
    assert context.record_suite(RunContext("test", store_url=store.url), suite) == 0
    assert store.list_runs() == []


def test_history_is_earlier_successful_production_values_without_the_current_run(store):
    production_run(store, 1.0)
    production_run(store, 2.0, status="failed")  # a failed run is no baseline
    production_run(store, 3.0)
    pr = store.create_pipeline_run("sales", mode="production")
    current = store.create_step_run(pr, "load")
    store.start_step_run(current)
    ctx = RunContext("production", step="load", step_run_id=str(current), store_url=store.url)
    suite = run_checks(pl.DataFrame({"x": [50.0]}), "avg(x) > 0")
    context.record_suite(ctx, suite)

    history = context.history_provider(ctx)
    assert list(history("avg(x)")) == [1.0, 3.0]
    assert list(history("missing_percent(nothing)")) == []
    assert context.history_provider(RunContext("test", store_url=store.url)) is None


def why_not(history) -> str:
    """The reason a history provider gives for having no production history."""
    from jupyter_dataops.checks.inputs import NoHistory

    assert isinstance(history, NoHistory), history
    return history.reason


def test_interactive_history_needs_this_notebook_to_be_a_step(tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "_STORES", {})
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "trivial.ipynb", root / "load.ipynb")
    shutil.copy(NOTEBOOKS / "trivial.ipynb", root / "scratch.ipynb")
    (root / "dataops.yaml").write_text("pipeline: sales\nsteps:\n  load: {notebook: load.ipynb}\n")
    monkeypatch.chdir(root)

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    # which notebook is this? unknown, and the cell is in no step's notebook
    why = why_not(context.history_provider(None, cell="%%dataops_test t\nrow_count > 0"))
    assert "no step of pipeline 'sales'" in why and str(root / "dataops.yaml") in why
    monkeypatch.setenv("JPY_SESSION_NAME", "scratch.ipynb")
    assert "the notebook scratch.ipynb cannot tell" in why_not(context.history_provider(None))
    monkeypatch.setenv("JPY_SESSION_NAME", "load.ipynb")
    why = why_not(context.history_provider(None))  # a step, but nothing recorded yet
    assert "step 'load' of pipeline 'sales' has no run store yet at sqlite:" in why
    assert not (root / ".dataops").exists()  # ...and looking did not create a store
    monkeypatch.chdir(tmp_path)  # outside the project, and the kernel not told its notebook
    monkeypatch.delenv("JPY_SESSION_NAME")
    why = why_not(context.history_provider(None))
    assert f"{tmp_path} and its parents hold no dataops.yaml" in why and "cwd=FOLDER" in why
    monkeypatch.setenv(context.ENV_PROJECT_DIR, str(root))  # ...unless told where it is
    assert "no step of pipeline 'sales'" in why_not(context.history_provider(None))
    monkeypatch.delenv(context.ENV_PROJECT_DIR)
    monkeypatch.chdir(root)
    monkeypatch.setenv("JPY_SESSION_NAME", "load.ipynb")

    with open_store(root) as store:
        production_run(store, 4.0)
    history = context.history_provider(None)
    assert history is not None and list(history("avg(x)")) == [4.0]


def test_two_suites_of_one_step_keep_their_own_spc_series(store):
    """Two %%dataops_test cells of one step both measure row_count: each judges its own series."""
    for rows_a, rows_b in [(10, 1000), (11, 1010), (12, 990)]:
        pr = store.create_pipeline_run("sales", mode="production")
        store.upsert_step("sales", "load")
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        ctx = RunContext("production", step="load", step_run_id=str(sr), store_url=store.url)
        for name, rows in (("raw", rows_a), ("clean", rows_b)):
            frame = pl.DataFrame({"x": list(range(rows))})
            context.record_suite(ctx, run_checks(frame, "row_count > 0", name=name))
        store.finish_step_run(sr, "success")
    ctx = RunContext("production", step="load", step_run_id="999999", store_url=store.url)
    assert list(context.history_provider(ctx, suite="raw")("row_count")) == [10, 11, 12]
    assert list(context.history_provider(ctx, suite="clean")("row_count")) == [1000, 1010, 990]
    # the magic names its suite (--name, else the frame): an spc line reads only its own series
    mixed = context.history_provider(ctx)("row_count")
    assert len(mixed) == 6
