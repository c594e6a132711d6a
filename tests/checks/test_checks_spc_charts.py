"""spc lines on p, np and u charts: sample sizes recorded beside the metric, aligned history,
shifted proportions and rates flagged at the new point, refusals that name the fitting metrics."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from jupyter_dataops.checks import parse_spec, run_checks
from jupyter_dataops.checks.spc_check import size_key
from jupyter_dataops.errors import DataOpsSyntaxError


def _hist(values):
    return lambda key: values.get(key, [])


def _frame(rows: int, missing: int) -> pl.DataFrame:
    return pl.DataFrame({"x": [None] * missing + list(range(rows - missing))})


def _p_history(runs: int = 25, seed: int = 1):
    """Past missing_percent(x) values near 5% with varying row counts, and those row counts."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(800, 1200, runs)
    missing = rng.binomial(sizes, 0.05)
    return [100.0 * m / n for m, n in zip(missing, sizes, strict=True)], [float(n) for n in sizes]


def test_p_chart_lines_parse_and_fit_percent_metrics():
    suite = parse_spec(
        "spc missing_percent(x): chart p\n"
        "fail: spc duplicate_percent(x): chart np, baseline 10\n"
        "spc invalid_percent(s): valid values [a, b]: chart p, rules nelson\n"
        "spc missing_count(x): chart u"
    )
    assert [c.spc.chart for c in suite.checks] == ["p", "np", "p", "u"]
    assert suite.checks[2].spc.rules == "nelson" and suite.checks[1].spc.baseline == 10


def test_p_chart_records_the_sample_size_beside_the_metric():
    res = run_checks(_frame(1000, 50), "spc missing_percent(x): chart p")
    assert res.metrics == {"missing_percent(x)": 5.0, size_key("missing_percent(x)"): 1000.0}
    plain = run_checks(_frame(1000, 50), "spc missing_percent(x)")
    assert list(plain.metrics) == ["missing_percent(x)"]


def test_invalid_percent_sample_size_is_the_non_missing_rows():
    df = pl.DataFrame({"s": ["a"] * 70 + ["zz"] * 10 + [None] * 20})
    res = run_checks(df, "spc invalid_percent(s): valid values [a]: chart p")
    key = "invalid_percent(s): valid values [a]"
    assert res.metrics[key] == pytest.approx(12.5) and res.metrics[size_key(key)] == 80.0


def test_p_chart_flags_a_shifted_proportion_at_the_new_point():
    values, sizes = _p_history()
    hist = _hist({"missing_percent(x)": values, "n:missing_percent(x)": sizes})
    ok = run_checks(_frame(1000, 52), "spc missing_percent(x): chart p", history=hist).results[0]
    assert ok.status == "pass" and "in control" in ok.message and "of n 1000" in ok.message
    bad = run_checks(
        _frame(1000, 110), "fail: spc missing_percent(x): chart p", history=hist
    ).results[0]
    assert bad.status == "fail" and "beyond the control limits" in bad.message
    assert "proportion 0.11 of n 1000" in bad.message


def test_np_chart_judges_the_count_of_defectives():
    values, sizes = _p_history()
    hist = _hist({"missing_percent(x)": values, "n:missing_percent(x)": sizes})
    ok = run_checks(_frame(1000, 48), "spc missing_percent(x): chart np", history=hist).results[0]
    bad = run_checks(_frame(1000, 5), "spc missing_percent(x): chart np", history=hist).results[0]
    assert ok.status == "pass" and "count 48 of n 1000" in ok.message
    assert bad.status == "warn" and "beyond the control limits" in bad.message


def test_u_chart_judges_defects_per_row():
    rng = np.random.default_rng(3)
    sizes = [float(n) for n in rng.integers(500, 1500, 25)]
    counts = [float(rng.poisson(0.02 * n)) for n in sizes]
    hist = _hist({"missing_count(x)": counts, "n:missing_count(x)": sizes})
    ok = run_checks(_frame(2000, 41), "spc missing_count(x): chart u", history=hist)
    assert ok.results[0].status == "pass", ok.results[0].message
    assert ok.metrics == {"missing_count(x)": 41.0, "n:missing_count(x)": 2000.0}
    # 41 defects are in control on 2000 rows but far too many on 500 rows
    bad = run_checks(_frame(500, 41), "spc missing_count(x): chart u", history=hist).results[0]
    assert bad.status == "warn" and "per row 0.082 of n 500" in bad.message


def test_history_from_before_sizes_were_kept_aligns_on_the_recent_runs():
    values, sizes = _p_history(30)
    old = [50.0] * 10  # runs recorded before n was kept: wild values that must not count
    hist = _hist({"missing_percent(x)": old + values, "n:missing_percent(x)": sizes})
    r = run_checks(_frame(1000, 52), "spc missing_percent(x): chart p", history=hist).results[0]
    defectives = sum(v / 100 * n for v, n in zip(values[:20], sizes[:20], strict=True))
    centre = float(re.search(r"centre ([0-9.]+)", r.message).group(1))
    assert r.status == "pass" and centre == pytest.approx(defectives / sum(sizes[:20]), rel=1e-5)
    short = _hist({"missing_percent(x)": old + values[:7], "n:missing_percent(x)": sizes[:7]})
    r = run_checks(_frame(1000, 52), "spc missing_percent(x): chart p", history=short).results[0]
    assert r.status == "baseline" and r.message == "collecting baseline 7/20 runs with sample sizes"


def test_empty_frame_is_an_error_but_keeps_both_histories_aligned():
    res = run_checks(_frame(0, 0), "spc missing_count(x): chart u", history=_hist({}))
    assert res.results[0].status == "error" and "sample size" in res.results[0].message
    # the count is recorded, so n is too (a later chart skips the n = 0 run)
    assert res.metrics == {"missing_count(x)": 0.0, "n:missing_count(x)": 0.0}


@pytest.mark.parametrize(
    ("text", "column", "needle"),
    [
        ("spc avg(x): chart p", 19, "missing_percent, duplicate_percent, invalid_percent"),
        ("spc missing_count(x): chart np", 29, "takes missing_percent"),
        ("spc missing_percent(x): chart u", 31, "missing_count, duplicate_count, invalid_count"),
        ("spc row_count: chart u, baseline 5", 22, "not row_count"),
        ("spc avg(x): chart s", 19, "subgroups"),
        ("spc avg(x): chart r", 19, "p or np (percent metrics), u (count metrics)"),
    ],
)
def test_charts_that_do_not_fit_the_metric_are_refused_where_they_are_named(text, column, needle):
    with pytest.raises(DataOpsSyntaxError) as info:
        parse_spec(text)
    e = info.value
    assert e.line == 1 and e.column == column, str(e)
    assert needle in e.message


def test_p_chart_history_round_trips_through_a_real_store(tmp_path):
    """Runs recorded before the line kept n (chart i) leave value-only points; after the switch
    to chart p the baseline counts only runs with both, then a shifted proportion is flagged."""
    from jupyter_dataops.store import open_store

    rng = np.random.default_rng(7)
    with open_store(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        store.upsert_step("sales", "load")

        def production(text: str, frame: pl.DataFrame):
            pr = store.create_pipeline_run("sales", mode="production")
            sr = store.create_step_run(pr, "load")
            store.start_step_run(sr)

            def history(key):
                return store.metric_history("load", key, pipeline="sales")

            res = run_checks(frame, text, history=history)
            store.record_suite(sr, res)
            store.finish_step_run(sr, "success")
            return res.results[0]

        for _ in range(3):  # before the change: no sample sizes kept
            production("spc missing_percent(x)", _frame(1000, 50))
        for k in range(6):
            rows = int(rng.integers(800, 1200))
            r = production("spc missing_percent(x): chart p, baseline 6", _frame(rows, rows // 20))
            assert r.message == f"collecting baseline {k}/6 runs with sample sizes"
        assert len(store.metric_history("load", "missing_percent(x)")) == 9
        assert len(store.metric_history("load", "n:missing_percent(x)")) == 6
        r = production("spc missing_percent(x): chart p, baseline 6", _frame(1000, 130))
        assert r.status == "warn" and "beyond the control limits" in r.message
