"""The incident routes on a real jupyter_server: list, acknowledge and resolve record the Jupyter
user; a person reports a problem; bad ids, notes and steps are clear errors; a cookie without the
XSRF token is refused. Incidents come from a real step run's check results
(``observers.incidents.record_step_run`` on a real SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path

import builders
import polars as pl
import pytest
import tornado.httpclient
from jupyter_server.auth.identity import IdentityProvider, User
from server.test_openapi_contract import check

from jupyter_dataops import run_checks
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.observers.incidents import record_step_run
from jupyter_dataops.store import open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]


class NamedIdentity(IdentityProvider):
    """Jupyter's own token check, with the authenticated user named ``ana`` (a hub would name
    its users; a bare token's user is a new random name on every request)."""

    async def get_user(self, handler):  # noqa: ANN001, ANN201
        user = await self._get_user(handler)
        return None if user is None else User(username="ana", name="Ana")


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_dataops.server": True},
            "identity_provider_class": NamedIdentity,
        }
    }


def failing_project(root: Path) -> int:
    """A project whose ``orders`` step run failed ``missing_count(amount) = 0``: one incident."""
    builders.write_notebook(root / "orders.ipynb", "", "x = 1")
    builders.write_notebook(root / "report.ipynb", "", "y = 1")
    (root / "dataops.yaml").write_text(
        "pipeline: shop\nsteps:\n  orders:\n    notebook: orders.ipynb\n"
        "  report:\n    notebook: report.ipynb\n    depends_on: [orders]\n"
    )
    suite = run_checks(pl.DataFrame({"amount": [1.0, None]}), "missing_count(amount) = 0")
    with open_store(root) as store:
        prid = store.create_pipeline_run("shop")
        srid = store.create_step_run(prid, "orders")
        store.start_step_run(srid)
        store.record_suite(srid, suite)
        store.finish_step_run(srid, "failed", error="1 check failed")
        store.finish_pipeline_run(prid)
        opened = record_step_run(load_pipeline(root / "dataops.yaml"), store, store.get_run(srid))
    [incident] = opened["opened"]
    return incident["id"]


TEMPLATES = {1: "/dataops/api/incidents", 3: "/dataops/api/incidents/{incident_id}/"}


async def fetch(jp_fetch, *parts: str, method: str = "GET", body=None, **kwargs):
    """Call an incident route; its answer (success or error) is checked against openapi.yaml."""
    if body is not None:
        kwargs["body"] = json.dumps(body)
    try:
        response = await jp_fetch("dataops", "api", *parts, method=method, **kwargs)
        code, payload = response.code, json.loads(response.body)
    except tornado.httpclient.HTTPClientError as exc:
        code, payload = exc.code, json.loads(exc.response.body)
    template = TEMPLATES[len(parts)] + (parts[2] if len(parts) == 3 else "")
    return code, check(method, template, code, payload)


async def test_incidents_are_listed_acknowledged_and_resolved_by_the_jupyter_user(
    jp_fetch, jp_root_dir
):
    iid = failing_project(Path(jp_root_dir))
    me = json.loads((await jp_fetch("api", "me")).body)["identity"]["username"]
    assert me == "ana"
    code, listed = await fetch(jp_fetch, "incidents")
    [incident] = listed["incidents"]
    assert code == 200 and incident["id"] == iid and incident["kind"] == "check"
    assert incident["key"] == "missing_count(amount) = 0"
    assert incident["affected"]["steps"] == ["report"] and incident["runs"][0]["step_run_id"]

    code, acked = await fetch(
        jp_fetch, "incidents", str(iid), "ack", method="POST", body={"note": "on it"}
    )
    assert code == 200 and acked["status"] == "acknowledged"
    assert acked["acknowledged_by"] == me and acked["acknowledged_note"] == "on it"
    code, done = await fetch(jp_fetch, "incidents", str(iid), "resolve", method="POST", body={})
    assert code == 200 and done["status"] == "resolved" and done["resolved_by"] == me
    code, listed = await fetch(jp_fetch, "incidents")
    assert listed["incidents"] == []
    code, listed = await fetch(jp_fetch, "incidents", params={"all": "true"})
    assert [i["status"] for i in listed["incidents"]] == ["resolved"]

    code, again = await fetch(jp_fetch, "incidents", str(iid), "resolve", method="POST", body={})
    assert code == 400 and "already resolved" in again["message"]


async def test_a_person_reports_a_problem_and_bad_requests_say_what_is_wrong(jp_fetch, jp_root_dir):
    failing_project(Path(jp_root_dir))
    body = {"step": "report", "title": "the chart is empty"}
    code, reported = await fetch(jp_fetch, "incidents", method="POST", body=body)
    assert code == 201 and reported["kind"] == "reported" and reported["opened_by"] == "ana"
    code, again = await fetch(jp_fetch, "incidents", method="POST", body=body)
    assert code == 200 and again["id"] == reported["id"] and again["count"] == 2

    code, error = await fetch(
        jp_fetch, "incidents", method="POST", body={"step": "nope", "title": "x"}
    )
    assert code == 404 and "no step named 'nope'" in error["message"]
    code, error = await fetch(jp_fetch, "incidents", method="POST", body={"step": "report"})
    assert code == 400 and "`title` is required" in error["message"]
    code, error = await fetch(jp_fetch, "incidents", "99", "ack", method="POST", body={})
    assert code == 404 and "no incident 99" in error["message"]
    code, error = await fetch(
        jp_fetch, "incidents", str(reported["id"]), "ack", method="POST", body={"note": 5}
    )
    assert code == 400 and "`note` must be text" in error["message"]
    code, error = await fetch(jp_fetch, "incidents", params={"all": "maybe"})
    assert code == 400 and "'all' must be true or false" in error["message"]


async def test_a_cookie_without_the_xsrf_token_cannot_resolve(
    jp_root_dir, http_server_client, jp_base_url
):
    iid = failing_project(Path(jp_root_dir))
    url = f"{jp_base_url.rstrip('/')}/dataops/api/incidents/{iid}/resolve"
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await http_server_client.fetch(
            url, method="POST", body="{}", headers={"Cookie": "_xsrf=abc"}
        )
    assert info.value.code == 403
    with open_store(jp_root_dir) as store:
        assert store.get_incident(iid)["status"] == "open"
