"""OpenLineage events of pipeline runs, received by a real HTTP server on this machine.

The runner sends them through the openlineage-python client configured the standard way
(``OPENLINEAGE_URL``). Each received event is validated against the OpenLineage 2-0-2 RunEvent
structure below (the parts of the spec these events use; openlineage-python ships no JSON schema
file) and its facets against the facet classes' own schema URLs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

from jupyter_dataops.pipeline import lineage
from jupyter_dataops.pipeline.runner import NullReporter, run_pipeline
from jupyter_dataops.pipeline.spec import load_pipeline
from jupyter_dataops.store import open_store

pytest.importorskip("openlineage.client", reason="pip install 'jupyter-dataops[lineage]'")

NOTEBOOKS = Path(__file__).parent / "notebooks" / "pipeline"

FACET = {
    "type": "object",
    "required": ["_producer", "_schemaURL"],
    "properties": {
        "_producer": {"type": "string", "format": "uri"},
        "_schemaURL": {"type": "string", "format": "uri"},
    },
}
FACETS = {"type": "object", "additionalProperties": {"$ref": "#/$defs/facet"}}
DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": FACETS,
        "inputFacets": FACETS,
        "outputFacets": FACETS,
    },
}
RUN_EVENT = {  # OpenLineage 2-0-2 RunEvent, the parts these events use
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"facet": FACET},
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job", "eventType"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {
            "const": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        },
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": FACETS},
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": FACETS,
            },
        },
        "inputs": {"type": "array", "items": DATASET},
        "outputs": {"type": "array", "items": DATASET},
    },
}
FACET_SCHEMAS = {  # facet name -> (its schema URL, the fields the spec requires)
    "parent": ("ParentRunFacet.json", {"run": {"runId"}, "job": {"namespace", "name"}}),
    "errorMessage": ("ErrorMessageRunFacet.json", {"message": None, "programmingLanguage": None}),
    "jobType": ("JobTypeJobFacet.json", {"processingType": None, "integration": None}),
    "dataQualityAssertions": ("DataQualityAssertionsDatasetFacet.json", {"assertions": None}),
}


def validate(event: dict) -> None:
    jsonschema.Draft202012Validator(
        RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(event)
    uuid.UUID(event["run"]["runId"])
    datetime.fromisoformat(event["eventTime"])
    facets = {**event["run"].get("facets", {}), **event["job"].get("facets", {})}
    for ds in event.get("inputs", []) + event.get("outputs", []):
        facets.update(ds.get("facets", {}))
        facets.update(ds.get("inputFacets", {}))
    for name, facet in facets.items():
        if name not in FACET_SCHEMAS:
            continue
        url, fields = FACET_SCHEMAS[name]
        assert url in facet["_schemaURL"], (name, facet["_schemaURL"])
        for key, sub in fields.items():
            assert key in facet, (name, key)
            for inner in sub or ():
                assert inner in facet[key], (name, key, inner)
    for ds in event.get("inputs", []) + event.get("outputs", []):
        dq = {**ds.get("facets", {}), **ds.get("inputFacets", {})}.get("dataQualityAssertions")
        for a in (dq or {}).get("assertions", []):
            assert isinstance(a["assertion"], str) and isinstance(a["success"], bool)


class Collector(BaseHTTPRequestHandler):
    events: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).events.append(json.loads(body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No OpenLineage setting from this machine: a fresh HOME and cwd, no OPENLINEAGE_* vars."""
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    yield
    for key in list(os.environ):  # nothing the client set may outlive the test
        if key.startswith("OPENLINEAGE__"):
            del os.environ[key]


@pytest.fixture
def server(clean_env, monkeypatch):
    handler = type("Handler", (Collector,), {"events": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield handler.events
    httpd.shutdown()
    httpd.server_close()


def _pipeline(tmp_path: Path, yaml: str):
    project = tmp_path / "shop"
    project.mkdir()
    for name in ("extract", "transform", "report", "trivial"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", project)
    (project / "dataops.yaml").write_text(yaml)
    return load_pipeline(project / "dataops.yaml")


def test_nothing_is_sent_without_configuration_and_the_reporter_is_unchanged(
    tmp_path, clean_env, monkeypatch
):
    reporter = NullReporter()
    assert not lineage.configured()
    assert lineage.with_lineage(reporter, None, None) is reporter
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")
    assert lineage.configured()
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not lineage.configured()
    monkeypatch.delenv("OPENLINEAGE_DISABLED")
    monkeypatch.delenv("OPENLINEAGE_URL")
    config = tmp_path / "ol.yml"
    config.write_text("transport:\n  type: console\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    assert lineage.config_file() == config and lineage.configured()
    monkeypatch.delenv("OPENLINEAGE_CONFIG")
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: console\n")  # in the cwd
    assert lineage.configured()


def test_datasets_are_named_as_openlineage_names_them():
    assert lineage.dataset_id("orders.csv", "shop") == ("shop", "orders.csv")
    assert lineage.dataset_id("file:///data/x.csv", "shop") == ("file", "/data/x.csv")
    assert lineage.dataset_id("postgres://db:5432/shop.public.orders", "shop") == (
        "postgres://db:5432",
        "shop.public.orders",
    )
    checks = [{"suite": "orders"}, {"suite": "clean"}, {"suite": "other"}]
    grouped = lineage.assertions_by_dataset(checks, ["data/orders.csv"], ["warehouse.clean"])
    assert grouped == {
        "data/orders.csv": [{"suite": "orders"}],
        "warehouse.clean": [{"suite": "clean"}, {"suite": "other"}],
    }
    assert lineage.assertions_by_dataset([{"suite": "operations"}], [], ["x.csv"]) == {}


@pytest.mark.slow
def test_each_step_run_sends_start_then_complete_or_fail_with_parent_datasets_and_checks(
    tmp_path, server
):
    pipeline = _pipeline(
        tmp_path,
        (
            "pipeline: shop\n"
            "steps:\n"
            "  extract: {notebook: extract.ipynb, outputs: [orders.csv]}\n"
            "  transform:\n"
            "    notebook: transform.ipynb\n"
            "    depends_on: [extract]\n"
            "    parameters: {null_every: 3}\n"  # nulls in amount: its data test fails
            "    retries: 1\n"
            "    inputs: [orders.csv]\n"
            "    outputs: [clean.csv]\n"
            "  report: {notebook: report.ipynb, depends_on: [transform], outputs: [report.csv]}\n"
        ),
    )
    result = run_pipeline(pipeline, unpromoted=True)

    assert result.status == "failed" and result.steps["report"].status == "skipped"
    events = server
    for event in events:
        validate(event)
    seen = [(e["job"]["name"], e["eventType"]) for e in events]
    assert seen[0] == ("shop", "START") and seen[-1] == ("shop", "FAIL")
    assert [s for s in seen if s[0] == "extract"] == [("extract", "START"), ("extract", "COMPLETE")]
    assert [s for s in seen if s[0] == "transform"] == [
        ("transform", "START"),
        ("transform", "FAIL"),
    ] * 2
    assert not [s for s in seen if s[0] == "report"]  # skipped: it never ran

    with open_store(pipeline.project_dir) as store:
        rows = {
            (r["step"], r["attempt"]): r for r in store.list_runs(pipeline_run_id=result.run_id)
        }
        run_row = store.get_pipeline_run(result.run_id)
        url = store.url
    pipeline_uuid = lineage.run_uuid("pipeline-run", result.run_id, run_row["created_at"], url)
    assert {e["run"]["runId"] for e in events if e["job"]["name"] == "shop"} == {pipeline_uuid}
    by_step: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        if e["job"]["name"] != "shop":
            by_step.setdefault((e["job"]["name"], e["run"]["runId"]), []).append(e)
    expected = {
        (step, lineage.run_uuid("step-run", row["id"], row["created_at"], url))
        for (step, _), row in rows.items()
        if step != "report"
    }
    assert set(by_step) == expected  # stable: derived again from the store, one per attempt
    for evs in by_step.values():
        assert [e["eventType"] for e in evs][0] == "START" and len(evs) == 2
        parent = evs[0]["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == pipeline_uuid
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("shop", "shop")
        assert evs[0]["job"]["namespace"] == "shop"

    extract_done = next(e for e in events if seen[events.index(e)] == ("extract", "COMPLETE"))
    assert [(d["namespace"], d["name"]) for d in extract_done["outputs"]] == [
        ("shop", "orders.csv")
    ]
    checks = extract_done["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert {(a["assertion"], a.get("column"), a["success"]) for a in checks} == {
        ("row_count", None, True),
        ("missing_count", "order_id", True),
    }

    transform_fail = [e for e in events if e["job"]["name"] == "transform"][-1]
    assert [d["name"] for d in transform_fail["inputs"]] == ["orders.csv"]
    assert [d["name"] for d in transform_fail["outputs"]] == ["clean.csv"]
    checks = transform_fail["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    failed = [a for a in checks if not a["success"]]
    assert [(a["assertion"], a["column"], a["severity"]) for a in failed] == [
        ("missing_count", "amount", "error")
    ]
    assert "data tests failed" in transform_fail["run"]["facets"]["errorMessage"]["message"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_dead_endpoint_never_fails_or_stalls_a_run(tmp_path, clean_env, monkeypatch, caplog):
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(lineage, "FLUSH_SECONDS", 3.0)
    pipeline = _pipeline(tmp_path, "steps:\n  one: {notebook: trivial.ipynb}\n")
    start = time.monotonic()
    with caplog.at_level("WARNING", logger="jupyter_dataops.lineage"):
        result = run_pipeline(pipeline, unpromoted=True)
    assert result.ok
    assert time.monotonic() - start < 60
    assert "OpenLineage" in caplog.text  # said so, did not raise
