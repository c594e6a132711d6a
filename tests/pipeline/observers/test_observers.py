"""Every door of a run is watched the same way: a step that fails through ``dataops run``, the
scheduler, the REST "Run now" button, an exported Airflow task (``run_step``) and the Dask
executor sends exactly one ``failed`` alert to a real local webhook, and OpenLineage events
still reach a real local receiver. The observers hang on the runner, not on its callers."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest
from builders import Hook, dask_cluster, dataops, dataops_process, promoted, write_notebook

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.runner import run_pipeline
from jupyter_dataops.store import open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.slow


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


@pytest.fixture
def lineage_hook(tmp_path, monkeypatch):
    """A real OpenLineage receiver, configured the standard way (``OPENLINEAGE_URL``) for this
    process and the processes it starts."""
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.openlineage of this machine
    h = Hook()
    monkeypatch.setenv("OPENLINEAGE_URL", h.url)
    yield h
    h.close()
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE__"):
            del os.environ[key]


def failing_project(root: Path, hook: Hook, schedule: str | None = None) -> Path:
    """A promoted step ``job`` that raises, with a webhook alert on failure."""
    write_notebook(root / "job.ipynb", "fail = False", "if fail:\n    raise ValueError('boom')")
    promoted(root, "job", "pipeline: nightly\n")
    when = f'    schedule: "{schedule}"\n' if schedule else ""
    (root / "dataops.yaml").write_text(
        textwrap.dedent(f"""\
        pipeline: nightly
        alerts:
          - webhook: {hook.url}/T000/B000
            on: [failure, interrupted]
        steps:
          job:
            notebook: job.ipynb
            parameters: {{fail: true}}
        """)
        + when
    )
    return root


def wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


def assert_one_failed_alert(hook: Hook, step_run_id: int) -> None:
    """Exactly one alert for the failed step run, saying it failed."""
    bodies = [b for b in hook.bodies if b["step_run_id"] == step_run_id]
    assert len(bodies) == 1, hook.bodies
    body = bodies[0]
    assert body["event"] == "failure" and body["status"] == "failed"
    assert body["step"] == "job" and "boom" in body["error"]


def assert_lineage(lineage_hook: Hook, wait: bool = False) -> None:
    """The step attempt's START and FAIL reached the OpenLineage receiver."""

    def states() -> list[tuple[str, str]]:
        return [(e["job"]["name"], e["eventType"]) for e in lineage_hook.bodies]

    if wait:
        wait_for(lambda: ("job", "FAIL") in states(), 30)
    assert ("job", "START") in states() and ("job", "FAIL") in states(), states()


def failed_step_runs(root: Path) -> list[int]:
    with open_store(root) as store:
        return [r["id"] for r in store.list_runs(step="job", status="failed", limit=100)]


def test_dataops_run_alerts_a_failed_step_once(tmp_path, hook, lineage_hook):
    root = failing_project(tmp_path / "proj", hook)
    out = dataops("run", cwd=root)
    assert out.returncode == 1, out.stderr
    [srid] = failed_step_runs(root)
    assert_one_failed_alert(hook, srid)  # delivered before the process exited
    assert len(hook.bodies) == 1
    assert_lineage(lineage_hook)


def test_the_scheduler_alerts_each_failed_step_run_once(tmp_path, hook, lineage_hook):
    root = failing_project(tmp_path / "proj", hook, schedule="* * * * * *")
    proc = dataops_process("scheduler", "--interval", "0.2", cwd=root)
    try:
        wait_for(lambda: any(b["event"] == "failure" for b in hook.bodies))
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=90)[1]
    assert proc.returncode == 0, err
    failed = failed_step_runs(root)
    assert failed, err
    # The first failure opens the step's incident and is alerted once. Under load the next
    # tick's run can start (and fail) before SIGTERM lands: it joins the open incident, not
    # alerted again (``once_per_incident``). Either way every failed run is in the incident.
    first = min(failed)
    assert_one_failed_alert(hook, first)
    alerted = [b["step_run_id"] for b in hook.bodies if b["event"] == "failure"]
    assert alerted == [first]  # one for the failure that opened the incident, no other
    with open_store(root) as store:
        [incident] = store.list_incidents(pipeline="nightly")
    assert sorted(r["step_run_id"] for r in incident["runs"]) == sorted(failed)
    assert_lineage(lineage_hook)


async def test_run_now_alerts_a_failed_step_once(jp_fetch, jp_root_dir, hook, lineage_hook):
    # promote in a thread with a fresh context: the test's loop must not reach the gate's kernel
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, functools.partial(failing_project, Path(jp_root_dir), hook))
    response = await jp_fetch(
        "dataops", "api", "steps", "job", "run", method="POST", body=json.dumps({})
    )
    assert response.code == 202
    srid = json.loads(response.body)["step_run_id"]
    run: dict = {}
    for _ in range(240):
        run = json.loads((await jp_fetch("dataops", "api", "runs", str(srid))).body)
        if run["status"] not in ("queued", "running") and hook.bodies:
            break
        await asyncio.sleep(0.5)
    assert run["status"] == "failed", run
    assert_one_failed_alert(hook, srid)
    await asyncio.sleep(1.0)  # nothing else arrives
    assert len(hook.bodies) == 1
    await loop.run_in_executor(None, functools.partial(assert_lineage, lineage_hook, True))


def test_an_airflow_task_alerts_a_failed_step_once(tmp_path, hook, lineage_hook):
    from jupyter_dataops.pipeline.scheduling.airflow_export import run_step

    root = failing_project(tmp_path / "proj", hook)
    with pytest.raises(PipelineError, match="boom"):
        run_step(str(root), "job")
    [srid] = failed_step_runs(root)
    assert_one_failed_alert(hook, srid)  # delivered before run_step returned
    assert len(hook.bodies) == 1
    assert_lineage(lineage_hook)


def test_the_dask_executor_alerts_a_failed_step_once(tmp_path, hook, lineage_hook):
    pytest.importorskip("distributed", reason="pip install 'jupyter-dataops[dask]'")
    root = failing_project(tmp_path / "proj", hook)
    with dask_cluster() as (address, _client):
        result = run_pipeline(
            load_pipeline(root / "dataops.yaml"),
            executor="dask",
            executor_options={"address": address},
        )
    assert result.steps["job"].status == "failed"
    assert_one_failed_alert(hook, result.steps["job"].step_run_ids[-1])
    assert len(hook.bodies) == 1
    assert_lineage(lineage_hook)
