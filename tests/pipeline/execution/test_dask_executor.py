"""The dask executor on a real ``dask.distributed`` LocalCluster: 2 worker processes, papermill
kernels, the SQLite run store on this machine.

The cluster's scheduler gives up on a task at its first lost worker (``allowed-failures: 0``),
so a killed worker shows at once as a failed attempt that the runner retries.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from builders import dask_cluster, write_notebook

distributed = pytest.importorskip("distributed", reason="pip install 'jupyter-dataops[dask]'")

from jupyter_dataops.errors import PipelineError  # noqa: E402
from jupyter_dataops.pipeline.definition.spec import load_pipeline  # noqa: E402
from jupyter_dataops.pipeline.execution.dask_executor import (  # noqa: E402
    DaskExecutor,
    check_store_for_cluster,
    run_attempt,
)
from jupyter_dataops.pipeline.execution.execute import NotebookJob  # noqa: E402
from jupyter_dataops.pipeline.execution.executors import executors  # noqa: E402
from jupyter_dataops.pipeline.execution.runner import run_pipeline  # noqa: E402
from jupyter_dataops.store import open_store, resolve_store_url  # noqa: E402

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"
NOWHERE = "tcp://scheduler.invalid:8786"  # never contacted: refused before any connection


@pytest.fixture(scope="module")
def cluster():
    with dask_cluster({"distributed.scheduler.allowed-failures": 0}) as address_and_client:
        yield address_and_client


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    for name in ("extract", "transform", "report", "sleepy", "flaky"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    return tmp_path


def _dask(address: str) -> dict:
    return {"executor": "dask", "executor_options": {"address": address}}


def _records(project: Path, run_id: int) -> list[tuple]:
    with open_store(project) as store:
        rows = store.list_runs(pipeline_run_id=run_id)
        out = []
        for r in rows:
            run = store.get_run(r["id"])
            # what the notebooks recorded; the ops: metrics (durations...) differ between runs
            checks = sorted(
                (c["suite"], c["line"], c["status"])
                for c in run["check_results"]
                if c["suite"] != "operations"
            )
            metrics = sorted(
                (m["metric"], m["value"])
                for m in run["metrics"]
                if not m["metric"].startswith("ops:")
            )
            out.append((r["step"], r["attempt"], r["status"], checks, metrics))
        return sorted(out)


def test_the_dask_executor_is_in_the_registry_through_its_entry_point():
    assert executors.get("dask") is DaskExecutor
    # A fresh process that never imported it finds it by the `jupyter_dataops.executor` entry point.
    code = (
        "import sys; from jupyter_dataops.pipeline.execution.executors import executors; "
        "assert 'jupyter_dataops.pipeline.execution.dask_executor' not in sys.modules; "
        "print(executors.get('dask').__module__, executors.names())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "jupyter_dataops.pipeline.execution.dask_executor"
    assert "'dask'" in out.stdout and "'local'" in out.stdout


def test_three_steps_on_the_cluster_record_what_the_local_executor_records(project, cluster):
    address, client = cluster
    (project / "dataops.yaml").write_text(
        "steps:\n"
        "  extract: {notebook: extract.ipynb}\n"
        "  transform: {notebook: transform.ipynb, depends_on: [extract]}\n"
        "  report: {notebook: report.ipynb, depends_on: [transform]}\n"
    )
    pipeline = load_pipeline(project / "dataops.yaml")
    local = run_pipeline(pipeline, unpromoted=True)
    with distributed.get_task_stream(client) as stream:
        on_dask = run_pipeline(pipeline, unpromoted=True, **_dask(address))

    assert local.ok and on_dask.ok, {n: o.error for n, o in on_dask.steps.items()}
    assert _records(project, on_dask.run_id) == _records(project, local.run_id)
    ran = {t["key"].split("-")[1] for t in stream.data if str(t["key"]).startswith("dataops-")}
    assert ran == {"extract", "transform", "report"}  # every attempt ran as a Dask task
    for name in ("extract", "transform", "report"):
        executed = nbformat.read(on_dask.run_dir / f"{name}.ipynb", as_version=4)
        assert not executed.metadata["papermill"].get("exception")
        assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
    assert (project / "report.csv").read_text().startswith("orders,revenue")


def test_timeouts_and_retries_behave_as_with_the_local_executor(project, cluster):
    address, _ = cluster
    (project / "dataops.yaml").write_text(  # the executor as dataops.yaml names it
        f"executor: dask\ndask_address: {address}\n"
        "steps:\n"
        "  slow: {notebook: sleepy.ipynb, timeout: 3}\n"
        "  flaky: {notebook: flaky.ipynb, retries: 1}\n"
    )
    with distributed.get_task_stream(cluster[1]) as stream:
        result = run_pipeline(load_pipeline(project / "dataops.yaml"), unpromoted=True)
    assert any(str(t["key"]).startswith("dataops-slow-") for t in stream.data)

    slow, flaky = result.steps["slow"], result.steps["flaky"]
    assert slow.status == "failed" and slow.reason == "timeout"
    assert "longer than its timeout of 3 s" in slow.error
    # the sleeping kernel was stopped, not waited for: its last cell never printed
    kept = nbformat.read(result.run_dir / "slow.ipynb", as_version=4)
    assert not any("woke up" in o.get("text", "") for c in kept.cells for o in c.get("outputs", []))
    assert flaky.status == "success" and flaky.attempts == 2
    assert (result.run_dir / "flaky.attempt-1.ipynb").exists()
    assert [r[:3] for r in _records(project, result.run_id)] == [
        ("flaky", 1, "failed"),
        ("flaky", 2, "success"),
        ("slow", 1, "failed"),
    ]


def test_the_executed_notebook_comes_back_when_the_worker_keeps_it_on_its_own_disk(
    project, cluster, tmp_path
):
    _, client = cluster
    output = tmp_path / "runs" / "1" / "extract.ipynb"
    job = NotebookJob(
        notebook=str(project / "extract.ipynb"),
        output=str(output),
        parameters={"rows": 5},
        cwd=str(project),
        timeout=120,
    )
    payload = client.submit(
        run_attempt, job, "dataops-extract-t1", key="dataops-extract-t1", pure=False
    ).result()
    assert payload["result"].ok
    output.unlink()  # as if the worker were another machine: nothing here
    output.with_suffix(".log").unlink(missing_ok=True)

    result = DaskExecutor._bring_back(payload)
    assert result.output == str(output)
    assert output.read_bytes() == payload["notebook"]
    assert nbformat.read(output, as_version=4).cells[-1].cell_type == "code"

    missing = NotebookJob(notebook=str(tmp_path / "elsewhere.ipynb"), output=str(output))
    lost = client.submit(
        run_attempt, missing, "dataops-x-t2", key="dataops-x-t2", pure=False
    ).result()["result"]
    assert not lost.ok and "must see the project folder at the same path" in lost.error


def test_a_sqlite_store_is_refused_when_the_cluster_is_on_other_hosts(project, monkeypatch):
    (project / "dataops.yaml").write_text(
        "store: sqlite:///runs.db\nsteps:\n  a: {notebook: extract.ipynb}\n"
    )
    url = resolve_store_url(project, configured="sqlite:///runs.db")  # relative in dataops.yaml
    with pytest.raises(PipelineError, match="PostgreSQL") as err:
        check_store_for_cluster(url, [NOWHERE])
    assert str(project / "runs.db") in str(err.value) and "scheduler.invalid" in str(err.value)
    check_store_for_cluster(url, ["tcp://127.0.0.1:8786", "tcp://localhost:1"])  # this machine
    check_store_for_cluster("postgresql+psycopg://u@db.invalid/x", [NOWHERE])
    with pytest.raises(PipelineError, match="in-memory"):
        check_store_for_cluster("sqlite://", ["tcp://127.0.0.1:8786"])

    pipeline = load_pipeline(project / "dataops.yaml")
    with pytest.raises(PipelineError, match="PostgreSQL"):
        run_pipeline(pipeline, unpromoted=True, **_dask(NOWHERE))
    with open_store(url) as store:  # refused before the run was recorded
        assert store.list_pipeline_runs() == []


def _victim(path: Path) -> None:
    write_notebook(
        path,
        "marker = 'victim.started'",
        "import time\nfrom pathlib import Path\n"
        "if not Path(marker).exists():  # the first attempt waits to be killed\n"
        "    Path(marker).write_text('1')\n"
        "    time.sleep(120)",
    )


def test_a_worker_killed_mid_step_gives_a_retried_step_with_its_records(project, cluster):
    address, client = cluster
    _victim(project / "victim.ipynb")
    (project / "dataops.yaml").write_text(
        "steps:\n  victim: {notebook: victim.ipynb, retries: 1}\n"
    )
    pipeline = load_pipeline(project / "dataops.yaml")
    box: dict = {}
    runner = threading.Thread(
        target=lambda: box.update(result=run_pipeline(pipeline, unpromoted=True, **_dask(address)))
    )
    runner.start()
    deadline = time.monotonic() + 120
    while not (project / "victim.started").exists():
        assert time.monotonic() < deadline and runner.is_alive(), "the step never started"
        time.sleep(0.2)
    busy = [
        w
        for w, keys in client.processing().items()
        if any(str(k).startswith("dataops-victim") for k in keys)
    ]
    assert len(busy) == 1
    pid = client.run(os.getpid, workers=busy)[busy[0]]
    os.kill(pid, signal.SIGKILL)
    runner.join(180)
    assert not runner.is_alive()

    result = box["result"]
    victim = result.steps["victim"]
    assert victim.status == "success" and victim.attempts == 2
    with open_store(project) as store:
        first, second = sorted(
            store.list_runs(pipeline_run_id=result.run_id), key=lambda r: r["attempt"]
        )
        assert (first["status"], second["status"]) == ("failed", "success")
        assert "KilledWorker" in store.get_run(first["id"])["error"]


def test_the_cli_and_dataops_yaml_say_where_steps_run(project, monkeypatch):
    from typer.testing import CliRunner

    from jupyter_dataops.cli import app
    from jupyter_dataops.pipeline.definition.spec import PipelineFileError

    (project / "dataops.yaml").write_text("executor: 5\nsteps:\n  a: {notebook: extract.ipynb}\n")
    with pytest.raises(PipelineFileError, match="executor"):
        load_pipeline(project / "dataops.yaml")
    (project / "dataops.yaml").write_text("steps:\n  a: {notebook: extract.ipynb}\n")
    monkeypatch.chdir(project)
    out = CliRunner().invoke(app, ["run", "--address", "tcp://127.0.0.1:8786", "--unpromoted"])
    assert out.exit_code == 2 and "--executor dask" in out.output
    out = CliRunner().invoke(
        app, ["run", "--executor", "dask", "--address", NOWHERE, "--unpromoted"]
    )
    assert out.exit_code == 2 and "PostgreSQL" in out.output  # refused, nothing ran
    assert not (project / ".dataops" / "runs").exists()
