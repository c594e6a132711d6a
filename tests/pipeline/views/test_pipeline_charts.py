"""One judgement, one picture: the widget's and the REST answer's chart of an spc metric flag
exactly the points the check flagged.

Every run is real: ``run_checks`` on a polars frame judges an ``spc`` line against the real
history in the run store (a real SQLite file, or a real PostgreSQL via DATAOPS_TEST_PG_URL), and
``record_suite`` stores the result under a production step run. The REST answer comes from a real
jupyter_server with the extension loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from builders import chart_rows

from jupyter_dataops import run_checks
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.views.charts import metric_chart
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url as make_store_url
from jupyter_dataops.widgets.chart import MetricChartWidget

pytest_plugins = ["pytest_jupyter.jupyter_server"]

PIPELINE, STEP = "shop", "orders"
SPEC = (
    "spc avg(amount): rules nelson, baseline 5\n"
    "spc missing_percent(email): chart p, baseline 5\n"
    "row_count > 0\n"
)
I_KEY, P_KEY = "avg(amount)", "missing_percent(email)"
# (mean amount, rows, missing emails, final run status)
RUNS = [
    (10.0, 100, 2, "success"),
    (10.3, 120, 3, "success"),
    (30.0, 90, 40, "failed"),  # a failed run: never part of the baseline, still charted
    (9.8, 110, 1, "success"),
    (10.1, 100, 2, "success"),
    (9.9, 130, 3, "success"),  # fifth success: the baseline is complete after this run
    (10.2, 100, 2, "success"),
    (13.5, 80, 12, "success"),  # far out: N1 on the I line, beyond the p limits of its n
    (10.45, 100, 2, "failed"),
    (10.5, 200, 4, "success"),
    (10.45, 100, 1, "success"),
    (10.6, 150, 3, "success"),
    (10.5, 100, 2, "success"),
    (10.55, 60, 9, "success"),
    (10.4, 100, 2, "success"),
    (10.5, 100, 2, "success"),
    (10.6, 100, 3, "success"),
    (10.45, 100, 2, "success"),
]


def record_run(store, *suites, status: str = "success") -> int:
    """One finished production run of STEP holding ``suites``; its step run id."""
    prid = store.create_pipeline_run(PIPELINE)
    srid = store.create_step_run(prid, STEP)
    store.start_step_run(srid)
    for suite in suites:
        store.record_suite(srid, suite)
    store.finish_step_run(srid, status, error=None if status == "success" else "bad")
    store.finish_pipeline_run(prid)
    return srid


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path, monkeypatch):
    with make_store_url(request.param, tmp_path) as url:
        monkeypatch.setenv("DATAOPS_STORE_URL", url)
        yield url


@pytest.fixture
def recorded(store_url):
    """Run the suite on every run of RUNS, judged against the store's real history."""
    with open_store(store_url) as store:
        store.upsert_step(PIPELINE, STEP, notebook="orders.ipynb")
        for mean, rows, missing, status in RUNS:
            frame = pl.DataFrame(
                {"amount": [mean] * rows, "email": [None] * missing + ["a@b"] * (rows - missing)}
            )
            suite = run_checks(
                frame,
                SPEC,
                name="quality",
                history=lambda key: store.metric_history(STEP, key, pipeline=PIPELINE),
            )
            record_run(store, suite, status=status)
        yield store


def check_verdicts(store, key: str) -> dict[int, dict]:
    """Step run id -> the spc check row on ``key``, read back from each run (as the panel's run
    detail shows it)."""
    out = {}
    for run in store.list_runs(STEP, limit=None):
        (row,) = [c for c in store.get_run(run["id"])["check_results"] if c["metric"] == key]
        out[run["id"]] = row
    return out


def flagged_by_check(verdicts: dict[int, dict]) -> set[tuple[int, str]]:
    return {(srid, rule) for srid, row in verdicts.items() for rule in row["spc"]["broken"]}


def drawn_off_colour(spec: dict) -> set[str]:
    """The runs the picture colours as breaking a rule (not "in control")."""
    return {f"#{row['r']}" for row in chart_rows(spec) if row["status"] != "in control"}


@pytest.mark.parametrize(("key", "chart", "rules"), [(I_KEY, "i", "nelson"), (P_KEY, "p", "qcc")])
def test_the_widget_flags_exactly_what_the_check_flagged(recorded, key, chart, rules):
    verdicts = check_verdicts(recorded, key)
    expected = flagged_by_check(verdicts)
    statuses = {row["status"] for row in verdicts.values()}
    assert expected and {"baseline", "pass"} <= statuses  # the series has all three stories

    widget = MetricChartWidget(recorded, STEP, key, pipeline=PIPELINE)
    assert (widget.chart.chart, widget.chart.rules, widget.chart.baseline) == (chart, rules, 5)
    drawn = {
        (widget.point_run(i)["step_run_id"], rule)
        for rule, indices in widget.broken.items()
        for i in indices
    }
    assert drawn == expected
    spec = widget.output.outputs[0]["data"]["application/vnd.vegalite.v5+json"]
    assert drawn_off_colour(spec) == {f"#{srid}" for srid, _ in expected}
    for srid, rule in expected:
        item = widget.rules_list.value.split(f'data-rule="{rule}">')[1].split("</li>")[0]
        assert f"run #{srid} (" in item
    assert f"rules {rules}" in widget.title.value or chart != "i"

    # the limits are the check's own: every judged run's stored centre and limits match
    points = {p["step_run_id"]: p for p in widget.series}
    judged = [(srid, row["spc"]) for srid, row in verdicts.items() if row["spc"]["judged"]]
    assert len(judged) == len(RUNS) - 6
    for srid, spc in judged:
        for field in ("center", "lcl", "ucl"):
            assert points[srid][field] == pytest.approx(spc[field]), (srid, field)
        assert points[srid]["check_status"] == verdicts[srid]["status"]
    assert len(widget.series) == len(RUNS)  # failed runs are charted too
    assert sum(p["baseline"] for p in widget.series) == 5
    assert not any(p["baseline"] for p in widget.series if p["status"] == "failed")


def test_p_line_is_drawn_as_a_p_chart_with_limits_stepping_with_n(recorded):
    chart = metric_chart(recorded, STEP, P_KEY, pipeline=PIPELINE)
    assert chart.title.startswith("p chart")
    by_n = {}
    for p in chart.points:
        assert p.statistic == pytest.approx(round(p.value / 100 * p.size) / p.size)
        by_n.setdefault(p.size, set()).add(round(p.ucl, 12))
    assert all(len(ucls) == 1 for ucls in by_n.values())  # one UCL per sample size ...
    assert len({next(iter(u)) for u in by_n.values()}) == len(by_n) > 1  # ... and they differ
    assert chart.mimebundle()["application/vnd.vegalite.v5+json"]["title"].startswith("p chart")


def test_a_metric_no_spc_line_watches_says_so(recorded):
    chart = metric_chart(recorded, STEP, "row_count", pipeline=PIPELINE)
    assert (chart.chart, chart.rules, chart.line) == ("i", "qcc", None)
    assert chart.note.startswith("No spc line watches row_count") and chart.judged
    assert chart.baseline == sum(1 for *_, status in RUNS if status == "success")
    json.dumps(chart.to_dict(), allow_nan=False)


def test_a_line_still_collecting_its_baseline_draws_no_limits_and_flags_nothing(store_url):
    with open_store(store_url) as store:
        for mean in (10.0, 50.0, 10.2):
            suite = run_checks(
                pl.DataFrame({"amount": [mean] * 3}),
                "spc avg(amount): baseline 8",
                history=lambda key: store.metric_history(STEP, key, pipeline=PIPELINE),
            )
            record_run(store, suite)
        chart = metric_chart(store, STEP, I_KEY, pipeline=PIPELINE)
        assert not chart.judged and chart.collected == 3 and chart.baseline == 8
        assert chart.violations == [] and chart.limits == {"center": None, "lcl": None, "ucl": None}
        assert {p.check_status for p in chart.points} == {"baseline"}
        assert "collecting baseline 3/8" in chart.title
        widget = MetricChartWidget(store, STEP, I_KEY, pipeline=PIPELINE)
        assert "not judged: collecting baseline 3/8" in widget.message.value
        assert "nothing judged yet" in widget.rules_list.value
        with pytest.raises(DataOpsError, match="last must be at least 1"):
            metric_chart(store, STEP, I_KEY, last=0)


def test_a_rolling_line_adapts_to_a_lasting_change_and_its_chart_shows_its_own_limits(store_url):
    """``baseline 8 rolling``: after the level moves from 10 to 13 for good, a few runs are
    flagged, then the new level is normal; each point is drawn against the limits its verdict
    recorded. The same series under a frozen baseline flags every run after the move."""
    levels = [10.0, 10.3, 9.8, 10.1, 9.9, 10.2, 10.05, 9.95] + [
        13.0 + 0.1 * ((i * 7) % 5 - 2) for i in range(24)
    ]
    verdicts = {}
    with open_store(store_url) as store:
        for mean in levels:
            suite = run_checks(
                pl.DataFrame({"amount": [mean] * 3}),
                "spc avg(amount): baseline 8 rolling",
                name="quality",
                history=lambda key: store.metric_history(STEP, key, pipeline=PIPELINE),
            )
            verdicts[record_run(store, suite)] = suite.results[0]
        flagged = [r.status == "warn" for r in verdicts.values()]
        assert flagged[8] and 1 <= sum(flagged) <= 8 and not any(flagged[-12:]), flagged
        frozen = run_checks(
            pl.DataFrame({"amount": [levels[-1]] * 3}),
            "spc avg(amount): baseline 8",
            history=lambda key: store.metric_history(STEP, key, pipeline=PIPELINE),
        )
        assert frozen.results[0].status == "warn"  # the first 8 runs' limits: still out
        chart = metric_chart(store, STEP, I_KEY, pipeline=PIPELINE)
        assert chart.line == "spc avg(amount): baseline 8 rolling"
        stored = {
            r["step_run_id"]: r["spc"] for r in store.spc_verdicts(STEP, I_KEY, pipeline=PIPELINE)
        }
        assert {v["window"] for v in stored.values()} == {"rolling"}
        judged = [p for p in chart.points if stored[p.step_run_id]["judged"]]
        assert len(judged) == len(levels) - 8
        for p in judged:
            assert p.ucl == pytest.approx(stored[p.step_run_id]["ucl"])
            assert p.center == pytest.approx(stored[p.step_run_id]["center"])
            assert p.rules == stored[p.step_run_id]["broken"]
        assert len({round(p.ucl, 6) for p in judged}) > 5  # the limits move with the window


def test_two_suites_recording_one_metric_chart_only_the_judging_suite(store_url):
    """A step whose "raw" suite also records avg(amount) (in cents, never judged): the chart of
    the "quality" suite's spc line draws that suite's values and flags what its check flagged."""
    with open_store(store_url) as store:
        for mean, _rows, _missing, status in RUNS:
            suites = [
                run_checks(
                    pl.DataFrame({"amount": [mean * scale] * 4}),
                    spec,
                    name=name,
                    history=lambda key, name=name: store.metric_history(
                        STEP, key, pipeline=PIPELINE, suite=name
                    ),
                )
                for name, spec, scale in (
                    ("raw", "avg(amount) > 0", 100.0),
                    ("quality", "spc avg(amount): rules nelson, baseline 5", 1.0),
                )
            ]
            record_run(store, *suites, status=status)
        chart = metric_chart(store, STEP, I_KEY, pipeline=PIPELINE)
        assert [p.value for p in chart.points] == pytest.approx([r[0] for r in RUNS])
        assert {p.suite for p in chart.points} == {"quality"}
        good = [r[0] for r in RUNS if r[3] == "success"][:5]
        assert chart.limits["center"] == pytest.approx(sum(good) / 5)
        verdicts = {
            r["step_run_id"]: r
            for r in store.spc_verdicts(STEP, I_KEY, pipeline=PIPELINE, suite="quality")
        }
        expected = flagged_by_check(verdicts)
        assert expected  # the 13.5 run breaks N1
        assert {(p.step_run_id, rule) for p in chart.points for rule in p.rules} == expected
        raw = metric_chart(store, STEP, I_KEY, pipeline=PIPELINE, suite="raw")
        assert [p.value for p in raw.points] == pytest.approx([r[0] * 100 for r in RUNS])


# -- the REST answer ---------------------------------------------------------------------------


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}}}


@pytest.mark.parametrize("key", [I_KEY, P_KEY])
async def test_the_rest_answer_flags_exactly_what_the_check_flagged(
    recorded, key, jp_fetch, jp_root_dir
):
    (Path(jp_root_dir) / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": PIPELINE, "steps": {STEP: {"notebook": "orders.ipynb"}}})
    )
    expected = flagged_by_check(check_verdicts(recorded, key))
    response = await jp_fetch("dataops", "api", "metrics", params={"step": STEP, "metric": key})
    data = json.loads(response.body)
    assert {(v["step_run_id"], v["rule"]) for v in data["violations"]} == expected
    assert data["window"] == {
        "first": 0,
        "count": len(RUNS),
        "total": len(RUNS),
        "older": None,
        "newer": None,
    }
    assert drawn_off_colour(data["spec"]) == {f"#{srid}" for srid, _ in expected}
    assert data["chart"] == ("i" if key == I_KEY else "p") and data["judged"] is True
    assert data["line"].startswith(f"spc {key}")
