"""Hostile parameters and files through the CLI (issue 22): linear-time redaction, size limits,
no secret value in any message, record or kept notebook, no traceback.

One real run (two papermill kernels in parallel) covers the ``${NAME}`` reference in a parameter
not named like a secret and the recorded check-syntax error; everything else stops before a
kernel starts.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from builders import cli_env, invoke, write_notebook
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.definition.secret_params import MAX_VALUE_CHARS, parse_item
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.runner import plan_run
from jupyter_dataops.store.redact import REDACTED, mask_url_passwords, redact_parameters

# The pattern the scan replaced: the same answers, in time worse than quadratic.
OLD_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]+:)(?P<pw>[^@/\s]+)(?=@)")
URLISH = st.text(alphabet="ab1:/@ .-+_é\nZ", max_size=40)


@given(URLISH)
@settings(max_examples=400, deadline=None)
def test_the_linear_scan_masks_exactly_what_the_old_pattern_masked(text):
    expected = OLD_URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    assert mask_url_passwords(text) == expected


@pytest.mark.parametrize("unit", ["a", "aB", "db://", "db://u:", "a:", "x://u:p@h ", ":/"])
@pytest.mark.timeout(60)
def test_long_hostile_values_are_redacted_at_all(unit):
    # a 1 MB value of any repeated shape is redacted (the old pattern took hours on these)
    text = unit * (1_000_000 // len(unit))
    out = redact_parameters({"endpoint": text, "api_token": text})
    assert out["api_token"] == REDACTED
    assert out["endpoint"] == (text.replace(":p@", f":{REDACTED}@") if "@" in unit else text)


def test_a_value_over_the_limit_is_refused_naming_the_limit_without_quoting_it():
    with pytest.raises(Exception) as info:
        parse_item("run_date=" + "7" * 1_000_000)
    assert f"{MAX_VALUE_CHARS:,}" in str(info.value) and "7777777" not in str(info.value)
    assert parse_item("run_date=" + "7" * MAX_VALUE_CHARS).raw == "7" * MAX_VALUE_CHARS


@pytest.fixture
def project(tmp_path, monkeypatch):
    cli_env(monkeypatch)
    write_notebook(tmp_path / "load.ipynb", 'run_date = "2024-01-01"\nretries_count = 3\n')
    (tmp_path / "dataops.yaml").write_text("pipeline: p\nsteps:\n  load: {notebook: load.ipynb}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_long_parameter_is_planned_at_once_and_a_huge_one_refused(project):
    long = "2024-" + "x" * 40_000
    (plan,) = plan_run(
        load_pipeline(project / "dataops.yaml"), params=[f"run_date={long}"]
    ).values()
    assert plan.parameters["run_date"] == long
    out = invoke("run", "--unpromoted", "-p", "run_date=" + "x" * 1_000_000)
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert f"limit of {MAX_VALUE_CHARS:,}" in out.output and "x" * 100 not in out.output
    assert not (project / ".dataops").exists()


def test_a_reference_of_the_wrong_type_names_the_variable_never_its_value(project, monkeypatch):
    value = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("DATAOPS_TEST_API_KEY", value)
    out = invoke("run", "--unpromoted", "-p", "retries_count=${DATAOPS_TEST_API_KEY}")
    assert out.exit_code != 0 and value not in out.output
    assert "the value of ${DATAOPS_TEST_API_KEY}" in out.output and "not an int" in out.output
    with Project(project).open_store() as store:
        (row,) = store.list_runs(limit=5)
        run = store.get_run(row["id"])
    assert run["status"] == "failed" and value not in json.dumps(run, default=str)
    shown = invoke("show", str(row["id"]))
    assert "${DATAOPS_TEST_API_KEY}" in shown.output and value not in shown.output
    promoted = invoke(
        "promote", "load.ipynb", "--step", "load", "-p", "retries_count=${DATAOPS_TEST_API_KEY}"
    )
    assert promoted.exit_code == 2 and value not in promoted.output


@pytest.mark.parametrize(
    "args",
    [
        ("show", "99999999999999999999999"),
        ("show", "9" * 5000),
        ("runs", "--limit", "99999999999999999999999"),
        ("runs", "--limit", "0"),
    ],
)
def test_huge_ids_and_limits_are_a_clear_error_not_a_traceback(project, args):
    out = invoke(*args)
    assert out.exit_code == 2 and out.exception is None or isinstance(out.exception, SystemExit)
    assert "Traceback" not in out.output and "OverflowError" not in out.output


def test_a_non_utf8_byte_in_the_pipeline_file_names_file_line_and_column(project):
    (project / "dataops.yaml").write_bytes(b"pipeline: p\nsteps:\n  load: {notebook: lo\xe9ad}\n")
    for args in (("run",), ("status",), ("runs",)):
        out = invoke(*args)
        assert out.exit_code == 2 and "Traceback" not in out.output, (args, out.output)
        assert "dataops.yaml, line 3" in out.output and "0xe9" in out.output
        assert "column 22" in out.output


def test_an_empty_list_or_dict_text_that_is_not_yaml_is_a_parameter_error(tmp_path, monkeypatch):
    cli_env(monkeypatch)
    write_notebook(tmp_path / "n.ipynb", "opts = {'a': 1}\nitems = [1]\n")
    (tmp_path / "dataops.yaml").write_text("steps:\n  n: {notebook: n.ipynb}\n")
    monkeypatch.chdir(tmp_path)
    for item in ("opts={a: [1, 2", "items=[" * 5000, "opts=*x"):
        out = invoke("run", "--unpromoted", "-p", item)
        assert out.exit_code == 2 and "Traceback" not in out.output, (item, out.output)


@pytest.mark.slow
def test_a_reference_is_kept_off_disk_and_a_syntax_error_is_recorded_whole(tmp_path, monkeypatch):
    cli_env(monkeypatch)
    value = f"https://api.example/{uuid.uuid4().hex}"
    monkeypatch.setenv("DATAOPS_TEST_ENDPOINT", value)
    write_notebook(
        tmp_path / "fetch.ipynb",
        'endpoint = ""\n',
        "import hashlib, pathlib\n"
        "pathlib.Path('seen.txt').write_text(hashlib.sha256(endpoint.encode()).hexdigest())",
    )
    write_notebook(
        tmp_path / "check.ipynb",
        "n = 3\n",
        "%load_ext jupyter_dataops\nimport polars as pl\nframe = pl.DataFrame({'a': [1, 2, 3]})",
        "%%dataops_test frame\nrow_count > 0\nrow_cuont > 1\n",
    )
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: p\nsteps:\n"
        "  fetch: {notebook: fetch.ipynb, parameters: {endpoint: '${DATAOPS_TEST_ENDPOINT}'}}\n"
        "  check: {notebook: check.ipynb}\n"
    )
    monkeypatch.chdir(tmp_path)
    out = invoke("run", "--unpromoted")
    assert out.exit_code != 0 and value not in out.output
    import hashlib

    # the kernel read the value from its environment ...
    assert (tmp_path / "seen.txt").read_text() == hashlib.sha256(value.encode()).hexdigest()
    # ... and nothing kept on disk holds it: executed notebooks, kernel logs, the store
    kept = [p for p in (tmp_path / ".dataops").rglob("*") if p.is_file()]
    assert any(p.name == "fetch.ipynb" for p in kept)
    for path in kept:
        assert value.encode() not in path.read_bytes(), path
    executed = next(p for p in kept if p.name == "fetch.ipynb").read_text()
    assert "DATAOPS_SECRET_ENDPOINT" in executed and '"endpoint": "***"' in executed
    with Project(tmp_path).open_store() as store:
        runs = {r["step"]: store.get_run(r["id"]) for r in store.list_runs(limit=5)}
    assert runs["fetch"]["status"] == "success"
    assert runs["fetch"]["parameters"] == {"endpoint": "${DATAOPS_TEST_ENDPOINT}"}
    error = runs["check"]["error"]
    assert runs["check"]["status"] == "failed" and "DataOpsSyntaxError" in error
    # as the notebook shows it: line, column, the line quoted, the caret, did-you-mean
    assert "line 2, column 1" in error and "    row_cuont > 1" in error
    assert "\n    ^" in error and "row_count" in error
