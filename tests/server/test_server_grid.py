"""The grid routes on a real jupyter_server: GET grid (partitions × steps) and "Re-run this day"
(POST partitions/{key}/run), which starts a real `dataops run --partition KEY` worker whose
papermill kernels run every step for that day."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import tornado.httpclient
import yaml
from builders import write_notebook

from jupyter_dataops.pipeline.definition.project import Project

pytest_plugins = ["pytest_jupyter.jupyter_server"]

PIPELINE = "pipeline: factory\npartitions: {every: day, parameter: run_date, start: 2026-09-01}\n"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


async def get_grid(jp_fetch, **params) -> dict:
    response = await jp_fetch("dataops", "api", "grid", params=params or None)
    return json.loads(response.body)


async def failing(jp_fetch, *parts: str, method: str = "GET", params=None) -> tuple[int, str]:
    kwargs = {"method": method, "params": params}
    if method == "POST":
        kwargs["body"] = "{}"
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


def seed(root: Path, partition: str, statuses: dict[str, str]) -> dict[str, int]:
    """Runs recorded through the store API, as `dataops run --partition` records them."""
    with Project(root).open_store() as store:
        pr = store.create_pipeline_run("factory", partition=partition)
        ids = {}
        for step, status in statuses.items():
            sr = store.create_step_run(pr, step)
            store.start_step_run(sr)
            store.finish_step_run(sr, status, error=None if status == "success" else "no file")
            ids[step] = sr
        store.finish_pipeline_run(pr)
    return ids


async def test_the_grid_pages_partitions_newest_first_with_a_cell_per_step(jp_fetch, jp_root_dir):
    root = Path(jp_root_dir)
    code, message = await failing(jp_fetch, "dataops", "api", "grid", params={"limit": "0"})
    assert code == 400 and "limit" in message
    empty = await get_grid(jp_fetch)
    assert empty["partitions"] == [] and "dataops.yaml" in empty["hint"]

    (root / "dataops.yaml").write_text(
        PIPELINE
        + "expect_by: '07:00'\n"
        + yaml.safe_dump(
            {
                "steps": {
                    "ingest": {"notebook": "ingest.ipynb"},
                    "report": {"notebook": "report.ipynb", "depends_on": ["ingest"]},
                }
            }
        )
    )
    first = seed(root, "2026-09-01", {"ingest": "success", "report": "success"})
    second = seed(root, "2026-09-02", {"ingest": "failed", "report": "skipped"})

    grid = await get_grid(jp_fetch, limit="2")
    assert grid["pipeline"] == "factory" and grid["every"] == "day"
    assert grid["steps"] == ["ingest", "report"]
    # every day from start to yesterday is a row, the days that never ran with empty cells
    assert grid["total"] >= 2 and grid["limit"] == 2
    rows = {r["partition"]: r for r in grid["partitions"]}
    assert len(rows) == 2 and all(r["cells"] == [None, None] for r in rows.values())
    older = await get_grid(jp_fetch, limit="500")
    rows = {r["partition"]: r for r in older["partitions"]}
    keys = [r["partition"] for r in older["partitions"]]
    assert keys == sorted(keys, reverse=True) and keys[-1] == "2026-09-01"
    assert [c["run_id"] for c in rows["2026-09-01"]["cells"]] == [first["ingest"], first["report"]]
    assert [c["status"] for c in rows["2026-09-02"]["cells"]] == ["failed", "skipped"]
    assert rows["2026-09-02"]["cells"][0]["run_id"] == second["ingest"]
    # expect_by 07:00: every past day not successful by 07:00 the next day is late
    assert rows["2026-09-01"]["late"] == [] and not rows["2026-09-01"]["cells"][0]["late"]
    assert rows["2026-09-02"]["late"] == ["ingest", "report"]
    assert all(c["late"] for c in rows["2026-09-02"]["cells"])
    assert rows[keys[1]]["late"] == ["ingest", "report"] and rows[keys[1]]["cells"] == [None, None]
    assert {r["every"] for r in older["partitions"]} == {"day"}

    # the pipeline goes hourly: the days that ran stay rows, marked as days, at their place
    (root / "dataops.yaml").write_text(
        (root / "dataops.yaml").read_text().replace("every: day", "every: hour", 1)
    )
    hourly = await get_grid(jp_fetch, limit="3")
    assert hourly["every"] == "hour" and {r["every"] for r in hourly["partitions"]} == {"hour"}
    tail = await get_grid(jp_fetch, limit="3", offset=str(hourly["total"] - 3))
    assert [r["partition"] for r in tail["partitions"]] == [
        "2026-09-01T01",
        "2026-09-01T00",
        "2026-09-01",
    ]
    day = tail["partitions"][-1]
    assert day["every"] == "day" and day["late"] == []
    assert [c["run_id"] for c in day["cells"]] == [first["ingest"], first["report"]]

    code, message = await failing(
        jp_fetch, "dataops", "api", "partitions", "2026-13-01", "run", method="POST"
    )
    assert code == 400 and "2026-13-01" in message
    code, message = await failing(
        jp_fetch, "dataops", "api", "partitions", "yesterday", "run", method="POST"
    )
    assert code == 400 and "yesterday" in message and "2026-09-01" in message

    (root / "dataops.yaml").write_text(
        "pipeline: factory\nsteps:\n  ingest: {notebook: ingest.ipynb}\n"
    )
    code, message = await failing(
        jp_fetch, "dataops", "api", "partitions", "2026-09-01", "run", method="POST"
    )
    assert code == 400 and "no `partitions:`" in message
    unpartitioned = await get_grid(jp_fetch)
    assert unpartitioned["every"] is None and "partitions:" in unpartitioned["hint"]


@pytest.mark.slow
async def test_rerun_this_day_runs_every_step_for_that_day_and_replaces_its_cells(
    jp_fetch, jp_root_dir
):
    root = Path(jp_root_dir)
    write_notebook(
        root / "ingest.ipynb",
        'run_date = "2000-01-01"',
        "%load_ext jupyter_dataops\nimport polars as pl\n"
        "orders = pl.DataFrame({'day': [run_date] * 12})",
        "%%dataops_test orders\nrow_count between 10 and 100\nmissing_count(day) = 0\n",
    )
    (root / "dataops.yaml").write_text(PIPELINE + "steps: {}\n")
    response = await jp_fetch(
        "dataops",
        "api",
        "promote",
        method="POST",
        body=json.dumps({"notebook": "ingest.ipynb", "step": "ingest"}),
        request_timeout=300,
    )
    assert json.loads(response.body)["promoted"] is True
    failed = seed(root, "2026-09-02", {"ingest": "failed"})

    response = await jp_fetch(
        "dataops", "api", "partitions", "2026-09-02", "run", method="POST", body="{}"
    )
    assert response.code == 202
    started = json.loads(response.body)
    assert started["partition"] == "2026-09-02"
    (step_run,) = started["step_runs"]
    assert step_run["step"] == "ingest" and step_run["step_run_id"] != failed["ingest"]

    run = {}
    for _ in range(240):
        run = json.loads(
            (await jp_fetch("dataops", "api", "runs", str(step_run["step_run_id"]))).body
        )
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.5)
    assert run["status"] == "success", run.get("error")
    assert run["partition"] == "2026-09-02" and run["parameters"]["run_date"] == "2026-09-02"
    assert run["checks"]["pass"] == 2

    grid = await get_grid(jp_fetch, limit="500")
    (row,) = [r for r in grid["partitions"] if r["partition"] == "2026-09-02"]
    (cell,) = row["cells"]
    assert cell["run_id"] == step_run["step_run_id"] and cell["status"] == "success"
    assert cell["checks"]["pass"] == 2
    with Project(root).open_store() as store:  # the replaced run stays in the record
        assert store.get_run(failed["ingest"])["status"] == "failed"
