"""The pipeline runner on real notebooks, real kernels (papermill) and a real run store.

Each project is a temporary folder with fixture notebooks from ``tests/notebooks/pipeline`` and a
``dataops.yaml``; the store is SQLite, or PostgreSQL when ``DATAOPS_TEST_PG_URL`` is set. These
tests are about the runner's mechanics, so they run the working notebooks (``unpromoted``);
running the promoted snapshots is tested in ``test_governed.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.dag import CycleError
from jupyter_dataops.pipeline.definition.notebook import ParameterError
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.runner import plan_run, run_pipeline
from jupyter_dataops.store import open_store

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


def make_project(root: Path, yaml_text: str, *notebooks: str, store: str | None = None) -> Path:
    """A project folder: the named fixture notebooks and a dataops.yaml (with ``store:``)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        shutil.copy(NOTEBOOKS / name, root / name)
    text = textwrap.dedent(yaml_text)
    if store:
        text = f"store: '{store}'\n" + text
    (root / "dataops.yaml").write_text(text)
    return root / "dataops.yaml"


def timed_run(root: Path, yaml_text: str, *notebooks: str):
    """``make_project``, then a run of its working notebooks: the result and the run's seconds
    (the project's set-up not counted)."""
    path = make_project(root, yaml_text, *notebooks)
    start = time.monotonic()
    result = run_pipeline(load_pipeline(path), unpromoted=True)
    return result, time.monotonic() - start


DAG = """
    pipeline: sales
    steps:
      extract:
        notebook: extract.ipynb
        outputs: [orders.csv]
      transform:
        notebook: transform.ipynb
        depends_on: [extract]
        inputs: [orders.csv]
        outputs: [clean.csv]
      report:
        notebook: report.ipynb
        depends_on: [transform]
        inputs: [clean.csv]
"""
DAG_NOTEBOOKS = ("extract.ipynb", "transform.ipynb", "report.ipynb")


@pytest.mark.slow
def test_three_step_dag_runs_in_order_and_records_checks_metrics_and_lineage(tmp_path, store_url):
    path = make_project(tmp_path / "proj", DAG, *DAG_NOTEBOOKS, store=store_url)
    result = run_pipeline(load_pipeline(path), params=["extract.rows=40"], unpromoted=True)

    assert result.ok, {s: o.error for s, o in result.steps.items()}
    assert [o.status for o in result.steps.values()] == ["success"] * 3
    # Each step ran in its notebook's folder on the previous step's output.
    assert (tmp_path / "proj" / "report.csv").read_text().splitlines()[1].startswith("40,")
    with open_store(store_url) as store:
        runs = {r["step"]: r for r in store.list_runs(pipeline_run_id=result.run_id)}
        assert set(runs) == {"extract", "transform", "report"}
        assert all(r["status"] == "success" and r["mode"] == "production" for r in runs.values())
        assert runs["extract"]["checks"]["pass"] == 2
        extract = store.get_run(runs["extract"]["id"])
        assert extract["parameters"] == {"rows": 40}
        assert {m["metric"]: m["value"] for m in extract["metrics"]}["row_count"] == 40
        assert store.get_run(runs["transform"]["id"])["inputs"] == ["orders.csv"]
        assert Path(extract["notebook_path"]) == result.run_dir / "extract.ipynb"
        pipeline_run = store.get_pipeline_run(result.run_id)
        assert pipeline_run["status"] == "success"
        assert pipeline_run["parameters"] == {"extract": {"rows": 40}}  # the -p overrides
    for step in ("extract", "transform", "report"):
        assert (result.run_dir / f"{step}.ipynb").exists()


@pytest.mark.slow
def test_failed_checks_skip_downstream_and_keep_the_executed_notebook(tmp_path):
    path = make_project(tmp_path / "proj", DAG, *DAG_NOTEBOOKS)
    result = run_pipeline(load_pipeline(path), params=["transform.null_every=3"], unpromoted=True)

    assert not result.ok
    transform, report = result.steps["transform"], result.steps["report"]
    assert result.steps["extract"].status == "success"
    assert transform.status == "failed" and transform.reason == "checks"
    assert "missing_count(amount) = 0" in transform.error
    assert report.status == "skipped" and report.reason == "upstream step 'transform' failed"
    kept = nbformat.read(result.run_dir / "transform.ipynb", as_version=4)
    errors = [
        o
        for c in kept.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors and errors[0].ename == "DataOpsTestFailure"
    assert not (result.run_dir / "report.ipynb").exists()
    with open_store(load_pipeline(path).project_dir) as store:
        runs = {r["step"]: r for r in store.list_runs(pipeline_run_id=result.run_id)}
        assert runs["transform"]["status"] == "failed" and runs["transform"]["checks"]["fail"] == 1
        assert (
            store.get_run(runs["report"]["id"])["skip_reason"] == "upstream step 'transform' failed"
        )
        assert store.get_pipeline_run(result.run_id)["status"] == "failed"


@pytest.mark.slow
def test_a_failing_step_is_retried_after_its_delay_and_every_attempt_is_kept(tmp_path):
    result, seconds = timed_run(
        tmp_path / "proj",
        """
        steps:
          flaky:
            notebook: flaky.ipynb
            parameters: {fail_times: 1}
            retries: 2
            retry_delay: 1s
        """,
        "flaky.ipynb",
    )
    assert seconds >= 1.0  # the delay was honoured

    flaky = result.steps["flaky"]
    assert result.ok and flaky.status == "success" and flaky.attempts == 2
    assert (result.run_dir / "flaky.attempt-1.ipynb").exists()
    assert (result.run_dir / "flaky.ipynb").exists()
    with open_store(tmp_path / "proj") as store:
        attempts = sorted(store.list_runs(step="flaky"), key=lambda r: r["attempt"])
        assert [(r["attempt"], r["status"]) for r in attempts] == [(1, "failed"), (2, "success")]
        first = store.get_run(attempts[0]["id"])
        assert "flaky failure on attempt 1" in first["error"]
        assert first["notebook_path"].endswith("flaky.attempt-1.ipynb")
        assert store.get_pipeline_run(result.run_id)["status"] == "success"


@pytest.mark.slow
def test_a_step_over_its_timeout_is_stopped_and_keeps_its_partial_notebook(tmp_path):
    result, seconds = timed_run(
        tmp_path / "proj",
        """
        steps:
          sleepy:
            notebook: sleepy.ipynb
            parameters: {seconds: 120}
            timeout: 6s
          after:
            notebook: trivial.ipynb
            depends_on: [sleepy]
        """,
        "sleepy.ipynb",
        "trivial.ipynb",
    )
    assert seconds < 60

    sleepy = result.steps["sleepy"]
    assert sleepy.status == "failed" and sleepy.reason == "timeout"
    assert "timeout of 6 s" in sleepy.error
    assert result.steps["after"].status == "skipped"
    kept = nbformat.read(result.run_dir / "sleepy.ipynb", as_version=4)
    code = [c for c in kept.cells if c.cell_type == "code"]
    # The timeout covers kernel start-up too, so on a loaded machine the stop may come in the
    # first cells; wherever it came, that cell says why and nothing after it ran.
    stopped = [
        i for i, c in enumerate(code) if any(o.get("ename") == "StepTimeout" for o in c.outputs)
    ]
    assert len(stopped) == 1
    assert all(not c.outputs for c in code[stopped[0] + 1 :])
    assert not any("woke up" in o.get("text", "") for c in code for o in c.outputs)


@pytest.mark.slow
def test_a_timeout_that_fires_while_the_kernel_starts_still_stops_the_step(tmp_path):
    # 0.1 s: no kernel starts that fast, so the timeout always fires during start-up, as the
    # 6 s one above does when the machine is loaded
    result, _ = timed_run(
        tmp_path / "proj",
        """
        steps:
          sleepy:
            notebook: sleepy.ipynb
            parameters: {seconds: 3}
            timeout: 0.1
        """,
        "sleepy.ipynb",
    )
    sleepy = result.steps["sleepy"]
    assert (sleepy.status, sleepy.reason) == ("failed", "timeout"), sleepy.error
    # the kernel that started after the timeout fired was stopped too: its cells never woke up
    kept = nbformat.read(result.run_dir / "sleepy.ipynb", as_version=4)
    assert not any("woke up" in o.get("text", "") for c in kept.cells for o in c.get("outputs", []))
    assert any(o.get("ename") == "StepTimeout" for c in kept.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_a_kernel_that_dies_keeps_its_partial_output_notebook(tmp_path):
    path = make_project(
        tmp_path / "proj",
        "steps:\n  crash:\n    notebook: kernel_dies.ipynb\n",
        "kernel_dies.ipynb",
    )
    result = run_pipeline(load_pipeline(path), unpromoted=True)

    crash = result.steps["crash"]
    assert crash.status == "failed" and crash.reason == "kernel_died"
    kept = nbformat.read(result.run_dir / "crash.ipynb", as_version=4)
    code = [c for c in kept.cells if c.cell_type == "code"]
    assert code[1].outputs[0]["text"] == "before the crash\n"
    assert code[2].outputs[-1]["ename"] == "DeadKernelError"
    assert code[2].metadata.papermill["status"] == "failed"
    assert (result.run_dir / "crash.log").exists()  # the kernel's own stderr is kept too


@pytest.mark.slow
def test_eight_parallel_steps_write_every_check_and_metric(tmp_path, store_url):
    steps = "\n".join(
        f"  w{i}:\n    notebook: parallel_writer.ipynb\n    parameters: {{n: {i}}}"
        for i in range(1, 9)
    )
    path = make_project(
        tmp_path / "proj", "steps:\n" + steps + "\n", "parallel_writer.ipynb", store=store_url
    )
    result = run_pipeline(load_pipeline(path), workers=8, unpromoted=True)

    # Only the steps that did not succeed, in full: a truncated dict once hid the failing one.
    failed = {
        s: (o.status, o.reason, o.error) for s, o in result.steps.items() if o.status != "success"
    }
    assert result.ok and not failed, failed
    with open_store(store_url) as store:
        rows = store.list_runs(pipeline_run_id=result.run_id, limit=100)
        assert len(rows) == 8
        for row in rows:
            detail = store.get_run(row["id"])
            checks = [c for c in detail["check_results"] if c["suite"] != "operations"]
            assert [c["status"] for c in checks] == ["pass"] * 3  # not the ops: rows
            n = int(row["step"][1:])
            metrics = {m["metric"]: m["value"] for m in detail["metrics"]}
            assert metrics["row_count"] == 10 * n


def test_plan_refuses_unknown_and_mistyped_parameters_before_anything_runs(tmp_path):
    path = make_project(tmp_path / "proj", DAG, *DAG_NOTEBOOKS)
    pipeline = load_pipeline(path)

    with pytest.raises(ParameterError, match="no selected step defines a parameter 'rowz'"):
        plan_run(pipeline, params=["rowz=1"])
    with pytest.raises(ParameterError, match="'rows' expects int .* got 'many'"):
        run_pipeline(pipeline, params=["extract.rows=many"], unpromoted=True)
    with pytest.raises(ParameterError, match="'nope' is not a selected step"):
        plan_run(pipeline, ["extract"], params=["nope.rows=1"])
    plans = plan_run(pipeline, params=["out=x.csv", "transform.null_every=2"])
    # `out` goes to every step defining it; step.key to one step only; types follow the cell.
    assert {n: p.parameters for n, p in plans.items()} == {
        "extract": {"out": "x.csv"},
        "transform": {"out": "x.csv", "null_every": 2},
        "report": {"out": "x.csv"},
    }
    assert not (tmp_path / "proj" / ".dataops").exists()  # nothing ran, no store was made


def test_missing_notebook_and_cycles_are_refused_before_anything_runs(tmp_path):
    path = make_project(
        tmp_path / "a",
        "steps:\n  gone:\n    notebook: nowhere/missing.ipynb\n",
    )
    with pytest.raises(
        PipelineError, match=r"step 'gone': notebook 'nowhere/missing.ipynb' does not exist"
    ):
        run_pipeline(load_pipeline(path), unpromoted=True)
    cyc = make_project(
        tmp_path / "b",
        """
        steps:
          a: {notebook: trivial.ipynb, depends_on: [c]}
          b: {notebook: trivial.ipynb, depends_on: [a]}
          c: {notebook: trivial.ipynb, depends_on: [b]}
        """,
        "trivial.ipynb",
    )
    with pytest.raises(CycleError) as info:
        load_pipeline(cyc)
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "cycle" in str(info.value) and str(cyc) in str(info.value)
    assert not (tmp_path / "b" / ".dataops").exists()


def test_running_named_steps_runs_only_those_in_dependency_order(tmp_path):
    path = make_project(tmp_path / "proj", DAG, *DAG_NOTEBOOKS)
    plans = plan_run(load_pipeline(path), ["report", "transform"])
    assert list(plans) == ["report", "transform"]
    assert plans["report"].depends_on == ("transform",)
    assert plans["transform"].depends_on == ()  # extract is not selected: not waited for


def start_runner_and_wait_until_running(project: Path) -> tuple[subprocess.Popen, dict]:
    """`dataops run` in a subprocess; returns it once its step run is `running` in the store."""
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("DATAOPS_STORE_URL", None)
    runner = subprocess.Popen(
        [sys.executable, "-m", "jupyter_dataops.cli", "run", "--unpromoted"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = project / ".dataops" / "dataops.db"
    deadline = time.monotonic() + 120
    running: list = []
    while time.monotonic() < deadline and not running and runner.poll() is None:
        time.sleep(0.5)
        if db.exists():
            with open_store(project) as store:
                running = [r for r in store.list_runs() if r["status"] == "running"]
    if not running:
        runner.kill()
        pytest.fail("the step never started")
    time.sleep(1.0)  # let the kernel start executing
    return runner, running[0]


SLEEPY = "steps:\n  sleepy:\n    notebook: sleepy.ipynb\n    parameters: {seconds: 120}\n"


@pytest.mark.slow
def test_a_runner_killed_with_sigkill_leaves_running_runs_that_the_next_start_interrupts(tmp_path):
    path = make_project(tmp_path / "proj", SLEEPY, "sleepy.ipynb")
    runner, running = start_runner_and_wait_until_running(path.parent)
    try:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()

    with open_store(path.parent) as store:
        assert store.get_run(running["id"])["status"] == "running"  # nobody could record more

    from typer.testing import CliRunner

    from jupyter_dataops.cli import app

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        out = CliRunner().invoke(app, ["runs", "--json"])
    finally:
        os.chdir(cwd)
    assert out.exit_code == 0, out.output
    import json

    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["interrupted"]
    with open_store(path.parent) as store:
        detail = store.get_run(rows[0]["id"])
        assert f"runner process {runner.pid}" in detail["error"]
        assert store.get_pipeline_run(detail["pipeline_run_id"])["status"] == "interrupted"


@pytest.mark.slow
def test_a_runner_stopped_with_sigterm_records_its_steps_interrupted_itself(tmp_path):
    path = make_project(tmp_path / "proj", SLEEPY, "sleepy.ipynb")
    runner, running = start_runner_and_wait_until_running(path.parent)
    try:
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) != 0
    finally:
        if runner.poll() is None:
            runner.kill()
    with open_store(path.parent) as store:
        detail = store.get_run(running["id"])  # read without mark_interrupted
        assert detail["status"] == "interrupted"
        assert "runner was stopped" in detail["error"]
        assert Path(detail["notebook_path"]).exists()
