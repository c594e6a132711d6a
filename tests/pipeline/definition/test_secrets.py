"""Secret parameters never land on disk: ``${NAME}`` references, promotion refusing literal
secrets, secrets reaching the kernel through its environment, ``***`` in every answer.

Kernel runs are few: the main test promotes (one gate kernel) and runs (one kernel) per store
backend; every other test stops before a kernel starts.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from typer.testing import CliRunner

from jupyter_dataops.cli import app
from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.notebook import (
    ParameterError,
    notebook_parameters,
    parse_value,
)
from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.definition.secret_params import (
    EnvReference,
    as_written,
    kernel_parameters,
    kernel_values,
    parse_overrides,
    reference,
    resolve,
    secret_names,
    values_of,
)
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.promote import promote
from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline
from jupyter_dataops.store.testing import BACKENDS, store_url
from jupyter_dataops.widgets.history import RunHistory

pytest_plugins = ["pytest_jupyter.jupyter_server"]

SECRETS = ("db_password", "api_token", "secret_key")


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


def secret_notebook(path: Path) -> Path:
    """Writes a SHA-256 of each secret parameter (never the value) to ``hashes-<mode>.json``;
    in production it then fails on purpose, so alerts and lineage send a failure."""
    nb = new_notebook(
        cells=[
            new_code_cell(
                'db_password = ""\napi_token = ""\nsecret_key = ""\n',
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell(
                "import hashlib, json, os\n"
                "mode = os.environ.get('DATAOPS_MODE', 'interactive')\n"
                "values = {'db_password': db_password, 'api_token': api_token,"
                " 'secret_key': secret_key}\n"
                "digests = {k: hashlib.sha256(v.encode()).hexdigest() for k, v in values.items()}\n"
                "with open(f'hashes-{mode}.json', 'w') as fh:\n"
                "    json.dump(digests, fh)"
            ),
            new_code_cell(
                "if mode == 'production':\n"
                "    raise RuntimeError('failing on purpose after using the secrets')"
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


async def off_loop(fn, *args, **kwargs):
    """``fn`` in a thread with a fresh context: jupyter_core keeps the running loop of this test
    in a context variable, which ``asyncio.to_thread`` would hand to the forked pool workers."""
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def tiny_notebook(path: Path, parameters: str) -> Path:
    nb = new_notebook(
        cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]})],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)
    return path


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Collector(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).bodies.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector(monkeypatch, tmp_path):
    """A real local HTTP server that receives webhook alerts and OpenLineage events."""
    import os

    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    handler = type("Handler", (Collector,), {"bodies": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("OPENLINEAGE_URL", url)  # the client posts to /api/v1/lineage
    yield url, handler.bodies
    httpd.shutdown()
    httpd.server_close()
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE__"):
            del os.environ[key]


def files_holding(folder: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``folder`` (hidden ones too) whose bytes hold one of ``needles``."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


def database_text(url: str) -> str:
    """Every row of every table of a store, as PostgreSQL/SQLite render it in text."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        out = []
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                if engine.dialect.name == "postgresql":
                    rows = conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t'))
                else:
                    rows = conn.execute(text(f'SELECT * FROM "{table}"'))
                out += [str(tuple(r)) for r in rows]
        return "\n".join(out)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_secrets_passed_each_way_are_usable_and_found_nowhere(
    backend, jp_fetch, jp_root_dir, tmp_path, monkeypatch, collector
):
    hook, received = collector
    db_password = f"pw-{uuid.uuid4().hex}"
    api_token = f"tok-{uuid.uuid4().hex}"
    secret_key = f"lit-{uuid.uuid4().hex}"
    values = [db_password, api_token, secret_key]
    monkeypatch.setenv("DB_PASSWORD", db_password)
    monkeypatch.setenv("API_TOKEN", api_token)
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    project = Path(jp_root_dir)
    monkeypatch.chdir(project)
    notebook = secret_notebook(project / "s.ipynb")
    with store_url(backend, tmp_path) as url:
        (project / "dataops.yaml").write_text(
            f"store: '{url}'\n"
            f"alerts:\n  - webhook: {hook}/hook\n    on: [failure]\n"
            "steps:\n  s:\n    notebook: s.ipynb\n"
            "    parameters:\n      db_password: ${DB_PASSWORD}\n"
        )
        # 1. promotion with a -p reference: the gate reads both references
        promoted = await off_loop(promote, notebook, "s", params=["api_token=${API_TOKEN}"])
        assert promoted.gate.ok, promoted.gate.error
        written = (project / "dataops.yaml").read_text()
        assert "db_password: ${DB_PASSWORD}" in written and "api_token: ${API_TOKEN}" in written
        gate = json.loads((project / "hashes-test.json").read_text())
        assert gate == {
            "db_password": sha(db_password),
            "api_token": sha(api_token),
            "secret_key": sha(""),
        }

        # 2. a production run with a literal -p secret, alerts and lineage to a real server
        pipeline = load_pipeline(project / "dataops.yaml")
        store = Project.of(pipeline).open_store()
        try:
            reporter = NullReporter()  # the runner adds the alerts and lineage itself
            result = await off_loop(
                run_pipeline,
                pipeline,
                params=[f"secret_key={secret_key}"],
                store=store,
                reporter=reporter,
            )
            run = store.get_run(result.steps["s"].step_run_ids[-1])
            run_ids = [r["id"] for r in store.list_runs(limit=10)]
            widget = RunHistory(store, project_dir=project)
            widget_html = [widget.detail_html(store.get_run(i)) for i in run_ids]
        finally:
            store.close()
        assert result.status == "failed" and "failing on purpose" in result.steps["s"].error
        assert any("kept nowhere" in w and "secret_key" in w for w in result.warnings)
        production = json.loads((project / "hashes-production.json").read_text())
        assert production == {k: sha(v) for k, v in zip(SECRETS, values, strict=True)}
        assert run["parameters"] == {k: "***" for k in SECRETS}
        executed = nbformat.read(result.steps["s"].notebook, as_version=4)
        injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.tags)
        for name in SECRETS:
            assert f'{name} = os.environ["DATAOPS_SECRET_{name.upper()}"]' in injected.source
        assert executed.metadata.papermill.parameters == {k: "***" for k in SECRETS}

        # 3. every REST answer, `dataops show` and the widgets' source show *** at most
        answers = []
        for parts in (("pipelines",), ("runs",), ("status",)):
            answers.append((await jp_fetch("dataops", "api", *parts)).body)
        for run_id in run_ids:
            answers.append((await jp_fetch("dataops", "api", "runs", str(run_id))).body)
            answers.append((await jp_fetch("dataops", "api", "runs", str(run_id), "notebook")).body)
        detail = json.loads((await jp_fetch("dataops", "api", "runs", str(run["id"]))).body)
        assert detail["parameters"] == {k: "***" for k in SECRETS}
        shown = CliRunner().invoke(app, ["show", str(run["id"])])
        assert shown.exit_code == 0, shown.output
        assert "db_password=***" in shown.output and "secret_key=***" in shown.output
        assert all("***" in html for html in widget_html)

        # 4. nothing anywhere holds a value
        needles = [v.encode() for v in values]
        assert [p for p, _ in received if p == "/hook"], "no alert reached the webhook"
        assert [p for p, _ in received if p == "/api/v1/lineage"], "no lineage event arrived"
        for path, body in received:
            assert not [n for n in needles if n in body], path
        for body in answers:
            assert not [n for n in needles if n in body]
        for text in (shown.output, str(result.warnings), str(result.steps), *widget_html):
            assert not [v for v in values if v in text]
        assert files_holding(project, needles) == []
        assert files_holding(tmp_path, needles) == []  # the SQLite store file is here
        stored = database_text(url)
        assert "***" in stored and not [v for v in values if v in stored]


def test_promotion_of_a_literal_secret_is_refused_with_the_reference_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret_notebook(tmp_path / "s.ipynb")
    literal = f"hunter-{uuid.uuid4().hex}"
    result = CliRunner().invoke(
        app, ["promote", "s.ipynb", "--step", "s", "-p", f"db_password={literal}"]
    )
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "-p 'db_password=${DB_PASSWORD}'" in out and "db_password: ${DB_PASSWORD}" in out
    assert "kept in git" in out and literal not in result.output
    assert not (tmp_path / "dataops.yaml").exists()
    assert files_holding(tmp_path, [literal.encode()]) == []


def test_an_unset_variable_fails_the_step_before_a_kernel_starts_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    monkeypatch.delenv("DATAOPS_TEST_UNSET_PASSWORD", raising=False)
    secret_notebook(tmp_path / "s.ipynb")
    (tmp_path / "dataops.yaml").write_text(
        "steps:\n  s:\n    notebook: s.ipynb\n    parameters:\n"
        "      db_password: ${DATAOPS_TEST_UNSET_PASSWORD}\n"
        "  after:\n    notebook: s.ipynb\n    depends_on: [s]\n"
    )
    result = run_pipeline(load_pipeline(tmp_path / "dataops.yaml"), unpromoted=True)
    step = result.steps["s"]
    assert step.status == "failed" and step.reason == "setup"
    assert "DATAOPS_TEST_UNSET_PASSWORD is not set" in step.error
    assert "db_password" in step.error
    assert result.steps["after"].status == "skipped"
    assert not (result.run_dir / "s.ipynb").exists()  # no kernel, no executed notebook
    assert not list(tmp_path.glob("hashes-*.json"))
    with Project(tmp_path).open_store() as store:
        run = store.get_run(step.step_run_ids[-1])
    assert run["status"] == "failed" and "DATAOPS_TEST_UNSET_PASSWORD" in run["error"]
    assert run["parameters"] == {"db_password": "***"}


def test_the_injected_cell_reads_secrets_by_name_and_holds_no_value(tmp_path):
    notebook = secret_notebook(tmp_path / "s.ipynb")
    params, env = kernel_parameters({"db_password": "hunter2-value", "api_token": 42})
    assert env == {
        "DATAOPS_SECRET_DB_PASSWORD": "hunter2-value",
        "DATAOPS_SECRET_API_TOKEN": "42",
    }
    out = tmp_path / "prepared.ipynb"
    nb = pm.execute_notebook(
        str(notebook), str(out), parameters={"secret_key": "", **params}, prepare_only=True
    )
    injected = nb.cells[1].source
    assert 'db_password = os.environ["DATAOPS_SECRET_DB_PASSWORD"]' in injected
    assert 'api_token = json.loads(os.environ["DATAOPS_SECRET_API_TOKEN"])' in injected
    assert "import os" in injected and 'secret_key = ""' in injected
    assert b"hunter2-value" not in out.read_bytes()
    assert nb.metadata.papermill.parameters["db_password"] == "***"


def test_references_are_read_when_the_step_runs_and_typed(tmp_path):
    notebook = tiny_notebook(tmp_path / "n.ipynb", "db_port = 5432\nnote = ''\ndb_url = ''")
    params = notebook_parameters(notebook)
    given = parse_overrides(["db_port=${PORT}", "note=$${NOT_A_REF}", "db_url=${URL}"], params)
    values = values_of(given)
    assert isinstance(values["db_port"], EnvReference) and str(values["db_port"]) == "${PORT}"
    assert values["note"] == "${NOT_A_REF}"
    assert as_written(values) == {"db_port": "${PORT}", "note": "$${NOT_A_REF}", "db_url": "${URL}"}
    env = {"PORT": "6543", "URL": "postgresql://app:pw-xyz@db/sales"}
    assert resolve(values, env)["db_port"] == 6543
    # a ${NAME} reference is secret whatever the parameter is called; $${...} is a literal
    assert secret_names(given) == {"db_port", "db_url"}
    public, secret = kernel_values(values, secret_names(given), env)
    assert secret == {"db_port": 6543, "db_url": env["URL"]} and public == {"note": "${NOT_A_REF}"}
    with pytest.raises(PipelineError, match="environment variable URL is not set"):
        resolve(values, {"PORT": "1"})
    with pytest.raises(ParameterError, match=r"write \$\{NAME\}"):
        reference("${DB PASSWORD}")


def test_error_messages_never_quote_a_secret_value(tmp_path):
    notebook = tiny_notebook(tmp_path / "n.ipynb", "api_key_id = 1")
    param = notebook_parameters(notebook)["api_key_id"]
    with pytest.raises(ParameterError) as exc:
        parse_value("s3cr3t-not-a-number", param)
    assert "s3cr3t" not in str(exc.value) and "'***'" in str(exc.value)
    with pytest.raises(ParameterError) as exc:
        resolve({"api_key_id": EnvReference("K", param)}, {"K": "s3cr3t-value"})
    assert "s3cr3t" not in str(exc.value) and "environment variable K" in str(exc.value)


async def test_rest_promotion_of_a_literal_secret_is_refused_with_the_reference_form(
    jp_fetch, jp_root_dir
):
    import tornado.httpclient

    project = Path(jp_root_dir)
    secret_notebook(project / "s.ipynb")
    literal = f"hunter-{uuid.uuid4().hex}"
    body = {"notebook": "s.ipynb", "step": "s", "parameters": {"db_password": literal}}
    with pytest.raises(tornado.httpclient.HTTPClientError) as exc:
        await jp_fetch(
            "dataops", "api", "promote", method="POST", body=json.dumps(body), request_timeout=120
        )
    answer = exc.value.response.body.decode()
    assert "${DB_PASSWORD}" in answer and literal not in answer
    assert not (project / "dataops.yaml").exists()


def test_a_literal_secret_in_the_file_is_warned_at_run_and_refused_at_promotion(
    tmp_path, monkeypatch
):
    from jupyter_dataops.pipeline.execution.runner import plan_run

    monkeypatch.chdir(tmp_path)
    secret_notebook(tmp_path / "s.ipynb")
    literal = f"hunter-{uuid.uuid4().hex}"
    (tmp_path / "dataops.yaml").write_text(
        f"steps:\n  s:\n    notebook: s.ipynb\n    parameters:\n      db_password: {literal}\n"
    )
    plans = plan_run(load_pipeline(tmp_path / "dataops.yaml"), unpromoted=True)
    (warning,) = plans["s"].secret_warnings
    assert "dataops.yaml holds the value of secret parameter(s) db_password" in warning
    assert "${DB_PASSWORD}" in warning and literal not in warning
    with pytest.raises(ParameterError) as exc:
        promote(tmp_path / "s.ipynb", "s")
    assert "-p 'db_password=${DB_PASSWORD}'" in str(exc.value) and literal not in str(exc.value)
    assert not (tmp_path / ".dataops").exists()  # refused before any store or kernel


def test_promotion_with_an_unset_variable_is_refused_before_the_gate_naming_it(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAOPS_TEST_UNSET_TOKEN", raising=False)
    secret_notebook(tmp_path / "s.ipynb")
    result = CliRunner().invoke(
        app, ["promote", "s.ipynb", "--step", "s", "-p", "api_token=${DATAOPS_TEST_UNSET_TOKEN}"]
    )
    assert result.exit_code == 2
    assert "environment variable DATAOPS_TEST_UNSET_TOKEN is not set" in result.output
    assert not (tmp_path / "dataops.yaml").exists() and not (tmp_path / ".dataops").exists()
