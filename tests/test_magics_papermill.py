"""The %%dataops_test magic in a notebook executed by papermill on a real kernel."""

from __future__ import annotations

import json

import nbformat
import papermill as pm
import pytest
from builders import write_notebook

from jupyter_dataops.pipeline.execution import context

pytestmark = pytest.mark.slow


def make_notebook(path, checks: str):
    return write_notebook(
        path,
        "min_rows = 1\n",
        "%load_ext jupyter_dataops",
        "import polars as pl\n"
        "orders = pl.DataFrame({'order_id': [1, 2, 3], 'amount': [5.0, None, 7.5]})",
        "%%dataops_test orders --name orders_quality\n" + checks,
        "print('after the checks')",
    )


def execute(src, out):
    return pm.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False)


def outputs_text(nb_path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


FAILING = "missing_count(order_id) = 0\nmissing_count(amount) = 0\n"


def test_failing_checks_show_a_table_but_do_not_fail_an_interactive_run(tmp_path, monkeypatch):
    monkeypatch.delenv(context.ENV_MODE, raising=False)
    out = tmp_path / "out.ipynb"
    execute(make_notebook(tmp_path / "orders.ipynb", FAILING), out)
    text = outputs_text(out)
    assert "after the checks" in text
    assert "missing_count(amount) = 0" in text and "fail" in text


def test_failing_checks_fail_the_notebook_in_a_gated_run(tmp_path, monkeypatch):
    monkeypatch.setenv(context.ENV_MODE, "test")
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        execute(make_notebook(tmp_path / "orders.ipynb", FAILING), out)
    assert info.value.ename == "DataOpsTestFailure"
    assert "missing_count(amount) = 0" in info.value.evalue
    text = outputs_text(out)  # the executed notebook is kept, with the result table
    assert "after the checks" not in text
    assert "missing_count(amount) = 0" in text


def test_passing_checks_pass_a_gated_run(tmp_path, monkeypatch):
    monkeypatch.setenv(context.ENV_MODE, "test")
    out = tmp_path / "out.ipynb"
    execute(make_notebook(tmp_path / "orders.ipynb", "row_count = 3\nmax(amount) < 10\n"), out)
    assert "after the checks" in outputs_text(out)
