"""The executor registry and template: a new executor is one class and one `register` line.

The executor below runs no kernel: it is a second, real implementation of the plug-in point
(like a dask executor would be), so these tests prove the runner's scheduling, retries and
store records independently of papermill.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future
from pathlib import Path

import pytest

from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.execute import AttemptResult
from jupyter_dataops.pipeline.execution.executors import Executor, StepJob, executors
from jupyter_dataops.pipeline.execution.runner import run_pipeline
from jupyter_dataops.plugins import UnknownPluginError
from jupyter_dataops.store import open_store

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


class ScriptedExecutor(Executor):
    """Ends each attempt as scripted per step (``fail`` counts down failures), in-process."""

    name = "scripted"
    script: dict[str, int] = {}
    silent: set[str] = set()  # steps whose failures come without any error text
    calls: list[tuple[str, str, int]] = []

    def before_start(self, job: StepJob) -> None:
        self.calls.append(("before_start", job.step, job.attempt))
        super().before_start(job)

    def execute(self, job: StepJob) -> Future:
        self.calls.append(("execute", job.step, job.attempt))
        Path(job.notebook_job.output).write_text("{}")
        future: Future = Future()
        failing = self.script.get(job.step, 0) >= job.attempt
        error = None if job.step in self.silent else f"{job.step} broke on attempt {job.attempt}"
        future.set_result(
            AttemptResult("failed", job.notebook_job.output, 0.01, reason="error", error=error)
            if failing
            else AttemptResult("success", job.notebook_job.output, 0.01)
        )
        return future

    def on_complete(self, job: StepJob, result: AttemptResult) -> None:
        self.calls.append(("on_complete", job.step, job.attempt))
        super().on_complete(job, result)

    def on_failure(self, job: StepJob, result: AttemptResult) -> None:
        self.calls.append(("on_failure", job.step, job.attempt))
        super().on_failure(job, result)


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    executors.register("scripted", ScriptedExecutor)
    ScriptedExecutor.calls = []
    ScriptedExecutor.silent = set()
    shutil.copy(NOTEBOOKS / "trivial.ipynb", tmp_path)
    (tmp_path / "dataops.yaml").write_text(
        "steps:\n"
        "  a: {notebook: trivial.ipynb}\n"
        "  b: {notebook: trivial.ipynb, depends_on: [a], retries: 1}\n"
        "  c: {notebook: trivial.ipynb, depends_on: [b]}\n"
        "  d: {notebook: trivial.ipynb, depends_on: [c]}\n"
        "  e: {notebook: trivial.ipynb, depends_on: [a]}\n"
    )
    return load_pipeline(tmp_path / "dataops.yaml")


def test_template_runs_before_start_execute_then_on_complete_or_on_failure(pipeline):
    ScriptedExecutor.script = {"b": 1}  # b fails once, then its retry succeeds
    result = run_pipeline(pipeline, executor="scripted", unpromoted=True)

    assert result.ok and result.steps["b"].attempts == 2
    assert (pipeline.project_dir / ".dataops" / ".gitignore").read_text().endswith("*\n")
    b_calls = [c for c in ScriptedExecutor.calls if c[1] == "b"]
    assert b_calls == [
        ("before_start", "b", 1),
        ("execute", "b", 1),
        ("on_failure", "b", 1),
        ("before_start", "b", 2),
        ("execute", "b", 2),
        ("on_complete", "b", 2),
    ]
    order = [c[1] for c in ScriptedExecutor.calls if c[0] == "execute"]
    assert order.index("a") < order.index("b") < order.index("c") < order.index("d")


def test_a_failure_skips_direct_and_indirect_downstream_but_not_siblings(pipeline):
    ScriptedExecutor.script = {"b": 2}  # fails both attempts
    result = run_pipeline(pipeline, executor="scripted", unpromoted=True)

    status = {name: o.status for name, o in result.steps.items()}
    assert status == {"a": "success", "b": "failed", "c": "skipped", "d": "skipped", "e": "success"}
    assert result.steps["d"].reason == "upstream step 'b' failed"
    assert (result.run_dir / "b.attempt-1.ipynb").exists() and (result.run_dir / "b.ipynb").exists()
    with open_store(pipeline.project_dir) as store:
        rows = store.list_runs(pipeline_run_id=result.run_id)
        assert sorted((r["step"], r["attempt"], r["status"]) for r in rows) == [
            ("a", 1, "success"),
            ("b", 1, "failed"),
            ("b", 2, "failed"),
            ("c", 1, "skipped"),
            ("d", 1, "skipped"),
            ("e", 1, "success"),
        ]


def test_a_failed_step_always_carries_an_error_summary_even_when_the_executor_gave_none(pipeline):
    ScriptedExecutor.script = {"a": 1}
    ScriptedExecutor.silent = {"a"}
    result = run_pipeline(pipeline, ["a"], executor="scripted", unpromoted=True)

    a = result.steps["a"]
    assert result.status == "failed" and a.status == "failed"
    assert "without an error message" in a.error and str(result.run_dir / "a.ipynb") in a.error
    with open_store(pipeline.project_dir) as store:
        assert store.get_run(a.step_run_ids[0])["error"] == a.error


def test_unknown_executors_are_refused_with_the_available_names(pipeline):
    with pytest.raises(UnknownPluginError, match="unknown executor 'spark'. Available: .*local"):
        run_pipeline(pipeline, executor="spark", unpromoted=True)  # dask is one now (issue 10)
    assert "local" in executors.names()
