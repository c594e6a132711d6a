"""One formatter: the same observed value reads the same in `str()`, `dataops check`, the HTML
table, `to_dict()["observed_display"]`, `dataops show` and the history widget; not-judged spc
lines are never shown as a pass; failing-row samples say how many rows offend in all."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import builders
import polars as pl
import pytest
from rich.console import Console

from jupyter_dataops.checks import run_checks
from jupyter_dataops.checks.display import duration, format_value, unit_of
from jupyter_dataops.pipeline.views.report import run_detail
from jupyter_dataops.server.actions import observed_display as rest_observed_display
from jupyter_dataops.widgets._format import badge, check_counts, observed

AS_OF = "2026-11-01T00:00:00+00:00"
NEWEST = dt.datetime(2026, 10, 30, 23, 26)  # 1d 0h 34m before AS_OF


def dataops(*args: str, cwd: Path | None = None, columns: int = 200, env: dict | None = None):
    environ = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    environ.pop("DATAOPS_STORE_URL", None)
    return builders.dataops(*args, cwd=cwd, env=environ)


def frame(rows: int = 2000) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "x": [None] * 1234 + list(range(rows - 1234)),
            "y": [None] * 21 + list(range(rows - 21)),
            "amount": [12345.678] * rows,
            "ts": [NEWEST - dt.timedelta(days=i % 3) for i in range(rows)],
        }
    )


# unit, check line, the string every front door must show for its observed value
UNITS = [
    ("count", "missing_count(x) = 0", "1,234"),
    ("percent", "missing_percent(y) < 1%", "1.05%"),
    ("seconds", "freshness(ts) < 1h", "1d 0h 34m"),
    ("value", "avg(amount) < 100", "12,345.7"),
]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`dataops check` over every line of UNITS at once, on a parquet file."""
    tmp = tmp_path_factory.mktemp("fmt")
    data = tmp / "data.parquet"
    frame().write_parquet(data)
    spec = tmp / "units.checks"
    spec.write_text("\n".join(line for _, line, _ in UNITS) + "\n")
    return dataops("check", str(data), str(spec), "--as-of", AS_OF)


@pytest.mark.parametrize(("unit", "line", "shown"), UNITS, ids=[u for u, _, _ in UNITS])
def test_each_unit_reads_the_same_in_every_front_door(unit, line, shown, cli_run):
    result = run_checks(frame(), line, as_of=AS_OF)
    r = result.results[0]
    assert r.unit == unit and r.status == "fail"
    assert r.to_dict()["observed_display"] == shown
    assert shown in str(result)
    assert f">{shown}</td>" in result._repr_html_()
    assert cli_run.returncode == 1, cli_run.stderr
    assert shown in cli_run.stdout
    # the stored row (a number and the metric key) formats the same: `dataops show`, widgets
    stored = {**r.to_dict(), "observed": float(r.observed), "suite": "s"}
    assert unit_of(stored["metric"]) == unit
    assert format_value(stored["observed"], unit_of(stored["metric"])) == shown
    assert observed(stored) == shown
    assert rest_observed_display(stored) == shown  # GET runs/{id}: observed_display
    console = Console(width=200, record=True)
    console.print(run_detail(_run({"check_results": [stored]})))
    assert shown in console.export_text()


def _run(extra: dict) -> dict:
    return {
        "id": 1,
        "pipeline_run_id": 1,
        "pipeline": "p",
        "step": "s",
        "status": "success",
        "mode": "production",
        "attempt": 1,
        **extra,
    }


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (88440.0, "seconds", "1d 0h 34m"),
        (420, "seconds", "7m"),
        (450, "seconds", "7m 30s"),
        (86400, "seconds", "1d"),
        (42.5, "seconds", "42.5s"),
        (1.05, "percent", "1.05%"),
        (1234, "count", "1,234"),
        (1234.0, "count", "1,234"),
        (0.5, "value", "0.5"),
        (12345.678, "value", "12,345.7"),
        (1234567.0, "value", "1,234,567"),  # as the panel shows it, not 1.23457e+06
        (-1234567.891, "value", "-1,234,568"),
        (2.5e15, "value", "2.5e+15"),
        (3 * 10**15, "count", "3e+15"),
        (0.00001234, "value", "1.234e-05"),
        (None, "count", ""),
        (dt.date(2024, 1, 2), "value", "2024-01-02"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_unit_of_a_stored_metric_key():
    assert unit_of("missing_percent(email)") == "percent"
    assert unit_of("invalid_count(status): valid values [a, b]") == "count"
    assert unit_of("freshness(created_at)") == "seconds"
    assert unit_of("row_count") == "count"
    assert unit_of("n:missing_percent(x)") == "count"
    assert unit_of("avg(amount)") == "value"
    assert unit_of("no_such_metric(x)") == "value"
    assert unit_of(None) is None
    assert duration(-90) == "-1m 30s"


def test_thresholds_are_formatted_like_the_observed_value():
    res = run_checks(
        frame(),
        "freshness(ts) < 86400\nfreshness(ts) < 24h\nrow_count > 10_000\nmissing_percent(y) < 2%",
        as_of=AS_OF,
    )
    assert [r.threshold for r in res.results] == ["< 1d", "< 24h", "> 10,000", "< 2%"]
    assert res.results[0].message == "freshness(ts) is 1d 0h 34m, but it must be < 1d"


def test_a_failing_row_sample_says_how_many_rows_offend_in_all(tmp_path):
    df = pl.DataFrame({"x": [None] * 105 + list(range(895))})
    res = run_checks(df, "missing_count(x) = 0")
    r = res.results[0]
    assert r.failing_rows.height == 5 and r.failing_count == 105
    assert r.to_dict()["failing_count"] == 105
    assert "5 of 105 rows" in str(res) and "5 of 105 rows" in res._repr_html_()
    assert "offending row(s)" not in res._repr_html_()
    df.write_parquet(tmp_path / "d.parquet")
    (tmp_path / "s.checks").write_text("missing_count(x) = 0\n")
    proc = dataops("check", str(tmp_path / "d.parquet"), str(tmp_path / "s.checks"))
    assert "5 of 105 rows" in proc.stdout


def test_failing_rows_of_a_nan_condition_count_every_offending_row():
    df = pl.DataFrame({"a": [float("nan"), 1.0, 5.0, 6.0, 7.0, 8.0, 9.0], "b": [0.0] * 7})
    r = run_checks(df, "failed_rows(a > b) = 0").results[0]
    assert r.observed == 6 and r.failing_count == 6 and r.failing_rows.height == 5


# spc lines without enough history: not judged, never a pass ---------------------------------


def test_an_spc_line_without_history_is_not_judged_in_every_front_door(tmp_path):
    res = run_checks(frame(), "row_count > 0\nspc row_count")
    r = res.results[1]
    assert (
        r.status == "baseline" and r.message == "collecting baseline 0/20 (no production history)"
    )
    assert res.passed and res.counts["baseline"] == 1 and res.counts["pass"] == 1
    d = r.to_dict()
    assert d["status"] == "baseline"
    assert d["spc"] == {**builders.collecting_spc("i"), "window": "frozen"}
    text = str(res)
    assert "NOT JUDGED" in text and "collecting baseline 0/20" in text
    assert "1 not judged" in text.splitlines()[0]
    html = res._repr_html_()
    assert "NOT JUDGED" in html and "collecting baseline 0/20" in html
    assert html.count(">PASS<") == 1  # only row_count
    assert "not judged" in badge("baseline") and "not judged" in check_counts({"baseline": 1})
    frame().write_parquet(tmp_path / "d.parquet")
    (tmp_path / "s.checks").write_text("spc row_count\n")
    proc = dataops("check", str(tmp_path / "d.parquet"), str(tmp_path / "s.checks"))
    assert proc.returncode == 0, proc.stderr
    assert "not judged" in proc.stdout and "collecting baseline 0/20" in proc.stdout
    assert " pass " not in proc.stdout


def test_a_judged_spc_line_carries_its_chart_rules_and_limits():
    past = [2000.0 + (i % 5) for i in range(20)]
    hist = {"row_count": past}
    res = run_checks(frame(), "spc row_count: rules nelson", history=lambda k: hist.get(k, []))
    r = res.results[0]
    assert r.status == "pass", r.message
    spc = r.to_dict()["spc"]
    assert spc["judged"] and spc["broken"] == [] and spc["rules"] == "nelson"
    assert spc["lcl"] < spc["center"] < spc["ucl"]
    far = run_checks(frame(5000), "spc row_count", history=lambda k: hist.get(k, [])).results[0]
    assert far.status == "warn" and far.spc["judged"] and far.spc["broken"]
    assert far.observed > far.spc["ucl"]


def test_an_spc_verdict_and_a_stored_time_read_as_the_cli_shows_them():
    """Issue 25 item 7: no raw floats (34.193548387096776) in messages; one formatter."""
    from jupyter_dataops.checks.display import time_text

    frame = pl.DataFrame({"x": list(range(20_000))})
    history = [19_990.0, 20_010.0, 20_005.0, 19_995.0, 20_001.0]
    result = run_checks(frame, "spc row_count: baseline 5", history=lambda key: history)
    [line] = result.results
    assert line.status == "pass"
    assert line.message.startswith("row_count = 20,000 is in control (limits 19,9")
    assert not re.search(r"\d\.\d{7,}|\d{5}", line.message), line.message  # rounded, grouped
    assert time_text("2026-12-06T13:02:19.447392+00:00") == "2026-12-06 13:02:19 UTC"
    assert time_text(None) == ""
