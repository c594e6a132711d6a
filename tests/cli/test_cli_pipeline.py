"""The pipeline commands of `dataops`: exit codes and messages, through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from builders import cli_env, invoke

NOTEBOOKS = Path(__file__).parents[1] / "notebooks" / "pipeline"
DAG = """
    pipeline: sales
    steps:
      extract: {notebook: extract.ipynb}
      transform: {notebook: transform.ipynb, depends_on: [extract]}
      report: {notebook: report.ipynb, depends_on: [transform]}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("extract", "transform", "report", "failing_checks"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", root)
    (root / "dataops.yaml").write_text(textwrap.dedent(DAG))
    monkeypatch.chdir(root)
    cli_env(monkeypatch)
    return root


@pytest.mark.slow
def test_run_with_a_failing_middle_step_exits_non_zero_and_history_shows_it(project):
    # the working notebooks, never promoted (promoted runs: test_governed.py)
    out = invoke("run", "--unpromoted", "-p", "transform.null_every=2", "-p", "rows=30")
    assert out.exit_code == 1, out.output
    assert "transform" in out.stderr and "missing_count(amount) = 0" in out.stdout  # once
    assert "transform.ipynb" in out.stderr  # where the kept notebook is

    rows = json.loads(invoke("runs", "--json").stdout)
    assert {r["step"]: r["status"] for r in rows} == {
        "extract": "success",
        "transform": "failed",
        "report": "skipped",
    }
    only = json.loads(invoke("runs", "--json", "--step", "extract", "--limit", "1").stdout)
    assert [r["step"] for r in only] == ["extract"]
    table = invoke("runs")
    assert table.exit_code == 0 and "skipped" in table.stdout

    report_id = next(r["id"] for r in rows if r["step"] == "report")
    shown = invoke("show", str(report_id))
    assert shown.exit_code == 0 and "upstream step 'transform' failed" in shown.stdout
    transform_id = next(r["id"] for r in rows if r["step"] == "transform")
    detail = json.loads(invoke("show", str(transform_id), "--json").stdout)
    assert detail["parameters"] == {"null_every": 2}  # rows=30 went to extract only
    assert Path(detail["notebook_path"]).exists()
    assert any(c["status"] == "fail" for c in detail["check_results"])


def test_bad_input_is_a_clear_error_with_exit_code_2_before_anything_runs(project, tmp_path):
    cases = [
        (["run", "--unpromoted", "-p", "rowz=1"], "no selected step defines a parameter 'rowz'"),
        (["run", "--unpromoted", "-p", "extract.rows=lots"], "'rows' expects int"),
        (["run", "nope"], "no step named 'nope'"),
        (["run"], "step 'extract': the step has no promoted version"),
        (["run", "--executor", "spark"], "unknown executor 'spark'. Available: dask, local"),
        (
            ["promote", "failing_checks.ipynb", "--step", "load", "-p", "row=3"],
            "Did you mean 'rows'?",
        ),
        (["promote", "missing.ipynb", "--step", "load"], "does not exist"),
        (["test", "failing_checks.ipynb", "-p", "rows=x"], "expects int"),
    ]
    for args, message in cases:
        out = invoke(*args)
        assert out.exit_code == 2, (args, out.output)
        assert message in " ".join(out.stderr.split()), (args, out.stderr)
    assert not (project / ".dataops" / "runs").exists()


def test_a_cycle_and_a_missing_pipeline_file_are_explained(project, tmp_path, monkeypatch):
    (project / "dataops.yaml").write_text(
        "steps:\n  a: {notebook: extract.ipynb, depends_on: [b]}\n"
        "  b: {notebook: report.ipynb, depends_on: [a]}\n"
    )
    out = invoke("run")
    assert (
        out.exit_code == 2
        and "cycle" in out.stderr
        and "a -> b -> a" in " ".join(out.stderr.split())
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    out = invoke("run")
    assert out.exit_code == 2 and "no dataops.yaml" in out.stderr


def test_show_an_unknown_run_says_how_to_find_one(project):
    from jupyter_dataops.pipeline.definition.project import Project

    Project(project).open_store()  # a store without that run
    out = invoke("show", "999")
    assert out.exit_code == 2 and "dataops runs" in out.stderr
    out = invoke("show", "abc")
    assert out.exit_code == 2 and "whole number" in out.stderr


@pytest.mark.slow
def test_dataops_test_exits_1_with_the_failing_check(project):
    out = invoke("test", "failing_checks.ipynb")
    assert out.exit_code == 1
    assert "row_count >= 3" in out.stderr
    assert not (project / ".dataops" / "dataops.db").exists()  # no history written
