"""The sample notebooks an analyst meets first run as the README says, on real kernels.

The shop factory (00_getting_started .. 04_report) runs in tests/cli/test_demo.py."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parent.parent / "sample_notebooks"


def test_checks_tour_runs_top_to_bottom_and_shows_a_failing_check_with_its_rows(tmp_path):
    src = SAMPLES / "checks_tour.ipynb"
    out = tmp_path / "checks_tour.ipynb"
    # papermill runs past a cell tagged raises-exception, then reports its error at the end.
    with pytest.raises(PapermillExecutionError) as info:
        pm.execute_notebook(
            str(src), str(out), cwd=str(SAMPLES), kernel_name="python3", progress_bar=False
        )
    assert info.value.ename == "DataOpsSyntaxError"

    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    expected_to_raise = [
        c.source for c in code if "raises-exception" in c.get("metadata", {}).get("tags", [])
    ]
    errors = [c.source for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert errors == expected_to_raise and len(errors) == 1
    assert all(c.execution_count is not None for c in code)  # also those after the error

    html = "".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])
    )
    assert ">FAIL<" in html and "&quot;shiped&quot;" in html  # a fail row and its failing rows
    assert ">WARN<" in html
    texts = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "did you mean 'missing_count'?" in texts
    assert "pandas:" in texts and "pyarrow:" in texts
