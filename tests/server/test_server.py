"""The REST server extension (``jupyter_dataops.server``) on a real jupyter_server.

The store is a real SQLite file seeded through the store API with real check results
(``run_checks`` on a polars frame); no kernel runs here (see ``test_server_runs.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import builders
import polars as pl
import pytest
import tornado.httpclient
import yaml

from jupyter_dataops import run_checks
from jupyter_dataops.server.handlers import ROUTES
from jupyter_dataops.store import open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]

OPENAPI = Path(__file__).resolve().parents[2] / "jupyter_dataops" / "server" / "openapi.yaml"
ORDERS_CHECKS = "row_count > 0\nmissing_count(amount) = 0\n"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


def write_notebook(path: Path) -> Path:
    return builders.write_notebook(path, "min_rows = 1\n", "print(min_rows)")


def write_project(root: Path, *, schedule: str | None = "0 6 * * *") -> Path:
    write_notebook(root / "orders.ipynb")
    step = {"notebook": "orders.ipynb"}
    if schedule:
        step["schedule"] = schedule
    (root / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": "shop", "steps": {"orders": step}}), encoding="utf-8"
    )
    return root


def seed_run(root: Path, amounts: list, *, status: str, executed: Path | None = None) -> int:
    """One production step run of ``orders`` with real check results and metrics."""
    suite = run_checks(pl.DataFrame({"amount": amounts}), ORDERS_CHECKS, name="orders_quality")
    with open_store(root) as store:
        store.upsert_pipeline("shop", project_dir=str(root))
        store.upsert_step("shop", "orders", notebook="orders.ipynb")
        prid = store.create_pipeline_run("shop", parameters={"min_rows": 1})
        srid = store.create_step_run(prid, "orders", parameters={"min_rows": 1})
        store.start_step_run(srid, notebook_path=str(executed) if executed else None)
        store.record_suite(srid, suite)
        store.finish_step_run(srid, status, error=None if status == "success" else "1 check failed")
        store.finish_pipeline_run(prid)
    return srid


def openapi_routes() -> list[tuple[str, str]]:
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return [
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def pattern_as_openapi(pattern: str) -> str:
    """``/dataops/api/runs/(?P<run_id>[0-9]+)`` -> ``/dataops/api/runs/{run_id}``."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


def concrete(path: str) -> str:
    return path.replace("{run_id}", "1").replace("{step}", "orders")


async def get_json(jp_fetch, *parts: str, **params):
    response = await jp_fetch(*parts, params=params or None)
    assert response.code == 200
    return json.loads(response.body)


def test_registered_handlers_match_the_openapi_description():
    described = {path for path, _ in openapi_routes()}
    registered = {pattern_as_openapi(pattern) for pattern, _ in ROUTES}
    assert registered == described
    for pattern, handler in ROUTES:
        methods = {m for p, m in openapi_routes() if p == pattern_as_openapi(pattern)}
        implemented = {m for m in ("GET", "POST") if m.lower() in handler.__dict__}
        assert implemented == methods, pattern


async def test_every_route_refuses_a_request_without_a_token(
    jp_serverapp, jp_root_dir, http_server_client, jp_base_url
):
    write_project(Path(jp_root_dir))
    routes = openapi_routes()
    assert len(routes) >= 7
    for path, method in routes:
        url = f"{jp_base_url.rstrip('/')}{concrete(path)}"
        body = b"{}" if method == "POST" else None
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await http_server_client.fetch(url, method=method, body=body)
        assert info.value.code == 403, f"{method} {path} answered {info.value.code}"


async def test_post_with_a_cookie_but_no_xsrf_token_is_refused(
    jp_serverapp, jp_root_dir, http_server_client, jp_base_url, jp_auth_header
):
    write_project(Path(jp_root_dir))
    # A browser session without the X-XSRFToken header: the token is not in the headers.
    url = f"{jp_base_url.rstrip('/')}/dataops/api/promote"
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await http_server_client.fetch(
            url,
            method="POST",
            body=json.dumps({"notebook": "orders.ipynb", "step": "x"}),
            headers={"Cookie": "_xsrf=abc"},
        )
    assert info.value.code == 403


async def test_list_routes_answer_empty_with_a_hint_when_there_is_no_pipeline(jp_fetch):
    pipelines = await get_json(jp_fetch, "dataops", "api", "pipelines")
    assert pipelines["pipelines"] == []
    assert "dataops.yaml" in pipelines["hint"] and "dataops promote" in pipelines["hint"]
    runs = await get_json(jp_fetch, "dataops", "api", "runs")
    assert runs["runs"] == [] and runs["total"] == 0 and runs["hint"]
    metrics = await get_json(jp_fetch, "dataops", "api", "steps", "orders", "metrics")
    assert metrics["metrics"] == [] and metrics["hint"]


async def test_pipelines_lists_steps_with_schedule_next_time_and_last_run(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    srid = seed_run(root, [5.0, None], status="failed")
    data = await get_json(jp_fetch, "dataops", "api", "pipelines")
    assert data["hint"] is None and data["pipeline_file"] == "dataops.yaml"
    (pipeline,) = data["pipelines"]
    assert pipeline["name"] == "shop"
    (step,) = pipeline["steps"]
    assert step["name"] == "orders" and step["notebook"] == "orders.ipynb"
    assert step["schedule"] == "0 6 * * *"
    assert step["next_run"].endswith("+00:00") and "T06:00:00" in step["next_run"]
    assert step["last_run"]["id"] == srid and step["last_run"]["status"] == "failed"


async def test_runs_filter_by_status_and_page_with_a_total(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    ids = [seed_run(root, [1.0, 2.0], status="success") for _ in range(3)]
    failed = seed_run(root, [1.0, None], status="failed")
    page = await get_json(jp_fetch, "dataops", "api", "runs", limit="2", offset="0")
    assert page["total"] == 4 and [r["id"] for r in page["runs"]] == [failed, ids[2]]
    page2 = await get_json(jp_fetch, "dataops", "api", "runs", limit="2", offset="2")
    assert [r["id"] for r in page2["runs"]] == [ids[1], ids[0]]
    only_failed = await get_json(jp_fetch, "dataops", "api", "runs", status="failed")
    assert [r["id"] for r in only_failed["runs"]] == [failed] and only_failed["total"] == 1
    assert only_failed["runs"][0]["checks"]["fail"] == 1


async def test_bad_query_parameters_answer_400_with_a_message(jp_fetch, jp_root_dir):
    write_project(Path(jp_root_dir))
    for params in ({"limit": "many"}, {"limit": "0"}, {"status": "exploded"}):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_fetch("dataops", "api", "runs", params=params)
        assert info.value.code == 400
        assert json.loads(info.value.response.body)["message"]


async def test_run_detail_has_checks_parameters_and_the_executed_notebook_path(
    jp_fetch, jp_root_dir
):
    root = write_project(Path(jp_root_dir))
    executed = write_notebook(root / ".dataops" / "runs" / "1" / "orders.ipynb")
    srid = seed_run(root, [5.0, None], status="failed", executed=executed)
    run = await get_json(jp_fetch, "dataops", "api", "runs", str(srid))
    assert run["status"] == "failed" and run["parameters"] == {"min_rows": 1}
    checks = {c["source"]: c for c in run["check_results"]}
    assert checks["missing_count(amount) = 0"]["status"] == "fail"
    assert checks["missing_count(amount) = 0"]["observed"] == 1
    # a display string beside the raw number, from the one formatter (as the CLI and tables)
    assert checks["missing_count(amount) = 0"]["observed_display"] == "1"
    assert checks["row_count > 0"]["status"] == "pass"
    assert run["executed_notebook"] == {
        "path": ".dataops/runs/1/orders.ipynb",
        "exists": True,
        "message": None,
    }


async def test_an_unknown_run_answers_404(jp_fetch, jp_root_dir):
    write_project(Path(jp_root_dir))
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "runs", "999")
    assert info.value.code == 404
    assert "999" in json.loads(info.value.response.body)["message"]


async def test_metrics_answer_limits_violations_and_a_vegalite_spec(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    # 12 stable row counts, then one far outside the limits.
    for n in [10, 11, 10, 12, 11, 10, 11, 12, 10, 11, 10, 11]:
        seed_run(root, [1.0] * n, status="success")
    outlier = seed_run(root, [1.0] * 60, status="success")
    listed = await get_json(jp_fetch, "dataops", "api", "steps", "orders", "metrics")
    assert "row_count" in {m["metric"] for m in listed["metrics"]}
    data = await get_json(jp_fetch, "dataops", "api", "metrics", step="orders", metric="row_count")
    assert data["chart"] == "i" and data["window"]["count"] == 13
    assert data["limits"]["lcl"] < data["limits"]["center"] < data["limits"]["ucl"] < 60
    assert any(v["step_run_id"] == outlier for v in data["violations"])
    assert data["mimetype"].startswith("application/vnd.vegalite.v5")
    assert "vega-lite/v5" in data["spec"]["$schema"]
    # no spc line watches row_count: drawn with the spc defaults, and the answer says so
    assert data["rules"] == "qcc" and data["line"] is None
    assert data["note"].startswith("No spc line watches row_count")


async def test_metrics_without_step_or_metric_say_what_to_give(jp_fetch, jp_root_dir):
    write_project(Path(jp_root_dir))
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "metrics", params={"step": "orders"})
    assert info.value.code == 400
    assert "metric" in json.loads(info.value.response.body)["message"]


@pytest.mark.parametrize("notebook", ["../outside.ipynb", "/etc/passwd", "sub/../../x.ipynb"])
async def test_promote_refuses_notebooks_outside_the_server_root(jp_fetch, jp_root_dir, notebook):
    write_project(Path(jp_root_dir))
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch(
            "dataops",
            "api",
            "promote",
            method="POST",
            body=json.dumps({"notebook": notebook, "step": "orders"}),
        )
    assert info.value.code == 403
    assert "root" in json.loads(info.value.response.body)["message"]


async def test_run_now_of_an_unknown_step_answers_404_naming_the_steps(jp_fetch, jp_root_dir):
    write_project(Path(jp_root_dir))
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "steps", "nope", "run", method="POST", body="{}")
    assert info.value.code == 404
    assert "orders" in json.loads(info.value.response.body)["message"]


async def test_a_broken_pipeline_file_is_reported_with_its_problem(jp_fetch, jp_root_dir):
    (Path(jp_root_dir) / "dataops.yaml").write_text("steps:\n  orders:\n    notebok: x.ipynb\n")
    data = await get_json(jp_fetch, "dataops", "api", "pipelines")
    assert data["pipelines"] == [] and "notebok" in data["hint"]


async def test_the_executed_notebook_of_a_run_is_served_read_only(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    executed = write_notebook(root / ".dataops" / "runs" / "1" / "orders.ipynb")
    srid = seed_run(root, [5.0, None], status="failed", executed=executed)
    model = await get_json(jp_fetch, "dataops", "api", "runs", str(srid), "notebook")
    assert model["type"] == "notebook" and model["writable"] is False
    assert model["path"] == f"{srid}/orders.ipynb"
    assert model["content"]["cells"][0]["source"] == "min_rows = 1\n"
    bare = await get_json(jp_fetch, "dataops", "api", "runs", str(srid), "notebook", content="0")
    assert bare["content"] is None
    executed.unlink()
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "runs", str(srid), "notebook")
    assert info.value.code == 404
    assert "no longer exists" in json.loads(info.value.response.body)["message"]


async def test_list_routes_never_create_a_run_store(jp_fetch, jp_root_dir):
    root = write_project(Path(jp_root_dir))
    pipelines = await get_json(jp_fetch, "dataops", "api", "pipelines")
    (step,) = pipelines["pipelines"][0]["steps"]
    assert step["promoted_version"] is None and step["edited_since_promotion"] is False
    runs = await get_json(jp_fetch, "dataops", "api", "runs")
    assert runs["runs"] == [] and runs["total"] == 0 and "No runs yet" in runs["hint"]
    metrics = await get_json(jp_fetch, "dataops", "api", "steps", "orders", "metrics")
    assert metrics["metrics"] == []
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("dataops", "api", "runs", "1")
    assert info.value.code == 404
    assert not (root / ".dataops").exists()
