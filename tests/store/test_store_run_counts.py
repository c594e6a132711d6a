"""A run's own check lines and the operations observer's implicit lines are counted apart
(issue 25 item 6): "○1 not judged" is the user's one spc line, not it and three hidden ones; and
the reference profile of a drift line says which run stored it (item 7)."""

from __future__ import annotations

from rich.console import Console

from jupyter_dataops.pipeline.observers.operations import SUITE as OPERATIONS
from jupyter_dataops.pipeline.views.report import run_detail, runs_table


def line(n: int, status: str, metric: str) -> dict:
    source = f"spc {metric}" if status == "baseline" else f"{metric} > 0"
    return {"line": n, "source": source, "status": status, "observed": 1.0, "metric": metric}


def test_a_runs_own_lines_and_the_operations_lines_are_counted_apart(store):
    run = store.create_pipeline_run("shop")
    srid = store.create_step_run(run, "orders")
    store.start_step_run(srid)
    store.record_suite(
        srid,
        {
            "name": "orders",
            "results": [line(1, "pass", "row_count"), line(2, "baseline", "avg(amount)")],
            "metrics": {},
        },
    )
    ops = [line(i, "baseline", key) for i, key in enumerate(("ops:a", "ops:b", "ops:c"), 1)]
    ops.append(line(4, "warn", "ops:duration"))
    store.record_suite(srid, {"name": OPERATIONS, "results": ops, "metrics": {}})
    store.finish_step_run(srid, "success")
    store.finish_pipeline_run(run)

    own = {"pass": 1, "warn": 0, "fail": 0, "error": 0, "baseline": 1}
    implicit = {"pass": 0, "warn": 1, "fail": 0, "error": 0, "baseline": 3}
    detail = store.get_run(srid)
    assert (detail["checks"], detail["operations"]) == (own, implicit)
    [listed] = store.list_runs()
    assert (listed["checks"], listed["operations"]) == (own, implicit)
    [step] = store.get_pipeline_run(run)["steps"]
    assert step["checks"] == own

    console = Console(width=200, record=True)
    console.print(runs_table([listed]))
    text = console.export_text()
    # the user's pass and not-judged line, then the operations warning apart; their three
    # lines still collecting a baseline are no news
    assert "✓1 ○1 ops ⚠1" in text and "○4" not in text

    console = Console(width=200, record=True)
    console.print(run_detail(detail))  # dataops show: each count on its own line
    shown: dict[str, list[str]] = {}
    for said in console.export_text().splitlines():  # the head's fields come first
        if said.strip():
            shown.setdefault(said.split()[0], said.split()[1:])
    assert shown["checks"] == ["✓1", "○1"] and shown["operations"] == ["⚠1", "○3"]


def test_the_last_profile_says_which_run_stored_it(store):
    """What a drift line's message names: the run its reference profile came from."""
    ids = []
    for n in (3, 4):
        run = store.create_pipeline_run("shop", parameters={"day": f"2026-09-0{n}"})
        srid = store.create_step_run(run, "orders", parameters={"day": f"2026-09-0{n}"})
        store.start_step_run(srid)
        profile = {"column": "amount", "type": "numeric", "n": n, "quantiles": [0.0, 1.0]}
        store.record_suite(
            srid, {"name": "orders", "results": [{**line(1, "pass", "x"), "profile": profile}]}
        )
        store.finish_step_run(srid, "success")
        ids.append(srid)
    found = store.last_profile("orders", "amount", with_run=True)
    assert found["step_run_id"] == ids[1] and found["profile"]["n"] == 4
    assert store.last_profile("orders", "amount", exclude_step_run=ids[1])["n"] == 3
    assert store.last_profile("orders", "nothing", with_run=True) is None
