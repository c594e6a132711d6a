"""POST routes of the REST server on real kernels: promote through the gate, and "Run now"."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat
import pytest
import tornado.httpclient
from builders import orders_notebook
from nbformat.v4 import new_code_cell

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.slow

CHECKS = "row_count between 10 and 1000\nmissing_count(amount) = 0\n"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


async def post(jp_fetch, *parts: str, body: dict):
    response = await jp_fetch(*parts, method="POST", body=json.dumps(body), request_timeout=300)
    return response.code, json.loads(response.body)


async def test_promote_runs_the_gate_and_refuses_a_notebook_whose_checks_fail(
    jp_fetch, jp_root_dir
):
    orders_notebook(Path(jp_root_dir) / "work" / "orders.ipynb", CHECKS)
    code, result = await post(
        jp_fetch,
        "dataops",
        "api",
        "promote",
        body={"notebook": "work/orders.ipynb", "step": "orders", "parameters": {"null_every": 5}},
    )
    assert code == 200
    assert result["promoted"] is False
    assert any("missing_count(amount)" in f for f in result["failures"])
    failed = [c for c in result["checks"] if c["status"] == "fail"]
    assert [c["source"] for c in failed] == ["missing_count(amount) = 0"]
    assert result["executed_notebook"]["exists"] is True
    assert result["executed_notebook"]["path"].startswith(".dataops/runs/")
    assert not (Path(jp_root_dir) / "dataops.yaml").exists()


def project_templates(state: Path) -> list[int]:
    """The pids of the templates (``warm_server``) listening for the project of ``state``."""
    import hashlib
    import os
    import tempfile

    from jupyter_dataops.pipeline.execution import warm_server

    project = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
    private = Path(tempfile.gettempdir()) / f"dataops-warm-{os.getuid()}"
    sockets = [*state.glob("warm-*.sock"), *private.glob(f"{project}-*.sock")]
    return [pid for path in sockets if (pid := warm_server.answering(str(path))) is not None]


async def test_promote_then_run_now_records_a_new_run_that_the_list_shows(jp_fetch, jp_root_dir):
    root = Path(jp_root_dir)
    orders_notebook(root / "orders.ipynb", CHECKS)
    code, result = await post(
        jp_fetch,
        "dataops",
        "api",
        "promote",
        body={"notebook": "orders.ipynb", "step": "orders", "schedule": "30 5 * * *"},
    )
    assert code == 200, result
    assert result["promoted"] is True and result["pipeline_file"] == "dataops.yaml"
    assert {c["status"] for c in result["checks"]} == {"pass"}
    assert "orders" in (root / "dataops.yaml").read_text()

    pipelines = json.loads((await jp_fetch("dataops", "api", "pipelines")).body)
    (step,) = pipelines["pipelines"][0]["steps"]
    assert step["name"] == "orders" and step["schedule"] == "30 5 * * *"
    assert step["promoted_version"] == 1 and step["edited_since_promotion"] is False

    # An edit after promotion: "Run now" runs the promoted snapshot; the route says so.
    nb = nbformat.read(root / "orders.ipynb", as_version=4)
    nb.cells.append(new_code_cell("open('EDITED.txt', 'w').write('ran')"))
    nbformat.write(nb, root / "orders.ipynb")
    pipelines = json.loads((await jp_fetch("dataops", "api", "pipelines")).body)
    (step,) = pipelines["pipelines"][0]["steps"]
    assert step["promoted_version"] == 1 and step["edited_since_promotion"] is True

    code, started = await post(
        jp_fetch, "dataops", "api", "steps", "orders", "run", body={"parameters": {"n_rows": 40}}
    )
    assert code == 202
    run_id = started["step_run_id"]
    assert isinstance(run_id, int) and started["status"] in ("queued", "running")

    run = {}
    for _ in range(240):
        run = json.loads((await jp_fetch("dataops", "api", "runs", str(run_id))).body)
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.5)
    assert run["status"] == "success", run.get("error")
    assert run["parameters"]["n_rows"] == 40
    assert {c["metric"]: c["observed"] for c in run["check_results"]}["row_count"] == 40
    assert run["executed_notebook"]["exists"] is True
    assert run["version"]["version"] == 1 and not (root / "EDITED.txt").exists()
    # its kernel came from the project's shared template (which outlives the one-step worker
    # process that ran it, for the next click or `dataops run`), not from one of the worker's own
    assert project_templates(root / ".dataops"), "no template of the project's answers"

    runs = json.loads((await jp_fetch("dataops", "api", "runs", params={"step": "orders"})).body)
    assert runs["runs"][0]["id"] == run_id


async def test_run_now_with_a_wrong_parameter_is_refused_before_anything_runs(
    jp_fetch, jp_root_dir
):
    root = Path(jp_root_dir)
    orders_notebook(root / "orders.ipynb", CHECKS)
    code, _ = await post(
        jp_fetch, "dataops", "api", "promote", body={"notebook": "orders.ipynb", "step": "orders"}
    )
    assert code == 200
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await post(
            jp_fetch,
            "dataops",
            "api",
            "steps",
            "orders",
            "run",
            body={"parameters": {"n_rows": "many"}},
        )
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["message"]
    assert "n_rows" in message and "many" in message
    runs = json.loads((await jp_fetch("dataops", "api", "runs")).body)  # the gate run only
    assert [r for r in runs["runs"] if r["mode"] == "production"] == []


async def test_promote_into_a_renamed_pipeline_is_refused_with_the_rename_command(
    jp_fetch, jp_root_dir
):
    """The panel's Promote and the REST route refuse as ``dataops promote`` does: the history
    of this folder is under the old name, so a promotion would start a second one beside it."""
    from jupyter_dataops.pipeline.definition.project import Project

    root = Path(jp_root_dir).resolve()
    orders_notebook(root / "orders.ipynb", CHECKS)
    (root / "dataops.yaml").write_text(
        "pipeline: orders\nsteps:\n  orders: {notebook: orders.ipynb}\n"
    )
    store = Project(root).open_store()
    store.upsert_pipeline("shop", project_dir=str(root))  # the history, under the old name
    store.create_pipeline_run("shop")
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await post(
            jp_fetch,
            "dataops",
            "api",
            "promote",
            body={"notebook": "orders.ipynb", "step": "orders"},
        )
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["message"]
    assert (
        "dataops rename-pipeline shop orders" in message and "put back `pipeline: shop`" in message
    )
    assert [r["pipeline"] for r in store.list_pipeline_runs()] == ["shop"]  # no gate ran
