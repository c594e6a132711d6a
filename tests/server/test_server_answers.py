"""The read routes' kept answers (``server/answers.py``) on a real jupyter_server: a repeated
question is answered from the keep, and anything recorded since (a run by another process, a
run finishing, a new metric point, an edited pipeline file) is in the very next answer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_server import seed_run, write_project

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


@pytest.fixture
def answers(jp_serverapp):
    (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_dataops.server"]
    return app.locator.answers


async def settle() -> None:
    """Let the files just written age: the server keeps no answer read from a file changed in
    the last 2 s (another edit within the file system's timestamp tick could go unseen)."""
    await asyncio.sleep(2.1)


async def get(jp_fetch, *parts: str, **params) -> dict:
    response = await jp_fetch("dataops", "api", *parts, params=params)
    assert response.code == 200
    return json.loads(response.body)


async def test_a_repeated_question_is_kept_and_a_run_recorded_elsewhere_is_in_the_next_answer(
    jp_fetch, jp_root_dir, answers
):
    root = write_project(Path(jp_root_dir))
    await settle()
    first = seed_run(root, [1.0, 2.0], status="success")
    page = await get(jp_fetch, "runs", limit="10")
    assert [r["id"] for r in page["runs"]] == [first] and page["total"] == 1
    hits = answers.hits
    assert await get(jp_fetch, "runs", limit="10") == page
    assert answers.hits == hits + 1  # the second answer came from the keep

    # a run recorded by another process (as a scheduler or a "Run now" worker does)
    code = (
        "import sys; from jupyter_dataops.store import open_store\n"
        "s = open_store(sys.argv[1]); p = s.create_pipeline_run('shop')\n"
        "r = s.create_step_run(p, 'orders'); s.start_step_run(r); print(r)\n"
    )
    url = f"sqlite:///{root / '.dataops' / 'dataops.db'}"
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    running = int(out.stdout)
    page = await get(jp_fetch, "runs", limit="10")
    assert [r["id"] for r in page["runs"]] == [running, first] and page["total"] == 2
    assert page["runs"][0]["status"] == "running"
    assert (await get(jp_fetch, "runs", status="running"))["total"] == 1

    # the run finishes (an update, no new row): the next answers say so
    from jupyter_dataops.store import open_store

    with open_store(url) as store:
        store.finish_step_run(running, "failed", error="boom")
    page = await get(jp_fetch, "runs", limit="10")
    assert page["runs"][0]["status"] == "failed"
    assert (await get(jp_fetch, "runs", status="running"))["total"] == 0


async def test_metrics_and_the_pipelines_view_follow_new_points_and_an_edited_file(
    jp_fetch, jp_root_dir
):
    root = write_project(Path(jp_root_dir))
    await settle()
    seed_run(root, [1.0, 2.0], status="success")
    (metric,) = [
        m for m in (await get(jp_fetch, "steps", "orders", "metrics"))["metrics"]
        if m["metric"] == "row_count"
    ]  # fmt: skip
    points = metric["points"]
    seed_run(root, [1.0, 2.0, 3.0], status="success")
    (metric,) = [
        m for m in (await get(jp_fetch, "steps", "orders", "metrics"))["metrics"]
        if m["metric"] == "row_count"
    ]  # fmt: skip
    assert metric["points"] == points + 1

    (step,) = (await get(jp_fetch, "pipelines"))["pipelines"][0]["steps"]
    assert step["schedule"] == "0 6 * * *"
    # a new schedule of the same length, the file dated back to where it was: still seen
    pipeline_file = root / "dataops.yaml"
    before = pipeline_file.stat()
    data = yaml.safe_load(pipeline_file.read_text())
    data["steps"]["orders"]["schedule"] = "0 7 * * *"
    pipeline_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.utime(pipeline_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert pipeline_file.stat().st_size == before.st_size
    await settle()
    (step,) = (await get(jp_fetch, "pipelines"))["pipelines"][0]["steps"]
    assert step["schedule"] == "0 7 * * *"
    (root / "orders.ipynb").unlink()
    (step,) = (await get(jp_fetch, "pipelines"))["pipelines"][0]["steps"]
    assert step["notebook_exists"] is False
