"""Every live answer of the REST server matches its schema in ``openapi.yaml``.

The panel's TypeScript types (``labextension/src/types.ts``) are written field for field from
these schemas; this test keeps the schemas honest. The server extension runs on a real
jupyter_server (pytest-jupyter), on a project whose runs are real: the promotion gate and "Run now"
execute the notebook with papermill kernels. Response schemas are strict (required fields,
``additionalProperties: false``), so a field the server sends that the spec lacks fails here.

OpenAPI 3.0 schemas are JSON Schema with two differences handled by ``json_schema``: ``$ref`` is
resolved against the document and ``nullable: true`` adds ``null`` to the type.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tornado.httpclient
import yaml
from builders import orders_notebook

pytest_plugins = ["pytest_jupyter.jupyter_server"]

OPENAPI = Path(__file__).resolve().parents[2] / "jupyter_dataops" / "server" / "openapi.yaml"
SPEC = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
#: Objects open by design: free parameters, a Vega-Lite spec, a notebook, an spc line's options.
OPEN_OBJECTS = {"parameters", "spec", "content", "spc"}

CHECKS = (
    "row_count between 10 and 1000\n"
    "missing_count(amount) = 0\n"
    "warn: avg(amount) < 1000\n"
    "spc avg(amount): baseline 3\n"
)


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


# -- the spec as JSON Schema ------------------------------------------------------------------


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: ``$ref`` inlined, ``nullable`` as a type."""
    if isinstance(node, list):
        return [json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return json_schema({**target, **rest})
    out = {k: json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(method: str, template: str, status: int) -> dict[str, Any]:
    operation = SPEC["paths"][template][method.lower()]
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template} answered {status}, not described"
    if "$ref" in response:
        response = json_schema(response)
    return json_schema(response["content"]["application/json"]["schema"])


def check(method: str, template: str, status: int, body: Any) -> Any:
    """Validate ``body`` against the spec's schema for that route and status; return it."""
    schema = response_schema(method, template, status)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path)
    )
    described = "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors
    )
    assert not errors, f"{method} {template} {status} does not match openapi.yaml:\n{described}"
    return body


def concrete(template: str, **values: Any) -> list[str]:
    path = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
    return path.strip("/").split("/")


#: (method, template) of every route called: the live test must call them all.
CALLED: set[tuple[str, str]] = set()


async def call(
    jp_fetch, method: str, template: str, *, params=None, body=None, **values
) -> tuple[int, Any]:
    """Call a route by its OpenAPI template; validate the answer (success or error)."""
    CALLED.add((method, template))
    kwargs: dict[str, Any] = {"method": method, "request_timeout": 300}
    if params:
        kwargs["params"] = params
    if body is not None:
        kwargs["body"] = json.dumps(body)
    try:
        response = await jp_fetch(*concrete(template, **values), **kwargs)
        code, payload = response.code, json.loads(response.body)
    except tornado.httpclient.HTTPClientError as exc:
        code, payload = exc.code, json.loads(exc.response.body)
    return code, check(method, template, code, payload)


async def wait_for_run(jp_fetch, run_id: int) -> dict[str, Any]:
    run: dict[str, Any] = {}
    for _ in range(240):
        _, run = await call(jp_fetch, "GET", "/dataops/api/runs/{run_id}", run_id=run_id)
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish: {run}")


# -- tests ------------------------------------------------------------------------------------


def test_response_schemas_are_strict():
    """Every object in a response schema lists its required fields and refuses unknown ones
    (except the few open by design)."""
    loose: list[str] = []

    def walk(node: Any, where: str, name: str) -> None:
        if isinstance(node, list):
            for i, n in enumerate(node):
                walk(n, f"{where}[{i}]", name)
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "object" or "properties" in node:
            if name not in OPEN_OBJECTS and node.get("additionalProperties") is not False:
                loose.append(f"{where}: additionalProperties is not false")
            if node.get("properties") and not node.get("required"):
                loose.append(f"{where}: no required fields")
        for key, value in node.items():
            if key == "properties":
                for prop, sub in value.items():
                    walk(sub, f"{where}.{prop}", prop)
            elif key != "example":
                walk(value, f"{where}.{key}", name)

    for name, schema in SPEC["components"]["schemas"].items():
        walk(schema, name, name)
    for template, item in SPEC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                if content and status.startswith("2"):
                    walk(content["schema"], f"{method.upper()} {template} {status}", "")
    assert not loose, "loose response schemas in openapi.yaml:\n" + "\n".join(loose)


def test_an_undescribed_field_fails_the_check():
    """The check itself can fail: an extra field, a missing field, a wrong type."""
    good = {"message": "no such run"}
    check("GET", "/dataops/api/runs/{run_id}", 404, good)
    for bad in ({"message": "x", "extra": 1}, {}, {"message": 3}):
        with pytest.raises(AssertionError, match="does not match openapi.yaml"):
            check("GET", "/dataops/api/runs/{run_id}", 404, bad)
    row = {
        "step": "s",
        "metrics": [
            {"metric": "m", "suite": None, "points": 1, "last_value": 1.0, "last_time": None}
        ],
        "hint": None,
    }
    check("GET", "/dataops/api/steps/{step}/metrics", 200, row)
    row["metrics"][0]["unknown"] = True
    with pytest.raises(AssertionError, match="metrics/0"):
        check("GET", "/dataops/api/steps/{step}/metrics", 200, row)


async def test_empty_project_answers_match_the_spec(jp_fetch):
    await call(jp_fetch, "GET", "/dataops/api/pipelines")
    await call(jp_fetch, "GET", "/dataops/api/status")
    await call(jp_fetch, "GET", "/dataops/api/runs")
    await call(jp_fetch, "GET", "/dataops/api/grid")
    await call(jp_fetch, "GET", "/dataops/api/incidents")
    await call(jp_fetch, "GET", "/dataops/api/steps/{step}/metrics", step="orders")
    code, _ = await call(jp_fetch, "GET", "/dataops/api/runs/{run_id}", run_id=7)
    assert code == 404


@pytest.mark.slow
async def test_live_answers_of_a_project_with_real_runs_match_the_spec(jp_fetch, jp_root_dir):
    root = Path(jp_root_dir)
    orders_notebook(root / "orders.ipynb", CHECKS, amount="float(i % 7) + n_rows / 10")
    promote = "/dataops/api/promote"

    # A refused promotion, then a promoted one: both shapes of the gate's answer.
    code, refused = await call(
        jp_fetch,
        "POST",
        promote,
        body={"notebook": "orders.ipynb", "step": "orders", "parameters": {"null_every": 5}},
    )
    assert code == 200 and refused["promoted"] is False and refused["failures"]
    code, promoted = await call(
        jp_fetch,
        "POST",
        promote,
        body={"notebook": "orders.ipynb", "step": "orders", "schedule": "30 5 * * *"},
    )
    assert code == 200 and promoted["promoted"] is True, promoted
    assert promoted["version"] and promoted["gate_run_id"]

    # Production runs through "Run now": two good ones, then one whose checks fail.
    finished = []
    for parameters in ({"n_rows": 40}, {"n_rows": 60}, {"null_every": 4}):
        code, started = await call(
            jp_fetch,
            "POST",
            "/dataops/api/steps/{step}/run",
            step="orders",
            body={"parameters": parameters},
        )
        assert code == 202
        finished.append(await wait_for_run(jp_fetch, started["step_run_id"]))
    assert [r["status"] for r in finished] == ["success", "success", "failed"]
    assert any(c["metric"] == "avg(amount)" for c in finished[0]["check_results"])

    _, status = await call(jp_fetch, "GET", "/dataops/api/status")
    assert [s["key"] for s in status["schedules"]] == ["orders"]
    _, pipelines = await call(jp_fetch, "GET", "/dataops/api/pipelines")
    (step,) = pipelines["pipelines"][0]["steps"]
    assert step["last_run"]["id"] == finished[-1]["id"] and step["latest_version"]
    _, runs = await call(jp_fetch, "GET", "/dataops/api/runs", params={"limit": "2"})
    assert runs["total"] >= 4 and len(runs["runs"]) == 2
    for run in runs["runs"]:
        await call(jp_fetch, "GET", "/dataops/api/runs/{run_id}", run_id=run["id"])
    code, notebook = await call(
        jp_fetch, "GET", "/dataops/api/runs/{run_id}/notebook", run_id=finished[0]["id"]
    )
    assert code == 200 and notebook["writable"] is False
    _, metrics = await call(jp_fetch, "GET", "/dataops/api/steps/{step}/metrics", step="orders")
    assert {"row_count", "avg(amount)"} <= {m["metric"] for m in metrics["metrics"]}
    for metric in ("avg(amount)", "row_count"):
        code, chart = await call(
            jp_fetch,
            "GET",
            "/dataops/api/metrics",
            params={"step": "orders", "metric": metric},
        )
        assert code == 200 and chart["window"]["count"], chart

    # The grid of a pipeline without partitions: no rows, a hint; "Re-run this day" refused.
    code, grid = await call(jp_fetch, "GET", "/dataops/api/grid", params={"limit": "7"})
    assert code == 200 and grid["partitions"] == [] and grid["every"] is None and grid["hint"]
    code, _ = await call(
        jp_fetch, "POST", "/dataops/api/partitions/{partition}/run", partition="2026-09-01", body={}
    )
    assert code == 400

    # The failed run opened an incident: acknowledged, resolved, and one reported by a person.
    code, listed = await call(jp_fetch, "GET", "/dataops/api/incidents")
    assert code == 200 and listed["incidents"], listed
    iid = listed["incidents"][0]["id"]
    for action in ("ack", "resolve"):
        code, done = await call(
            jp_fetch,
            "POST",
            f"/dataops/api/incidents/{{incident_id}}/{action}",
            incident_id=iid,
            body={"note": "checked"},
        )
        assert code == 200 and done["status"] in ("acknowledged", "resolved")
    code, _ = await call(
        jp_fetch, "POST", "/dataops/api/incidents/{incident_id}/ack", incident_id=iid, body={}
    )
    assert code == 400  # already resolved
    code, reported = await call(
        jp_fetch, "POST", "/dataops/api/incidents", body={"step": "orders", "title": "totals off"}
    )
    assert code == 201 and reported["kind"] == "reported"
    await call(jp_fetch, "GET", "/dataops/api/incidents", params={"all": "true"})

    described = {(m.upper(), path) for path, item in SPEC["paths"].items() for m in item}
    assert described <= CALLED, f"routes this test does not check: {described - CALLED}"

    # Error answers have the Error shape too.
    code, _ = await call(jp_fetch, "GET", "/dataops/api/runs", params={"limit": "0"})
    assert code == 400
    code, _ = await call(
        jp_fetch, "GET", "/dataops/api/metrics", params={"step": "orders", "metric": "nope"}
    )
    assert code == 404
    code, _ = await call(jp_fetch, "POST", "/dataops/api/steps/{step}/run", step="nope", body={})
    assert code == 404
