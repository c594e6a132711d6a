"""A year of history through the chart route: 10,000 points of one metric on a real
jupyter_server, seeded in bulk by the store benchmark's seeder (real SQLite, real queries).

The answer stays under 1 MB with every point in its spec's data, its limits and violations are
``metric_chart``'s own, and paging with ``before`` returns the older window. No timing here: the
speed is measured side by side in ``benchmarks/chart_bench.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from builders import chart_rows

from jupyter_dataops.pipeline.views.charts import metric_chart
from jupyter_dataops.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from store_bench import seed_store  # noqa: E402

pytest_plugins = ["pytest_jupyter.jupyter_server"]

POINTS = 10_000
ONE_MB = 1_000_000


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


@pytest.fixture
def year(jp_root_dir):
    """A project whose step ``step0`` recorded ``row_count`` in 10,000 production runs."""
    root = Path(jp_root_dir)
    (root / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": "bench", "steps": {"step0": {"notebook": "step0.ipynb"}}})
    )
    (root / ".dataops").mkdir()
    url = f"sqlite:///{root / '.dataops' / 'dataops.db'}"
    seed_store(url, runs=POINTS, steps=1, checks_per_run=1, metrics_per_run=1)
    with open_store(url) as store:
        yield store


async def chart_answer(jp_fetch, **params) -> tuple[dict, int]:
    response = await jp_fetch(
        "dataops", "api", "metrics", params={"step": "step0", "metric": "row_count", **params}
    )
    return json.loads(response.body), len(response.body)


async def test_ten_thousand_points_answer_under_one_megabyte_with_the_charts_judgement(
    year, jp_fetch
):
    data, size = await chart_answer(jp_fetch, limit=0)
    assert size <= ONE_MB, f"{size:,} bytes"
    rows = chart_rows(data["spec"])
    assert len(rows) == POINTS and data["window"] == {
        "first": 0,
        "count": POINTS,
        "total": POINTS,
        "older": None,
        "newer": None,
    }
    expected = metric_chart(year, "step0", "row_count")
    assert [r["r"] for r in rows] == [p.step_run_id for p in expected.points]
    assert [r["x"] for r in rows] == list(range(1, POINTS + 1))
    assert data["limits"] == pytest.approx(expected.limits)
    assert data["violations"] == expected.violations and data["violations"]
    flagged = {p.step_run_id: p.rules[0] for p in expected.points if p.rules}
    assert {r["r"]: r["status"] for r in rows if r["status"] != "in control"} == flagged
    # the limits drawn are the chart's: one table entry and nothing per row, since a frozen
    # baseline's limits never move
    (lookup,) = [t for t in data["spec"]["transform"] if t.get("lookup") == "g"]
    assert {(r["c"], r["l"], r["u"]) for r in lookup["from"]["data"]["values"]} == {
        tuple(
            float(f"{v:.7g}")
            for v in (expected.limits["center"], expected.limits["lcl"], expected.limits["ucl"])
        )
    }
    assert "g" not in data["spec"]["data"]["values"][0]  # no column: all on entry 0


async def test_the_chart_opens_on_the_newest_window_and_pages_to_older_history(year, jp_fetch):
    newest, size = await chart_answer(jp_fetch)  # the panel's default window
    assert size < 30_000
    window = newest["window"]
    assert window == {
        "first": POINTS - 90,
        "count": 90,
        "total": POINTS,
        "older": POINTS - 90,
        "newer": None,
    }
    whole = metric_chart(year, "step0", "row_count")
    ids = [p.step_run_id for p in whole.points]
    assert [r["r"] for r in chart_rows(newest["spec"])] == ids[-90:]

    older, _ = await chart_answer(jp_fetch, before=window["older"])
    assert older["window"]["first"] == POINTS - 180 and older["window"]["newer"] == POINTS
    rows = chart_rows(older["spec"])
    assert [r["r"] for r in rows] == ids[-180:-90]
    assert [r["x"] for r in rows] == list(range(POINTS - 179, POINTS - 89))
    # limits from the whole judged baseline, not the window: the same on every page
    assert older["limits"] == pytest.approx(whole.limits)
    assert newest["limits"] == pytest.approx(whole.limits)

    oldest, _ = await chart_answer(jp_fetch, before=50, limit=90)
    assert oldest["window"] == {
        "first": 0,
        "count": 50,
        "total": POINTS,
        "older": None,
        "newer": 140,  # the 90 points after the oldest 50
    }
    assert [r["r"] for r in chart_rows(oldest["spec"])] == ids[:50]
