"""Promotion (gated by a real kernel run) and the innovation-pipeline test (`dataops test`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.notebook import ParameterError, content_hash
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.promote import PromotionRefused, promote, test_notebook
from jupyter_dataops.store import open_store

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder (the cwd) holding copies of the fixture notebooks."""
    root = tmp_path / "proj"
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    monkeypatch.chdir(root)
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    return root


def test_unknown_or_mistyped_parameters_are_refused_before_any_kernel_starts(project):
    nb = project / "notebooks" / "failing_checks.ipynb"
    with pytest.raises(ParameterError, match=r"unknown parameter 'row'.*Did you mean 'rows'\?"):
        promote(nb, "load", params=["row=5"])
    with pytest.raises(ParameterError, match=r"'rows' expects int .* got 'five'"):
        promote(nb, "load", params=["rows=five"])
    with pytest.raises(ParameterError, match="no parameters cell"):
        promote(project / "notebooks" / "no_parameters.ipynb", "load")
    with pytest.raises(PipelineError, match="--schedule: 'every day' is not a valid cron"):
        promote(nb, "load", schedule="every day")
    with pytest.raises(
        PipelineError, match="step 'load', key 'depends_on': no step named 'extract'"
    ):
        promote(nb, "load", depends_on=["extract"])
    with pytest.raises(PipelineError, match="does not exist"):
        promote(project / "notebooks" / "missing.ipynb", "load")
    # Nothing ran: no pipeline file, no store, no executed notebook.
    assert not (project / "dataops.yaml").exists()
    assert not (project / ".dataops").exists()


@pytest.mark.slow
def test_a_failing_gate_refuses_promotion_with_what_failed(project):
    (project / "dataops.yaml").write_text("# team pipeline\npipeline: sales\nsteps: {}\n")
    with pytest.raises(PromotionRefused) as info:
        promote(project / "notebooks" / "failing_checks.ipynb", "load")

    refused = info.value
    assert any("row_count >= 3" in f and "fail" in f for f in refused.failures), refused.failures
    assert "row_count >= 3" in str(refused)
    assert Path(refused.notebook).exists()  # the executed gate notebook is kept
    assert load_pipeline(project / "dataops.yaml", allow_no_steps=True).steps == {}  # untouched
    with open_store(project) as store:
        assert store.latest_version("sales", "load") is None
        gate = store.list_runs(step="load", mode="test")
        assert [r["status"] for r in gate] == ["failed"]
        assert store.list_runs(step="load", mode="production") == []


@pytest.mark.slow
def test_promotion_writes_the_step_keeping_the_file_and_a_changed_notebook_is_a_new_version(
    project,
):
    (project / "dataops.yaml").write_text(
        "# team pipeline: keep this comment\n"
        "pipeline: sales\n"
        "steps:\n"
        "  other:\n"
        "    notebook: notebooks/trivial.ipynb  # a step someone else owns\n"
        "    retries: 3\n"
    )
    nb = project / "notebooks" / "failing_checks.ipynb"
    first = promote(
        nb, "load", params=["rows=5"], schedule="0 6 * * *", depends_on=["other"], promoted_by="ana"
    )

    text = (project / "dataops.yaml").read_text()
    assert "# team pipeline: keep this comment" in text and "# a step someone else owns" in text
    pipeline = load_pipeline(project / "dataops.yaml")
    step = pipeline.steps["load"]
    assert step.notebook == "notebooks/failing_checks.ipynb"
    assert step.parameters == {"rows": 5} and step.schedule == "0 6 * * *"
    assert step.depends_on == ("other",) and pipeline.steps["other"].retries == 3
    assert first.version["version"] == 1
    assert first.version["content_hash"] == content_hash(nb)
    assert first.version["promoted_by"] == "ana"

    # Edit the notebook's code and promote again: a new version, the schedule is kept.
    book = nbformat.read(nb, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell("total = frame['v'].sum()"))
    nbformat.write(book, nb)
    second = promote(nb, "load")
    assert second.version["version"] == 2
    assert second.version["content_hash"] != first.version["content_hash"]
    assert load_pipeline(project / "dataops.yaml").steps["load"].schedule == "0 6 * * *"
    with open_store(project) as store:
        assert [v["version"] for v in store.list_versions("load")] == [2, 1]
        # The gate runs are recorded in test mode, never as production history.
        assert {r["mode"] for r in store.list_runs(step="load")} == {"test"}


@pytest.mark.slow
def test_dataops_test_reports_failing_checks_and_writes_no_history(project):
    nb = project / "notebooks" / "failing_checks.ipynb"
    failed = test_notebook(nb)
    assert not failed.passed
    assert any("DataOpsTestFailure" in f and "row_count >= 3" in f for f in failed.failures)
    assert failed.output.exists()

    passed = test_notebook(nb, params=["rows=4"])
    assert passed.passed and passed.failures == []
    executed = nbformat.read(passed.output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "rows = 4" in injected[0].source
    assert not (project / ".dataops" / "dataops.db").exists()


def test_dataops_test_refuses_unknown_parameters_without_running(project):
    with pytest.raises(ParameterError, match="unknown parameter 'nope'"):
        test_notebook(project / "notebooks" / "failing_checks.ipynb", params=["nope=1"])
    assert not (project / ".dataops").exists()


def test_version_hash_ignores_outputs_but_not_code(tmp_path):
    nb = nbformat.read(NOTEBOOKS / "trivial.ipynb", as_version=4)
    base = content_hash(nb)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="42\n")]
    nb.cells[-1].execution_count = 7
    assert content_hash(nb) == base
    nb.cells[-1].source += "\ny + 1"
    assert content_hash(nb) != base
    assert json.dumps(base)  # plain text, storable
