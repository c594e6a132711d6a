"""``dataops backfill``, ``run --partition``, ``runs --partition`` and ``history`` as a user runs
them: real ``dataops`` processes, papermill kernels and a SQLite store; a late partition
(``expect_by``) shown by ``dataops status``, its ``late`` incident alerted once to a real webhook
receiver when it opens and once when the partition's run resolves it."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from builders import Hook, dataops, partitioned_project

from jupyter_dataops.store import ENV_STORE_URL, open_store

DAYS = [f"2026-09-{d:02d}" for d in range(1, 6)]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != ENV_STORE_URL}
    out["COLUMNS"] = "200"
    return out


def ok(*args: str, cwd, code: int = 0):
    done = dataops(*args, cwd=cwd, env=env())
    assert done.returncode == code, (args, done.stdout, done.stderr)
    return done


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "daily"
    head = (
        "pipeline: daily\n"
        f"store: 'sqlite:///{root}/.dataops/dataops.db'\n"
        "partitions: {every: day, parameter: run_date, start: 2026-09-01}\n"
    )
    partitioned_project(root, head, {"load": [], "report": ["load"]})
    return root


def test_backfill_runs_each_day_once_and_a_rerun_keeps_one_spc_point(project):
    done = ok("backfill", "--from", DAYS[0], "--to", DAYS[-1], cwd=project)
    assert "5 partition(s) succeeded, 0 failed" in done.stdout

    again = ok("backfill", "--from", DAYS[0], "--to", DAYS[-1], cwd=project)
    assert "Nothing to run" in again.stdout and DAYS[0] in again.stdout

    runs = json.loads(ok("runs", "--limit", "100", "--json", cwd=project).stdout)
    runs = [r for r in runs if r["mode"] == "production"]  # not the promotion gates
    assert sorted((r["partition"], r["step"]) for r in runs) == sorted(
        (d, s) for d in DAYS for s in ("load", "report")
    )
    assert {r["status"] for r in runs} == {"success"}

    ok("run", "load", "--partition", DAYS[2], cwd=project)  # a bad day re-run
    day = json.loads(ok("runs", "--partition", DAYS[2], "--json", cwd=project).stdout)
    assert [(r["step"], r["partition"]) for r in day] == [
        ("load", DAYS[2]),
        ("report", DAYS[2]),
        ("load", DAYS[2]),
    ]
    assert day[0]["id"] > day[2]["id"]  # newest first

    series = json.loads(ok("history", "load", "row_count", "--json", cwd=project).stdout)
    points = series["points"]
    assert [p["partition"] for p in points] == DAYS  # one point per day, in day order
    assert [p["value"] for p in points] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert points[2]["run_id"] == day[0]["id"]  # the re-run's point replaced the first
    assert all(p["counted"] for p in points)
    assert series["line"] == "spc row_count: baseline 2" and series["judged"]
    # judged from the third run on; the first two are the baseline
    assert [p["status"] for p in points[:2]] == ["baseline", "baseline"]
    assert all(p["status"] in ("pass", "warn") for p in points[2:])
    assert all(p["ucl"] is not None for p in points)
    with open_store(f"sqlite:///{project}/.dataops/dataops.db") as store:
        assert store.metric_history("load", "row_count", pipeline="daily") == [1, 2, 3, 4, 5]

    table = ok("history", "load", "row_count", cwd=project).stdout
    assert "2026-09-03" in table and "judged by `spc row_count: baseline 2`" in table

    missing = ok("history", "load", "avg(x)", cwd=project, code=2)
    assert "no metric 'avg(x)'" in missing.stderr and "row_count" in missing.stderr
    bad = ok("run", "--partition", "2026-13-01", cwd=project, code=2)
    assert "2026-13-01" in bad.stderr and "Traceback" not in bad.stderr


def test_a_late_partition_is_shown_and_alerted_once(tmp_path):
    hook = Hook("/late")
    try:
        root = tmp_path / "late"
        yesterday = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
        head = (
            "pipeline: late\n"
            f"store: 'sqlite:///{root}/.dataops/dataops.db'\n"
            f"partitions: {{every: day, parameter: run_date, start: {yesterday}}}\n"
            'expect_by: "00:00"\n'  # the day's end: yesterday is past its deadline
            f"alerts:\n  - {{webhook: '{hook.url}', on: [late]}}\n"
        )
        partitioned_project(root, head, {"load": []})
        status = json.loads(ok("status", "--json", cwd=root).stdout)
        (row,) = status["steps"]
        assert row["late"] == [yesterday] and row["expect_by"] == "00:00"
        table = ok("status", cwd=root)
        assert f"late: step load not successful by its expect_by for partition(s) {yesterday}" in (
            table.stdout
        )
        ok("runs", cwd=root)
        assert [b["event"] for b in hook.bodies] == ["late"], hook.bodies
        (body,) = hook.bodies
        assert body["partition"] == yesterday and body["pipeline"] == "late"
        assert f"dataops run --partition {yesterday}" in body["error"]
        assert hook.paths == ["/late"]
        with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
            (logged,) = [a for a in store.list_alerts(pipeline="late") if a["event"] == "late"]
            assert logged["status"] == "sent" and logged["attempts"] == 1

        with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
            (incident,) = store.list_incidents(pipeline="late")
        assert (incident["kind"], incident["partitions"]) == ("late", [yesterday])
        assert body["incident"]["id"] == incident["id"]

        # the partition's run arrives: no longer late, its incident resolved and alerted once
        ran = ok("run", "--partition", yesterday, cwd=root)
        status = json.loads(ok("status", "--json", cwd=root).stdout)
        assert status["steps"][0]["late"] == []
        assert [b["event"] for b in hook.bodies] == ["late", "resolved"], ran.stdout
        assert hook.bodies[1]["incident"]["id"] == incident["id"]
        with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
            assert store.get_incident(incident["id"])["status"] == "resolved"
    finally:
        hook.close()


def test_late_partitions_follow_the_deadline_in_the_pipelines_time_zone(tmp_path):
    from jupyter_dataops.pipeline.definition.partitions import late_partitions
    from jupyter_dataops.pipeline.definition.spec import load_pipeline

    root = tmp_path / "tz"
    root.mkdir()
    (root / "a.ipynb").write_text("{}")
    (root / "dataops.yaml").write_text(
        "pipeline: tz\ntimezone: Europe/Berlin\n"
        "partitions: {every: day, start: 2026-09-01}\n"
        'expect_by: "07:00"\n'
        "steps:\n  a: {notebook: a.ipynb}\n  b: {notebook: a.ipynb, expect_by: '09:30'}\n"
    )
    pipeline = load_pipeline(root)
    berlin = datetime(2026, 9, 3, 6, 59, tzinfo=timezone.utc)  # 08:59 in Berlin
    assert late_partitions(pipeline, None, berlin) == {
        "2026-09-01": ["a", "b"],
        "2026-09-02": ["a"],
    }
    later = berlin + timedelta(minutes=31)  # 09:30 in Berlin
    assert late_partitions(pipeline, None, later)["2026-09-02"] == ["a", "b"]
