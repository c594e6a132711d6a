"""``dataops incidents`` and ``dataops incident ack|resolve|open`` on a real project and store,
alerts to a real local webhook; ``%dataops_incident`` through a real IPython shell. Who acted is
the OS user."""

from __future__ import annotations

import getpass
import json

import pytest
from builders import ORDERS_STEP, REPORT_STEP, cli_env, invoke, sales_pipeline, write_notebook
from IPython.core.interactiveshell import InteractiveShell

from jupyter_dataops.store import open_store


@pytest.fixture
def project(tmp_path, monkeypatch, hook):
    cli_env(monkeypatch)
    for var in ("DATAOPS_MODE", "DATAOPS_STEP_RUN_ID", "JUPYTERHUB_USER"):
        monkeypatch.delenv(var, raising=False)
    write_notebook(tmp_path / "orders.ipynb", "", "x = 1")
    write_notebook(tmp_path / "report.ipynb", "", "y = 1")
    sales_pipeline(tmp_path, hook.url, "failure", steps=ORDERS_STEP + REPORT_STEP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def listed(*flags: str) -> list[dict]:
    result = invoke("incidents", "--json", *flags)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_reported_problem_is_listed_acknowledged_and_resolved_by_the_os_user(project, hook):
    me = getpass.getuser()
    opened = invoke("incident", "open", "orders", "--title", "revenue is zero for Belgium")
    assert opened.exit_code == 0, opened.output
    assert "opened: revenue is zero for Belgium" in opened.output
    [incident] = listed()
    assert incident["kind"] == "reported" and incident["opened_by"] == me
    assert incident["affected"] == {"steps": ["report"], "outputs": ["reports/daily.html"]}
    [alert] = hook.bodies
    assert alert["event"] == "reported" and alert["incident"]["id"] == incident["id"]

    table = invoke("incidents")
    assert "revenue is zero for Belgium" in table.output and "reports/daily.html" in table.output

    iid = str(incident["id"])
    acked = invoke("incident", "ack", iid, "--note", "looking at the Belgian feed")
    assert acked.exit_code == 0 and f"acknowledged by {me}" in acked.output
    [incident] = listed()
    assert incident["status"] == "acknowledged" and incident["acknowledged_by"] == me
    assert incident["acknowledged_note"] == "looking at the Belgian feed"
    assert len(hook.bodies) == 1  # acknowledging is not alerted

    done = invoke("incident", "resolve", iid, "--note", "feed re-sent")
    assert done.exit_code == 0 and f"resolved by {me}" in done.output
    assert listed() == []
    [incident] = listed("--all")
    assert incident["status"] == "resolved" and incident["resolved_note"] == "feed re-sent"
    assert [b["event"] for b in hook.bodies] == ["reported", "resolved"]


def test_wrong_ids_steps_and_repeated_resolutions_are_clear_errors(project):
    assert invoke("incident", "open", "orders", "--title", "late numbers").exit_code == 0
    [incident] = listed()
    again = invoke("incident", "open", "orders", "--title", "late   numbers")
    assert again.exit_code == 0 and "already open (seen 2 times)" in again.output
    missing = invoke("incident", "ack", "999")
    assert missing.exit_code == 2 and "no incident 999" in missing.output
    assert "dataops incidents --all" in missing.output
    wrong = invoke("incident", "open", "ordrs", "--title", "x")
    assert wrong.exit_code == 2 and "no step named 'ordrs'" in wrong.output
    blank = invoke("incident", "open", "orders", "--title", "  ")
    assert blank.exit_code == 2 and "needs a title" in blank.output
    assert invoke("incident", "resolve", str(incident["id"])).exit_code == 0
    twice = invoke("incident", "resolve", str(incident["id"]))
    assert twice.exit_code == 2 and "already resolved" in twice.output
    assert "Traceback" not in twice.output + missing.output + wrong.output


def test_the_magic_reports_from_a_notebook_like_the_cli(project, hook, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_dataops", store_history=False)
    try:
        res = shell.run_cell('%dataops_incident orders "the totals are doubled"')
        assert res.success, res.error_in_exec
        bad = shell.run_cell('%dataops_incident nosuch "x"', store_history=False)
        assert not bad.success and "no step named 'nosuch'" in str(bad.error_in_exec)
    finally:
        shell.run_cell("%unload_ext jupyter_dataops", store_history=False)
    with open_store(project) as store:
        [incident] = store.list_incidents(pipeline="sales")
    assert incident["title"] == "the totals are doubled" and incident["opened_by"] == "ana"
    assert [b["event"] for b in hook.bodies] == ["reported"]
