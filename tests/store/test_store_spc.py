"""An spc line's options and verdict stored beside its check row (migration 0004), and the
``baseline`` check status, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace

from builders import collecting_spc

from jupyter_dataops.store import CHECK_STATUSES


@dataclass
class SpcVerdict:
    chart: str
    rules: str | None
    baseline: int
    judged: bool
    broken: list[str]
    center: float | None
    lcl: float | None
    ucl: float | None


def line(n, status, spc=None, metric="row_count", observed=10.0):
    fields = dict(
        line=n,
        source=f"spc {metric}",
        status=status,
        observed=observed,
        threshold="",
        metric=metric,
        message="m",
    )
    if spc is not None:
        fields["spc"] = spc
    return SimpleNamespace(**fields)


def test_spc_options_and_verdict_are_stored_and_read_back(store):
    assert "baseline" in CHECK_STATUSES
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    judged = {
        "chart": "i",
        "rules": "nelson",
        "baseline": 5,
        "judged": True,
        "broken": ["N1", "N5"],
        "center": 10.0,
        "lcl": 7.0,
        "ucl": float("nan"),  # not a number JSON carries: stored as null
    }
    collecting = SpcVerdict("p", "qcc", 20, False, [], None, None, None)
    store.record_suite(
        sr,
        SimpleNamespace(
            name="q",
            metrics={"row_count": 10},
            results=[
                line(1, "fail", judged),
                line(2, "baseline", collecting, metric="missing_percent(email)"),
                line(3, "pass"),  # a plain line: no spc attribute at all
            ],
        ),
    )
    run = store.get_run(sr)
    assert run["checks"] == {"pass": 1, "warn": 0, "fail": 1, "error": 0, "baseline": 1}
    rows = run["check_results"]
    assert [r["status"] for r in rows] == ["fail", "baseline", "pass"]
    assert rows[0]["spc"] == {**judged, "ucl": None}
    assert rows[1]["spc"] == collecting_spc("p")
    assert rows[2]["spc"] is None
    json.dumps(run, allow_nan=False)
    (listed,) = store.list_runs("load")
    assert listed["checks"]["baseline"] == 1


def test_suite_dicts_with_spc_are_accepted(store):
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "load")
    spc = {"chart": "u", "rules": None, "baseline": 3, "judged": True, "broken": []}
    store.record_suite(
        sr,
        {
            "name": "q",
            "results": [{"line": 1, "status": "pass", "metric": "failed_rows", "spc": spc}],
        },
    )
    (row,) = store.get_run(sr)["check_results"]
    assert row["spc"] == spc
    assert row["status"] == "pass"


def test_an_unknown_check_status_is_still_stored_as_error(store):
    pr = store.create_pipeline_run("sales")
    sr = store.create_step_run(pr, "load")
    store.record_suite(sr, SimpleNamespace(name="q", metrics={}, results=[line(1, "weird")]))
    assert store.get_run(sr)["checks"]["error"] == 1


def _run(store, values, status="success", spc=None, mode="production"):
    pr = store.create_pipeline_run("sales", mode=mode)
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    store.record_suite(
        sr,
        SimpleNamespace(
            name="q",
            metrics=values,
            results=[line(1, "pass"), line(2, "pass", spc, metric="missing_percent(email)")],
        ),
    )
    store.finish_step_run(sr, status, error=None if status == "success" else "boom")
    return sr


def test_spc_verdicts_and_the_frozen_baseline(store):
    spc = {"chart": "p", "rules": "qcc", "baseline": 2, "judged": False, "broken": []}
    first = _run(store, {"missing_percent(email)": 1.0})  # before n was recorded
    failed = _run(store, {"missing_percent(email)": 9.0, "n:missing_percent(email)": 50}, "failed")
    a = _run(store, {"missing_percent(email)": 2.0, "n:missing_percent(email)": 100}, spc=spc)
    b = _run(store, {"missing_percent(email)": 3.0, "n:missing_percent(email)": 200}, spc=spc)
    c = _run(store, {"missing_percent(email)": 4.0, "n:missing_percent(email)": 300}, spc=spc)
    gate = _run(store, {"missing_percent(email)": 5.0}, mode="test", spc={**spc, "chart": "np"})

    assert store.metric_baseline("load", "missing_percent(email)", 2) == [
        {"step_run_id": first, "value": 1.0, "size": None},
        {"step_run_id": a, "value": 2.0, "size": None},
    ]
    sized = store.metric_baseline(
        "load", "missing_percent(email)", 5, size_key="n:missing_percent(email)"
    )
    assert [(p["step_run_id"], p["size"]) for p in sized] == [(a, 100.0), (b, 200.0), (c, 300.0)]
    assert failed not in {p["step_run_id"] for p in sized}

    verdicts = store.spc_verdicts("load", "missing_percent(email)")
    assert [v["step_run_id"] for v in verdicts] == [a, b, c, gate]  # plain lines are left out
    assert verdicts[0]["spc"] == spc and verdicts[0]["line"] == 2
    (latest,) = store.spc_verdicts("load", "missing_percent(email)", latest=True)
    assert latest["step_run_id"] == gate and latest["mode"] == "test"
    assert latest["spc"]["chart"] == "np"
    only = store.spc_verdicts("load", "missing_percent(email)", step_run_ids=[b])
    assert [v["step_run_id"] for v in only] == [b]
    assert store.spc_verdicts("nope", "missing_percent(email)") == []
