"""Production runs what was promoted: snapshots, `--unpromoted`, `dataops status`, verdicts.

Real papermill kernels, a real SQLite store, the `dataops` commands through typer's CliRunner.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from builders import cli_env, invoke
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_dataops.pipeline.definition.notebook import content_hash

pytestmark = pytest.mark.slow

MARKER = "EDITED.txt"


def batch_notebook(path):
    """A batch whose mean an `spc` line watches with a short baseline; `shift` moves it."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# batch"),
            new_code_cell("shift = 0.0\nseed = 0", metadata={"tags": ["parameters"]}),
            new_code_cell("%load_ext jupyter_dataops\nimport polars as pl"),
            new_code_cell(
                "import random\nrng = random.Random(seed)\n"
                "batch = pl.DataFrame({'x': [10.0 + rng.gauss(0, 1) + shift for _ in range(50)]})"
            ),
            new_code_cell("%%dataops_test batch\nrow_count > 0\nspc avg(x): baseline 3"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    batch_notebook(root / "batch.ipynb")
    monkeypatch.chdir(root)
    cli_env(monkeypatch)
    return root


def edit(path, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell(source))
    nbformat.write(nb, path)


def runs(step: str = "batch") -> list[dict]:
    out = invoke("runs", "--json", "--step", step)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_an_edit_after_promotion_is_not_run_in_production_until_promoted_again(project):
    nb = project / "batch.ipynb"
    promoted = invoke("promote", "batch.ipynb", "--step", "batch")
    assert promoted.exit_code == 0, promoted.output
    digest = content_hash(nb)
    snapshot = project / ".dataops" / "versions" / f"{digest}.ipynb"
    assert snapshot.read_bytes() == nb.read_bytes()  # the exact notebook the gate ran

    edit(nb, f"open({MARKER!r}, 'w').write('the edit ran')")
    status = invoke("status")
    assert status.exit_code == 0, status.output
    assert "v1" in status.stdout and "yes" in status.stdout
    assert "step batch: notebook edited since promotion — promote again" in status.stdout

    run = invoke("run")
    assert run.exit_code == 0, run.output
    assert not (project / MARKER).exists()  # production ran the promoted snapshot
    assert (
        "step batch: notebook edited since promotion — promote again to put the change in "
        "production" in run.stdout
    )
    (prod,) = runs()[:1]
    assert prod["unpromoted"] is False
    shown = json.loads(invoke("show", str(prod["id"]), "--json").stdout)
    assert shown["version"]["version"] == 1 and shown["version"]["content_hash"] == digest

    on_purpose = invoke("run", "--unpromoted")
    assert on_purpose.exit_code == 0, on_purpose.output
    assert (project / MARKER).read_text() == "the edit ran"  # the working copy ran
    latest = runs()[0]
    assert latest["unpromoted"] is True and latest["id"] != prod["id"]
    shown = json.loads(invoke("show", str(latest["id"]), "--json").stdout)
    assert shown["version"] is None and shown["unpromoted"] is True
    assert "unpromoted" in invoke("show", str(latest["id"])).stdout


def test_the_promoted_snapshot_survives_the_working_notebook_being_deleted(project):
    nb = project / "batch.ipynb"
    (project / "dataops.yaml").write_text("pipeline: p\nsteps:\n  batch: {notebook: batch.ipynb}\n")
    never = invoke("run")  # a step never promoted is refused, nothing runs
    assert never.exit_code == 2
    assert "no promoted version" in never.stderr and "dataops promote batch.ipynb" in never.stderr
    assert "--unpromoted" in never.stderr

    assert invoke("promote", "batch.ipynb", "--step", "batch").exit_code == 0
    nb.unlink()
    run = invoke("run")
    assert run.exit_code == 0, run.output
    assert "notebook batch.ipynb no longer exists; production runs its promoted version v1" in (
        run.stdout
    )
    assert runs()[0]["status"] == "success"
    status = json.loads(invoke("status", "--json").stdout)["steps"]
    assert status[0]["promoted_version"] == 1 and status[0]["edited_since_promotion"] is True


def test_dataops_run_names_a_warned_spc_check_with_its_reason(project):
    assert invoke("promote", "batch.ipynb", "--step", "batch").exit_code == 0
    first = invoke("run", "-p", "seed=1")
    assert first.exit_code == 0, first.output
    assert "not judged" in first.stdout and "collecting baseline 0/3" in first.stdout
    for seed in (2, 3):
        assert invoke("run", "-p", f"seed={seed}").exit_code == 0
    shifted = invoke("run", "-p", "seed=4", "-p", "shift=10.0")
    assert shifted.exit_code == 0, shifted.output  # a warning does not fail the step
    out = shifted.stdout
    assert "batch: 1 check line(s) not passed" in out
    assert "warn: spc avg(x): baseline 3" in out and "line 2" in out
    (row,) = runs()[:1]
    detail = json.loads(invoke("show", str(row["id"]), "--json").stdout)
    (spc,) = [c for c in detail["check_results"] if c["source"].startswith("spc")]
    assert spc["status"] == "warn" and spc["message"] in out
