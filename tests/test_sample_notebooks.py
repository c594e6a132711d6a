"""The sample notebooks an analyst meets first run as the README says, on real kernels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parent.parent / "sample_notebooks"
# The console script an analyst types, from this interpreter's install (`python -m` as a fallback).
_SCRIPT = Path(sys.executable).with_name("dataops")
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "jupyter_dataops.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOPS_")}
    env["COLUMNS"] = "200"
    return env


def dataops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=540
    )


def test_orders_pipeline_runs_clean_with_the_cli_and_keeps_every_executed_notebook(tmp_path):
    project = tmp_path / "orders_pipeline"
    shutil.copytree(
        SAMPLES / "orders_pipeline", project, ignore=shutil.ignore_patterns("data", ".dataops")
    )

    # never promoted: the working notebooks run on purpose (promotion: tests/test_governed.py)
    run = dataops("run", "--unpromoted", "-p", "run_date=2026-11-03", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr

    rows = json.loads(dataops("runs", "--json", cwd=project).stdout)
    assert {r["step"]: r["status"] for r in rows} == {
        "ingest": "success",
        "quality": "success",
        "report": "success",
    }
    quality = next(r for r in rows if r["step"] == "quality")
    assert quality["checks"]["pass"] >= 10 and quality["checks"]["fail"] == 0

    detail = json.loads(dataops("show", str(quality["id"]), "--json", cwd=project).stdout)
    assert detail["parameters"] == {"run_date": "2026-11-03"}
    metrics = {m["metric"] for m in detail["metrics"]}
    assert {"avg(amount)", "row_count"} <= metrics  # the spc lines' series start here

    run_dir = project / ".dataops" / "runs" / str(quality["pipeline_run_id"])
    for step in ("ingest", "quality", "report"):
        assert (run_dir / f"{step}.ipynb").is_file()
    assert (project / "data" / "orders_2026-11-03.parquet").is_file()
    assert (project / "data" / "summary_2026-11-03.parquet").is_file()

    report = nbformat.read(run_dir / "report.ipynb", as_version=4)
    bundles = [o.get("data", {}) for c in report.cells for o in c.get("outputs", [])]
    assert any("application/vnd.vegalite.v5+json" in b for b in bundles)  # offline chart


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
