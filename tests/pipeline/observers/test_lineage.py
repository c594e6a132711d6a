"""OpenLineage events of pipeline runs, received by a real HTTP server on this machine.

The runner sends them through the openlineage-python client configured the standard way
(``OPENLINEAGE_URL``). Each received event (the JSON the server got) is validated against the
OpenLineage spec as the client ships it: openlineage-python ships no ``OpenLineage.json`` file but
the classes generated from the spec's JSON Schema (``openlineage.client.generated``), and
``openlineage_schema.validate_run_event`` rebuilds the event into them (unknown keys, missing
required fields, wrong types, unknown facet schema URLs, the client's own validators) and checks
that the client serialises the result back to the same JSON. Each event is also validated with
``jsonschema`` against the spec's JSON Schema files those classes are generated from, copied into
``openlineage_spec/`` (``openlineage_jsonschema.validate_against_spec_files``; their ``$id`` are
checked to be the installed client's schema URLs). ``test_the_validator(s)_reject...`` prove both
fail on mutated copies of a captured event.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.runner import run_pipeline
from jupyter_dataops.pipeline.observers import lineage
from jupyter_dataops.pipeline.observers.attach import observers_for
from jupyter_dataops.store import open_store

pytest.importorskip("openlineage.client", reason="pip install 'jupyter-dataops[lineage]'")

from openlineage_jsonschema import (  # noqa: E402
    facet_places,
    spec_files,
    validate_against_spec_files,
)
from openlineage_schema import (  # noqa: E402 - needs the client
    InvalidEvent,
    facet_classes,
    validate_run_event,
)

NOTEBOOKS = Path(__file__).parents[2] / "notebooks" / "pipeline"


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
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
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
    assert not lineage.configured()
    assert not lineage.OpenLineageEmitter.enabled(None)
    assert not any(isinstance(o, lineage.OpenLineageEmitter) for o in observers_for(None, None))
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
        validate_run_event(event)
        validate_against_spec_files(event)
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


CHECK_ROWS = [  # two recorded %%dataops_test rows of the suite "clean", as the store gives them
    {"suite": "clean", "line": 2, "metric": "row_count()", "source": "row_count() > 0",
     "status": "pass", "observed": 12, "threshold": "> 0"},
    {"suite": "clean", "line": 3, "metric": "missing_count(amount)",
     "source": "missing_count(amount) == 0", "status": "fail", "observed": 4,
     "threshold": "== 0", "message": "4 missing"},
]  # fmt: skip


@pytest.fixture
def captured(tmp_path, server) -> dict:
    """One step-attempt FAIL event as the HTTP server received it: parent, job type, error
    message, an input and an output dataset, two assertions (one failed) on the output."""
    pipeline = _pipeline(tmp_path, "pipeline: shop\nsteps:\n  one: {notebook: trivial.ipynb}\n")
    reporter = lineage.OpenLineageEmitter(pipeline, store=None)
    reporter.run_uuid = "01890a5d-ac96-774b-bcce-b302099a8057"
    reporter.sender.put(
        reporter._event(
            "FAIL",
            "shop",
            "transform",
            "01890a5d-ac96-774b-bcce-b302099a8058",
            job_type="TASK",
            error="data tests failed: clean",
            parent=True,
            inputs=["orders.csv"],
            outputs=["clean.csv"],
            checks={"clean.csv": CHECK_ROWS},
        )
    )
    reporter.sender.close()
    assert reporter.sender.sent == 1 and len(server) == 1
    return server[0]


def _set(path: str, value):
    """A mutation setting the value at a dotted path (``[i]`` for list items); ``DELETE``
    removes the key."""

    def mutate(event: dict) -> None:
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        target = event
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return mutate


DELETE = object()
PARENT = "run.facets.parent"
ASSERTION = "outputs[0].facets.dataQualityAssertions.assertions[1]"
MUTATIONS = {  # id: (mutation, path of the error, words of the error)
    "missing runId": (_set("run.runId", DELETE), "$.run.runId", "required by Run, missing"),
    "runId not a UUID": (
        _set("run.runId", "run-42"),
        "$.run.runId",
        "badly formed hexadecimal UUID string",
    ),
    "eventTime without time": (
        _set("eventTime", "2026-12-01"),
        "$.eventTime",
        "has to contain time",
    ),
    "eventTime not a date": (_set("eventTime", "yesterday"), "$.eventTime", "ValueError"),
    "unknown top-level key": (_set("state", "FAIL"), "$.state", "not a field of RunEvent"),
    "unknown key in the parent facet": (
        _set(f"{PARENT}.namespace", "shop"),
        f"$.{PARENT}.namespace",
        "not a field of ParentRunFacet",
    ),
    "unknown key in the parent's run": (
        _set(f"{PARENT}.run.runID", "x"),
        f"$.{PARENT}.run.runID",
        "not a field of Run",
    ),
    "parent without its job": (
        _set(f"{PARENT}.job", DELETE),
        f"$.{PARENT}.job",
        "required by ParentRunFacet",
    ),
    "assertion success a string": (
        _set(f"{ASSERTION}.success", "false"),
        f"$.{ASSERTION}.success",
        "expected bool, got string 'false'",
    ),
    "assertion without success": (
        _set(f"{ASSERTION}.success", DELETE),
        f"$.{ASSERTION}.success",
        "required by Assertion",
    ),
    "eventType DONE": (_set("eventType", "DONE"), "$.eventType", "'DONE' is not a EventType"),
    "made-up facet _schemaURL": (
        _set("run.facets.errorMessage._schemaURL", "https://example.com/ErrorFacet.json"),
        "$.run.facets.errorMessage._schemaURL",
        "schema URL of no facet",
    ),
    "facet _schemaURL of another version": (
        _set(
            f"{PARENT}._schemaURL",
            "https://openlineage.io/spec/facets/9-9-9/ParentRunFacet.json#/$defs/ParentRunFacet",
        ),
        f"$.{PARENT}._schemaURL",
        "did you mean https://openlineage.io/spec/facets/1-",
    ),
    "job facet among run facets": (
        lambda e: e["run"]["facets"].update(jobType=e["job"]["facets"]["jobType"]),
        "$.run.facets.jobType",
        "JobTypeJobFacet is a JobFacet: not here (RunFacet)",
    ),
    "input facet among output facets": (
        lambda e: e["outputs"][0]["outputFacets"].update(e["outputs"][0]["facets"]),
        "$.outputs[0].outputFacets.dataQualityAssertions",
        "DataQualityAssertionsDatasetFacet is a InputDatasetFacet: not here (OutputDatasetFacet)",
    ),
    "dataset name a number": (_set("inputs[0].name", 7), "$.inputs[0].name", "expected str"),
    "outputs not an array": (_set("outputs", {}), "$.outputs", "expected an array"),
    "event schemaURL of another version": (
        _set("schemaURL", "https://openlineage.io/spec/2-0-1/OpenLineage.json#/$defs/RunEvent"),
        "$.schemaURL",
        "round trip through Serde.to_dict differs",
    ),
    "facet without _producer": (
        _set("job.facets.jobType._producer", DELETE),
        "$.job.facets.jobType._producer",
        "not received",
    ),
}


def test_a_captured_event_is_valid_and_round_trips(captured):
    event = validate_run_event(captured)
    assert type(event).__module__ == "openlineage.client.generated.base"
    assert event.eventType.value == "FAIL" and event.run.facets["parent"].run.runId.startswith(
        "01890a5d"
    )
    facet = event.outputs[0].facets["dataQualityAssertions"]
    assert [(a.assertion, a.column, a.success, a.severity) for a in facet.assertions] == [
        ("row_count", None, True, None),
        ("missing_count", "amount", False, "error"),
    ]
    # the client adds its own "tags" run facet (TagsRunFacet): validated like ours
    assert set(captured["run"]["facets"]) == {"parent", "errorMessage", "tags"}


def test_the_validator_accepts_what_the_spec_leaves_open(captured):
    event = copy.deepcopy(captured)
    assertion = event["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"][0]
    assertion["params"] = {"limit": 3, "columns": ["a"], "nested": {"x": 1}}  # dict[str, Any]
    event["inputs"][0]["inputFacets"] = event["outputs"][0]["facets"]  # an input dataset facet
    event["eventTime"] = "2026-12-01T01:02:03Z"
    del event["eventType"]  # optional in the 2-0-2 RunEvent
    assert validate_run_event(event).eventType is None


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_validator_rejects_a_mutated_event_naming_the_path(captured, mutation):
    mutate, path, words = MUTATIONS[mutation]
    event = copy.deepcopy(captured)
    mutate(event)
    with pytest.raises(InvalidEvent) as error:
        validate_run_event(event)
    assert error.value.path == path, str(error.value)
    assert words in str(error.value)


# The mutations the spec's JSON Schema files refuse too, with the path of their error; the others
# it accepts, being looser than the generated classes: its objects are open to any key, it has no
# formats the client validates beyond uuid/date-time, and it fixes no schemaURL value.
SPEC_REJECTS = {  # jsonschema names the object that misses a required key
    "missing runId": "$.run",
    "runId not a UUID": "$.run.runId",
    "eventTime without time": "$.eventTime",
    "eventTime not a date": "$.eventTime",
    "parent without its job": f"$.{PARENT}",
    "assertion success a string": f"$.{ASSERTION}.success",
    "assertion without success": f"$.{ASSERTION}",
    "eventType DONE": "$.eventType",
    "made-up facet _schemaURL": "$.run.facets.errorMessage._schemaURL",
    "facet _schemaURL of another version": f"$.{PARENT}._schemaURL",
    "job facet among run facets": "$.run.facets.jobType",
    "input facet among output facets": "$.outputs[0].outputFacets.dataQualityAssertions",
    "dataset name a number": "$.inputs[0].name",
    "outputs not an array": "$.outputs",
    "event schemaURL of another version": "$.schemaURL",
    "facet without _producer": "$.job.facets.jobType",
}
SPEC_ONLY = {  # what only the spec files say: the key a facet sits under
    "parent facet under another key": (
        lambda e: e["run"]["facets"].update(parentRun=e["run"]["facets"].pop("parent")),
        "$.run.facets.parentRun",
        "ParentRunFacet sits under parent, not 'parentRun'",
    ),
    "assertions under another key": (
        lambda e: e["outputs"][0]["facets"].update(
            assertions=e["outputs"][0]["facets"].pop("dataQualityAssertions")
        ),
        "$.outputs[0].facets.assertions",
        "sits under dataQualityAssertions, not 'assertions'",
    ),
}


def test_the_spec_files_are_the_schema_of_the_installed_client(captured):
    """Every schema URL the runner sends names a vendored file's definition and the client's
    generated class of the same URL: the two validators judge the same spec version."""
    from openlineage.client.event_v2 import RunEvent

    sent = {captured["schemaURL"]} | {
        facet["_schemaURL"] for _, facets, _ in facet_places(captured) for facet in facets.values()
    }
    assert len(sent) == 6  # RunEvent, parent, errorMessage, tags, jobType, dataQualityAssertions
    for url in sent:
        file_url, _, fragment = url.partition("#")
        assert fragment.removeprefix("/$defs/") in spec_files()[file_url]["$defs"], url
        assert url == RunEvent._get_schema() or url in facet_classes(), url


def test_the_spec_files_accept_a_captured_event_and_what_they_leave_open(captured):
    validate_against_spec_files(captured)
    event = copy.deepcopy(captured)
    event["run"]["facets"]["parent"]["namespace"] = "shop"  # facets are open objects
    event["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"][0]["params"] = {"a": [1]}
    validate_against_spec_files(event)


@pytest.mark.parametrize("mutation", list(MUTATIONS) + list(SPEC_ONLY))
def test_the_spec_files_reject_what_they_declare_and_accept_the_rest(captured, mutation):
    mutate, path, words = {**MUTATIONS, **SPEC_ONLY}[mutation]
    event = copy.deepcopy(captured)
    mutate(event)
    if mutation not in SPEC_REJECTS and mutation not in SPEC_ONLY:
        validate_against_spec_files(event)  # looser than the classes: accepted
        return
    with pytest.raises(InvalidEvent) as error:
        validate_against_spec_files(event)
    assert error.value.path == SPEC_REJECTS.get(mutation, path), str(error.value)
    if mutation in SPEC_ONLY:
        assert words in str(error.value)


def _closed_port() -> int:
    """Port 1: privileged, never served here (unlike a port bound and released)."""
    return 1


@pytest.mark.slow
@pytest.mark.parametrize("where", ["OPENLINEAGE_CONFIG", "working folder"])
def test_an_openlineage_yml_configures_where_events_go(tmp_path, server, monkeypatch, where):
    """The client's config file, named by OPENLINEAGE_CONFIG or found in the working folder,
    is enough: with no OPENLINEAGE_URL the events still reach its HTTP transport."""
    url = os.environ.pop("OPENLINEAGE_URL")
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    config = tmp_path / ("ol-config.yml" if where == "OPENLINEAGE_CONFIG" else "openlineage.yml")
    config.write_text(f"transport:\n  type: http\n  url: {url}\n")
    if where == "OPENLINEAGE_CONFIG":
        monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    pipeline = _pipeline(tmp_path, "pipeline: shop\nsteps:\n  one: {notebook: trivial.ipynb}\n")
    assert run_pipeline(pipeline, unpromoted=True).ok
    seen = [(e["job"]["name"], e["eventType"]) for e in server]
    assert seen == [("shop", "START"), ("one", "START"), ("one", "COMPLETE"), ("shop", "COMPLETE")]
    for event in server:
        validate_run_event(event)
        validate_against_spec_files(event)


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
