"""SPC over production history: a step's `spc` line collects a baseline run by run, then flags
an injected shift; the same history is what an interactive session of that notebook sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_dataops.pipeline.definition import project as project_module
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution import context
from jupyter_dataops.pipeline.execution.runner import run_pipeline
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url as make_store_url

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    with make_store_url(request.param, tmp_path) as url:
        yield url


def spc_result(store, run_result) -> dict:
    (row,) = store.list_runs(pipeline_run_id=run_result.run_id)
    checks = store.get_run(row["id"])["check_results"]
    (spc,) = [c for c in checks if c["source"].startswith("spc")]
    return spc


@pytest.mark.slow
def test_spc_line_collects_a_baseline_then_flags_a_shift(tmp_path, store_url, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "spc_metric.ipynb", root)
    (root / "dataops.yaml").write_text(
        f"store: '{store_url}'\nsteps:\n  batch:\n    notebook: spc_metric.ipynb\n"
    )
    pipeline = load_pipeline(root / "dataops.yaml")

    with open_store(store_url) as store:
        for k in range(5):
            result = run_pipeline(pipeline, params=[f"seed={k + 1}"], store=store, unpromoted=True)
            assert result.ok, result.steps["batch"].error
            spc = spc_result(store, result)
            assert spc["status"] == "baseline"  # not judged: never shown as a pass
            assert f"baseline {k}/5" in spc["message"]  # the tested point is not its own baseline

        shifted = run_pipeline(
            pipeline, params=["seed=6", "shift=10.0"], store=store, unpromoted=True
        )
        spc = spc_result(store, shifted)
        assert spc["status"] == "warn", spc  # a warning does not fail the step...
        assert shifted.ok
        assert "beyond" in spc["message"] or "rule" in spc["message"].lower(), spc["message"]
        assert spc["observed"] > 15

        history = store.metric_history("batch", "avg(x)")
        assert len(history) == 6 and history[-1] == pytest.approx(spc["observed"])

    # Interactively (no run context), the notebook of that step sees the same history.
    monkeypatch.chdir(root)
    monkeypatch.setenv("JPY_SESSION_NAME", str(root / "spc_metric.ipynb"))
    monkeypatch.delenv("DATAOPS_MODE", raising=False)
    monkeypatch.setattr(project_module, "_STORES", {})
    provider = context.history_provider(context.current())
    assert provider is not None
    assert list(provider("avg(x)")) == pytest.approx(history)
