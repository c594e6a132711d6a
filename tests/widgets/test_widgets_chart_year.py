"""A year of history opens at once: at 10,000 points the chart widget and ``%dataops_chart`` draw
a window (90 points by default) whose answer is small, and page to older points.

The store is seeded in bulk by the benchmarks' seeders (``store_bench.seed_store``: 10,000
production runs of ``step0``; ``chart_bench.seed_verdicts``: an spc line's stored verdict on each)
into a real SQLite file; the magic runs in a real IPython shell. Sizes here, not times: the speed
is measured side by side in ``benchmarks/chart_bench.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from builders import chart_rows
from IPython.core.interactiveshell import InteractiveShell

from jupyter_dataops.store import open_store
from jupyter_dataops.widgets.chart import MetricChartWidget

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from chart_bench import seed_verdicts  # noqa: E402
from store_bench import seed_store  # noqa: E402

POINTS = 10_000
VEGALITE = "application/vnd.vegalite.v5+json"


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """A project whose ``step0`` recorded ``row_count`` in 10,000 production runs, each judged
    by a stored spc verdict."""
    root = tmp_path_factory.mktemp("year")
    (root / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": "bench", "steps": {"step0": {"notebook": "step0.ipynb"}}})
    )
    (root / ".dataops").mkdir()
    url = f"sqlite:///{root / '.dataops' / 'dataops.db'}"
    seed_store(url, runs=POINTS, steps=1, checks_per_run=1, metrics_per_run=1)
    seed_verdicts(url, step="step0")
    return root


def drawn(widget: MetricChartWidget) -> tuple[list[dict], int]:
    """The widget's plotted rows and the size of what it sends to the page."""
    (output,) = widget.output.outputs
    return chart_rows(output["data"][VEGALITE]), len(json.dumps(output))


def test_the_widget_opens_on_a_small_window_of_a_year_and_pages_to_older_points(year):
    with open_store(year) as store:
        widget = MetricChartWidget(store, "step0", "row_count")
        rows, size = drawn(widget)
        total = widget.chart.window["total"]
        assert total == POINTS
        assert len(rows) == 90 and size < 30_000, f"{len(rows)} rows, {size:,} bytes"
        assert [r["x"] for r in rows] == list(range(POINTS - 89, POINTS + 1))
        assert widget.window_label.value == f"points {POINTS - 89:,}–{POINTS:,} of {POINTS:,}"
        assert widget.chart.judged and widget.chart.line == "spc row_count"
        newest = [r["r"] for r in rows]

        widget.older_button.click()
        older, size = drawn(widget)
        assert len(older) == 90 and size < 30_000
        assert [r["x"] for r in older] == list(range(POINTS - 179, POINTS - 89))
        assert max(r["r"] for r in older) < min(newest)
        assert not widget.newer_button.disabled


def test_the_chart_magic_opens_a_window_of_a_year_at_once(year, monkeypatch):
    for var in ("DATAOPS_STORE_URL", "DATAOPS_MODE", "DATAOPS_STEP_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(year)
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_dataops", store_history=False)
    try:
        res = shell.run_cell("%dataops_chart step0 row_count", store_history=False)
        assert res.error_in_exec is None
        rows, size = drawn(res.result)
        assert len(rows) == 90 and size < 30_000
        res = shell.run_cell("%dataops_chart step0 row_count --window 500", store_history=False)
        rows, size = drawn(res.result)
        assert len(rows) == 500 and size < 150_000, f"{size:,} bytes"
        assert res.result.chart.window["first"] == POINTS - 500
    finally:
        shell.run_cell("%unload_ext jupyter_dataops", store_history=False)
