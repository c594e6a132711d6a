"""The scheduler service runs scheduled steps on the Dask cluster that ``dataops.yaml`` names.

A real ``dataops scheduler`` process, a real ``dask.distributed`` LocalCluster (2 worker
processes) and real papermill kernels: ``executor: dask`` and ``dask_address:`` in the pipeline
file send every scheduled step attempt to the cluster, as they do for ``dataops run``.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
from builders import dask_cluster, dataops_process, promoted

distributed = pytest.importorskip("distributed", reason="pip install 'jupyter-dataops[dask]'")

from jupyter_dataops.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


@pytest.fixture(scope="module")
def cluster():
    with dask_cluster() as address_and_client:
        yield address_and_client


def test_a_scheduled_step_runs_on_the_cluster_dataops_yaml_names(tmp_path, monkeypatch, cluster):
    address, client = cluster
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    shutil.copy(NOTEBOOKS / "extract.ipynb", tmp_path)
    head = f"pipeline: clock\nexecutor: dask\ndask_address: '{address}'\n"
    promoted(tmp_path, "extract", head)
    (tmp_path / "dataops.yaml").write_text(
        head + "steps:\n  extract: {notebook: extract.ipynb, schedule: '* * * * * *'}\n"
    )

    with distributed.get_task_stream(client) as stream:
        proc = dataops_process("scheduler", "--interval", "0.2", cwd=tmp_path)
        try:
            deadline = time.monotonic() + 120
            done: list[dict] = []
            while time.monotonic() < deadline and not done:
                time.sleep(0.5)
                if (tmp_path / ".dataops").exists():
                    with open_store(tmp_path) as store:
                        done = [
                            r
                            for r in store.list_pipeline_runs(limit=100)
                            if r["trigger"] == "schedule" and r["status"] == "success"
                        ]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert done, f"no scheduled run finished within 120 s:\n{err}"
    log = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["event"] == "run_started" for e in log)
    # the step attempts ran as tasks on this cluster, not in a local worker process
    keys = [str(t["key"]) for t in stream.data]
    assert any(k.startswith("dataops-extract") for k in keys), keys
    with open_store(tmp_path) as store:
        (step,) = store.get_pipeline_run(done[0]["id"])["steps"]
        assert step["status"] == "success"
        run = store.get_run(step["id"])
        assert run["version"] and not run["unpromoted"]  # the promoted snapshot ran
        assert Path(run["notebook_path"]).is_file()  # the executed notebook is archived
