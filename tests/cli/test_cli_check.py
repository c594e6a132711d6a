"""`dataops check DATA SPEC_FILE` on real files, through the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders.csv"
SPEC = ROOT / "examples" / "orders.checks"
AS_OF = "2026-11-01T00:00:00Z"


def dataops(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_shipped_example_passes():
    proc = dataops("check", str(ORDERS), str(SPEC), "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout


def test_json_output_lists_every_check_line():
    proc = dataops("check", str(ORDERS), str(SPEC), "--as-of", AS_OF, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    n_checks = sum(
        1
        for line in SPEC.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert len(data["results"]) == n_checks
    assert {r["status"] for r in data["results"]} <= {"pass", "warn"}


def test_a_failing_check_exits_one(tmp_path):
    spec = tmp_path / "strict.checks"
    spec.write_text("row_count > 1000000\nmissing_count(customer_id) = 0\n")
    proc = dataops("check", str(ORDERS), str(spec))
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_parquet_and_ndjson_are_scanned(tmp_path, fmt):
    df = pl.read_csv(ORDERS, try_parse_dates=True)
    path = tmp_path / f"orders.{fmt}"
    df.write_parquet(path) if fmt == "parquet" else df.write_ndjson(path)
    spec = tmp_path / "s.checks"
    spec.write_text("row_count = 2000\nduplicate_count(order_id) = 0\n")
    proc = dataops("check", str(path), str(spec), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["observed"] for r in json.loads(proc.stdout)["results"]] == [2000, 0]


def test_a_syntax_error_names_file_line_and_column(tmp_path):
    spec = tmp_path / "typo.checks"
    spec.write_text("row_count > 0\nmisng_count(email) = 0\n")
    proc = dataops("check", str(ORDERS), str(spec))
    assert proc.returncode == 2
    assert "typo.checks" in proc.stderr and "line 2" in proc.stderr
    assert "missing_count" in proc.stderr


def test_missing_data_file_is_a_clear_error(tmp_path):
    proc = dataops("check", str(tmp_path / "nope.parquet"), str(SPEC))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def test_runs_at_80_columns_keeps_step_names_and_check_counts(tmp_path):
    """`dataops runs` in an 80-column terminal: no step name or check count is cut off."""
    from jupyter_dataops.checks import run_checks
    from jupyter_dataops.store import open_store

    (tmp_path / "dataops.yaml").write_text("pipeline: sales\nsteps: {}\n")
    step = "load_customers_from_warehouse"
    frame = pl.DataFrame({"x": [None] * 3 + list(range(1997))})
    spec = "\n".join(["row_count > 0"] * 12 + ["missing_count(x) = 0", "spc row_count"])
    with open_store(f"sqlite:///{tmp_path / '.dataops' / 'dataops.db'}") as store:
        store.upsert_step("sales", step)
        for _ in range(3):
            pr = store.create_pipeline_run("sales", mode="production")
            sr = store.create_step_run(pr, step)
            store.start_step_run(sr)
            store.record_suite(sr, run_checks(frame, spec))
            store.finish_step_run(sr, "success")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", "runs"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "DATAOPS_STORE_URL"} | {"COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert sum(step in line for line in lines) == 3, proc.stdout
    assert sum("✓12" in line and "✗1" in line for line in lines) == 3, proc.stdout
    assert "…" not in proc.stdout


def test_promote_of_a_missing_notebook_says_so_before_any_gate_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", "promote", "nothere.ipynb", "--step", "s"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "'nothere.ipynb' does not exist" in proc.stderr
    assert "Gate run" not in proc.stdout
