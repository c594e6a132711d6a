"""The scheduler runs each tick for its partition: real ``dataops scheduler`` processes, real
kernels (tiny daily steps), a SQLite store. A pipeline-level schedule runs every step for
yesterday's key; catch-up ``all`` runs each missed partition with its own key, oldest first;
``latest`` runs the newest, and every tick (run or not) is a row with its partition."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta, timezone

import pytest
from builders import dataops_process, partitioned_project, wait_for
from builders import json_events as events

from jupyter_dataops.pipeline.scheduling.scheduler import Scheduler
from jupyter_dataops.store import open_store


def head(root, schedule: str, catchup: str = "latest") -> str:
    return (
        "pipeline: daily\n"
        f"store: 'sqlite:///{root}/.dataops/dataops.db'\n"
        f'schedule: "{schedule}"\n'
        f"catchup: {catchup}\n"
        "partitions: {every: day, parameter: run_date}\n"
    )


def day_before(t: datetime) -> str:
    return (t.astimezone(timezone.utc).date() - timedelta(days=1)).isoformat()


def finished_runs(store) -> list[dict]:
    runs = [r for r in store.list_pipeline_runs(limit=100) if r["trigger"] == "schedule"]
    return [r for r in runs if r["status"] not in ("queued", "running")]


def stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=90)[1]
    assert process.returncode == 0, err
    return err


def test_a_pipeline_schedule_runs_every_step_for_yesterdays_partition(tmp_path):
    root = tmp_path / "p"
    partitioned_project(root, head(root, "* * * * *"), {"load": [], "report": ["load"]})
    url = f"sqlite:///{root}/.dataops/dataops.db"
    scheduler = dataops_process("scheduler", "--interval", "0.2", cwd=root)
    try:
        with open_store(url) as store:
            (run,) = wait_for(lambda: finished_runs(store)[-1:], 120, "a scheduled run")
            claims = store.list_scheduled_runs(pipeline="daily")
            detail = store.get_pipeline_run(run["id"])
    finally:
        err = stop(scheduler)
    assert "scheduler_started" in [e["event"] for e in events(err)]
    (claim,) = [c for c in claims if c["pipeline_run_id"] == run["id"]]
    key = day_before(datetime.fromisoformat(claim["scheduled_for"]))
    assert claim["partition"] == key
    assert run["status"] == "success"
    steps = [(s["step"], s["status"], s["partition"]) for s in detail["steps"]]
    assert steps == [("load", "success", key), ("report", "success", key)]
    with open_store(url) as store:  # the kernel received the key: row_count = the day
        metrics = store.get_run(detail["steps"][0]["id"])["metrics"]
    assert [m["value"] for m in metrics if m["metric"] == "row_count"] == [int(key[-2:])]


def test_catchup_all_runs_each_missed_partition_with_its_own_key_oldest_first(tmp_path):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    base = now - timedelta(hours=2)  # today's tick (or yesterday's near midnight), 2 h ago
    ticks = [base - timedelta(days=n) for n in (2, 1, 0)]
    root = tmp_path / "p"
    path = partitioned_project(
        root, head(root, f"{base.minute} {base.hour} * * *", "all"), {"load": []}
    )
    url = f"sqlite:///{root}/.dataops/dataops.db"
    with open_store(url) as store:  # the last tick a scheduler handled: 3 days before base
        claim = store.claim_scheduled_run("daily", "*", base - timedelta(days=3))
        store.close_scheduled_run(claim, "skipped", "handled before the scheduler stopped")
    assert path.exists()
    scheduler = dataops_process("scheduler", "--interval", "0.2", cwd=root)
    try:
        with open_store(url) as store:
            runs = wait_for(
                lambda: len(finished_runs(store)) >= 3 and finished_runs(store), 180, "3 runs"
            )
            claims = store.list_scheduled_runs(pipeline="daily")
            details = [store.get_pipeline_run(r["id"]) for r in sorted(runs, key=lambda r: r["id"])]
    finally:
        stop(scheduler)
    keys = [day_before(t) for t in ticks]
    ran = sorted((c for c in claims if c["status"] == "started"), key=lambda c: c["scheduled_for"])
    assert [datetime.fromisoformat(c["scheduled_for"]) for c in ran] == ticks
    assert [c["partition"] for c in ran] == keys
    # oldest first: the pipeline runs were created in partition order, each with its own key
    assert [d["partition"] for d in details] == keys
    assert [d["steps"][0]["partition"] for d in details] == keys
    assert {d["status"] for d in details} == {"success"}
    assert [c["pipeline_run_id"] for c in ran] == [d["id"] for d in details]


class RecordingScheduler(Scheduler):
    """Records the partition of each run it would start instead of starting it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.launched: list[str | None] = []

    def launch(self, scheduled_for, claims, now=None):
        self.launched.append(self.partition_of(claims[0][0], scheduled_for))
        for _, claim in claims:
            self.store.close_scheduled_run(claim, "skipped", "recorded by the test")


@pytest.mark.parametrize(
    ("catchup", "launched"), [("latest", ["2026-09-05"]), ("skip", []), ("all", None)]
)
def test_missed_ticks_are_rows_with_their_partitions(tmp_path, catchup, launched):
    root = tmp_path / "p"
    root.mkdir()
    (root / "load.ipynb").write_text("{}")
    (root / "dataops.yaml").write_text(
        head(root, "0 6 * * *", catchup) + "steps:\n  load: {notebook: load.ipynb}\n"
    )
    with open_store(f"sqlite:///{root}/.dataops/dataops.db") as store:
        store.claim_scheduled_run("daily", "*", datetime(2026, 9, 3, 6, tzinfo=timezone.utc))
        scheduler = RecordingScheduler(root, store=store)
        scheduler.tick(datetime(2026, 9, 7, 5, tzinfo=timezone.utc))  # 4, 5, 6 Sept missed
        claims = store.list_scheduled_runs(pipeline="daily")
    expected = ["2026-09-03", "2026-09-04", "2026-09-05"]
    assert scheduler.launched == (expected if launched is None else launched)
    rows = sorted(claims, key=lambda c: c["scheduled_for"])[1:]
    assert [c["partition"] for c in rows] == expected
    not_run = [c for c in rows if c["reason"] and "missed" in c["reason"]]
    assert len(not_run) == 3 - len(scheduler.launched)
    assert json.dumps(rows)  # plain rows: what `dataops status --json` prints
