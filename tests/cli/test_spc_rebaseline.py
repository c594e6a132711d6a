"""``dataops spc rebaseline STEP METRIC --from PARTITION|RUN --reason TEXT`` with real runs: the
new phase collects its own baseline, its verdicts record the phase, ``dataops history`` shows the
boundary and its reason; a wrong step, metric, partition or run is a clear error (exit 2)."""

from __future__ import annotations

import json
import os

import pytest
from builders import cli_env, dataops, invoke, partitioned_project

from jupyter_dataops.store import ENV_STORE_URL, open_store

DAYS = [f"2026-09-{d:02d}" for d in range(1, 6)]


def ok(*args: str, cwd):
    env = {k: v for k, v in os.environ.items() if k != ENV_STORE_URL}
    done = dataops(*args, cwd=cwd, env={**env, "COLUMNS": "200"})
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "daily"
    head = (
        "pipeline: daily\n"
        f"store: 'sqlite:///{root}/.dataops/dataops.db'\n"
        "partitions: {every: day, parameter: run_date, start: 2026-09-01}\n"
    )
    partitioned_project(root, head, {"load": []})
    cli_env(monkeypatch)
    monkeypatch.chdir(root)
    return root


def wrong_step_metric_or_partition_is_a_clear_error():
    cases = [
        (("lod", "row_count", DAYS[0]), "no step 'lod'; its steps: load"),
        (("load", "rows", DAYS[0]), "no metric 'rows'; its metrics: row_count"),
        (("load", "row_count", "2026-9-3"), "'2026-9-3' is not a day partition key"),
    ]
    for (step, metric, start), words in cases:
        done = invoke("spc", "rebaseline", step, metric, "--from", start, "--reason", "x")
        assert done.exit_code == 2, done.output
        assert words in done.output and "Traceback" not in done.output


def verdict(root, day: str) -> dict:
    with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
        (run,) = [r for r in store.list_runs("load", limit=100) if r["partition"] == day]
        rows = store.get_run(run["id"])["check_results"]
    (row,) = [r for r in rows if r["metric"] == "row_count" and r["spc"]]
    return row


def test_a_new_phase_is_judged_against_its_own_baseline(project):
    # row_count is the day of the month: 1, 2, 3, 4 (spc row_count: baseline 2)
    ok("backfill", "--from", DAYS[0], "--to", DAYS[3], cwd=project)
    before = verdict(project, DAYS[3])
    assert before["status"] == "pass" and "phase" not in before["spc"]
    assert before["spc"]["ucl"] == pytest.approx(1.5 + 3 / 1.128)  # phase 1 would flag a 5
    wrong_step_metric_or_partition_is_a_clear_error()
    done = invoke(
        "spc", "rebaseline", "load", "row_count", "--from", DAYS[2], "--reason", "new supplier"
    )
    assert done.exit_code == 0, done.output
    assert "phase 2 from 2026-09-03 (new supplier)" in done.output

    ok("run", "load", "--partition", DAYS[4], cwd=project)
    row = verdict(project, DAYS[4])
    # phase 2's baseline is the 3rd and 4th (3, 4): 5 is within 3.5 +- 3 * 1/1.128
    assert row["status"] == "pass", row["message"]
    assert row["spc"]["phase"] == 2 and row["spc"]["phase_reason"] == "new supplier"
    assert row["spc"]["center"] == pytest.approx(3.5)

    shown = invoke("history", "load", "row_count")
    assert shown.exit_code == 0, shown.output
    assert "phase 2 from 2026-09-03: new supplier" in shown.output
    answer = json.loads(invoke("history", "load", "row_count", "--json").output)
    assert [p["phase"] for p in answer["points"]] == [1, 1, 2, 2, 2]
    assert answer["phases"][0]["reason"] == "new supplier"
    assert answer["points"][4]["center"] == pytest.approx(3.5)  # its own phase's limits

    # the chart: a rule at the boundary (between the 2nd and 3rd sample) with the reason
    from jupyter_dataops.pipeline.views.charts import metric_chart

    with open_store(f"sqlite:///{project}/.dataops/dataops.db") as store:
        chart = metric_chart(store, "load", "row_count")
        window = metric_chart(store, "load", "row_count", last=2)  # after the boundary
    assert chart.rebaselines == [
        {"index": 2, "phase": 2, "from": DAYS[2], "reason": "new supplier"}
    ]
    marks = [layer["data"]["values"] for layer in chart.spec()["layer"] if "data" in layer]
    assert [{"x": 2.5, "label": "phase 2: new supplier"}] in marks
    assert window.rebaselines == []


def test_a_pipeline_without_partitions_starts_its_new_phase_at_a_run(tmp_path, monkeypatch):
    # the same step, no partitions: row_count is the run_date parameter's day (1, 2, 3, 4)
    root = tmp_path / "plain"
    partitioned_project(
        root, f"pipeline: plain\nstore: 'sqlite:///{root}/.dataops/dataops.db'\n", {"load": []}
    )
    cli_env(monkeypatch)
    monkeypatch.chdir(root)
    for day in DAYS[:3]:  # in this process: no interpreter to start per run
        done = invoke("run", "load", "-p", f"run_date={day}")
        assert done.exit_code == 0, done.output
    with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
        ids = sorted(r["id"] for r in store.list_runs("load", limit=100, mode="production"))
    assert len(ids) == 3
    cases = [
        (DAYS[1], f"'{DAYS[1]}' is no run id: pipeline 'plain' has no partitions"),
        ("999", "step run 999 is not a run of step 'load'"),
        ("9" * 25, "step run 9999999999999999999999999 is not a run of step 'load'"),
        ("\u00b2", "'\u00b2' is no run id"),  # a digit to str.isdigit, not to int()
    ]
    for start, words in cases:
        done = invoke("spc", "rebaseline", "load", "row_count", "--from", start, "--reason", "x")
        assert done.exit_code == 2, done.output
        assert words in done.output and "Traceback" not in done.output
    done = invoke(  # a run as dataops history shows it
        "spc", "rebaseline", "load", "row_count", "--from", f"#{ids[1]}", "--reason", "new feed"
    )
    assert done.exit_code == 0, done.output
    assert f"phase 2 from run {ids[1]} (new feed)" in done.output

    assert invoke("run", "load", "-p", f"run_date={DAYS[3]}").exit_code == 0
    with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
        runs = store.list_runs("load", limit=100, mode="production")
        (last,) = [r for r in runs if r["id"] not in ids]
        (row,) = [
            c
            for c in store.get_run(last["id"])["check_results"]
            if c["metric"] == "row_count" and c["spc"]
        ]
    # phase 2's baseline is the 2nd and 3rd runs (2, 3), not phase 1's first two (1, 2)
    assert row["spc"]["phase"] == 2 and row["spc"]["phase_reason"] == "new feed"
    assert row["spc"]["center"] == pytest.approx(2.5), row["message"]

    answer = json.loads(invoke("history", "load", "row_count", "--json").output)
    assert [p["phase"] for p in answer["points"]] == [1, 2, 2, 2]
    assert answer["phases"][0]["from"] == f"run {ids[1]}"
    shown = invoke("history", "load", "row_count")
    assert f"phase 2 from run {ids[1]}: new feed" in shown.output
    from jupyter_dataops.pipeline.views.charts import metric_chart

    with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
        chart = metric_chart(store, "load", "row_count")
    assert chart.rebaselines == [
        {"index": 1, "phase": 2, "from": f"run {ids[1]}", "reason": "new feed"}
    ]
