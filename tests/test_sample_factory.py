"""The sample factory's data and pipeline file: deterministic, with the faults where stated."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import polars as pl
import pytest

from jupyter_dataops.pipeline.definition.notebook import notebook_parameters
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.scheduling.schedules import schedules

SAMPLES = Path(__file__).resolve().parent.parent / "sample_notebooks"
RAW = SAMPLES / "data" / "raw"


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", SAMPLES / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_data = _make_data()


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _orders(day: str) -> pl.DataFrame:
    return pl.read_csv(RAW / f"orders_{day}.csv", schema_overrides={"customer_id": pl.String})


def test_the_generator_writes_the_same_bytes_twice_and_they_are_the_shipped_files(tmp_path):
    make_data.make(tmp_path / "a")
    make_data.make(tmp_path / "b")
    first = _digest(tmp_path / "a")
    assert first == _digest(tmp_path / "b")
    assert first == _digest(RAW)  # the shipped data is exactly what the script makes
    assert len(first) == 62  # 60 days, products.csv, landing_log.csv
    assert sum(p.stat().st_size for p in RAW.iterdir()) < 3_000_000


def test_sixty_days_with_a_weekly_pattern_and_day_to_day_noise():
    days = [d.isoformat() for d in make_data.days()]
    assert days[0] == "2026-09-01" and days[-1] == "2026-10-30" and len(days) == 60
    normal = [d for d in days if d not in make_data.FAULTS]
    counts = {d: _orders(d).height for d in normal}
    weekday = [n for d, n in counts.items() if dt.date.fromisoformat(d).weekday() < 5]
    weekend = [n for d, n in counts.items() if dt.date.fromisoformat(d).weekday() >= 5]
    assert 280 < sum(weekday) / len(weekday) < 360
    assert sum(weekend) / len(weekend) > 1.1 * sum(weekday) / len(weekday)
    assert len(set(weekday)) > len(weekday) // 2  # days differ


def _mean_rows_same_weekday(day: str) -> float:
    d = dt.date.fromisoformat(day)
    others = [d - dt.timedelta(days=7), d + dt.timedelta(days=7), d - dt.timedelta(days=14)]
    return sum(_orders(o.isoformat()).height for o in others) / len(others)


def test_the_faults_sit_on_their_days():
    faults = {day: kind for day, (kind, _) in make_data.FAULTS.items()}
    assert faults == {
        "2026-10-06": "half_empty",
        "2026-10-14": "duplicated_load",
        "2026-10-16": "weekend_volume",
        "2026-10-20": "basket_shift",
        "2026-10-21": "basket_shift",
        "2026-10-22": "basket_shift",
        "2026-10-27": "late_file",
    }
    # half-empty: about half a normal day, and the orders stop before the end of the day
    half = _orders("2026-10-06")
    assert 0.35 < half.height / _mean_rows_same_weekday("2026-10-06") < 0.65
    assert half["created_at"].max() < "2026-10-06T18:00:00"
    # duplicated load: every order exactly twice
    dup = _orders("2026-10-14")
    assert dup["order_id"].n_unique() * 2 == dup.height
    # basket shift: prices x1.25 on the three days, and only there
    catalogue = dict(
        pl.read_csv(RAW / "products.csv").select("product_id", "unit_price").iter_rows()
    )
    for day in [d.isoformat() for d in make_data.days()]:
        o = _orders(day)
        ratio = (o["unit_price"] / o["product_id"].replace_strict(catalogue)).mean()
        expected = 1.25 if faults.get(day) == "basket_shift" else 1.0
        assert ratio == pytest.approx(expected, abs=0.005), day
        if day not in faults:
            assert o["order_id"].n_unique() == o.height, day
    # late file: landed after the 06:00 run was due; every other file before it
    landing = pl.read_csv(RAW / "landing_log.csv", try_parse_dates=True)
    for file, landed in landing.iter_rows():
        day = dt.date.fromisoformat(file.removeprefix("orders_").removesuffix(".csv"))
        due = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, 0))
        assert (landed > due) == (faults.get(day.isoformat()) == "late_file"), file


def test_the_pipeline_file_promotes_four_daily_steps_in_order():
    pipeline = load_pipeline(SAMPLES / "dataops.yaml")
    assert pipeline.name == "shop"
    assert list(pipeline.steps) == ["ingest", "clean", "daily_metrics", "report"]
    # one schedule for the whole factory: a tick runs all four steps for yesterday
    assert pipeline.schedule == "0 6 * * *" and not any(s.schedule for s in pipeline.steps.values())
    assert schedules(pipeline)["*"].steps(pipeline) == list(pipeline.steps)
    parts = pipeline.partitions
    assert (parts.every, parts.parameter, parts.start, parts.offset) == (
        "day",
        "run_date",
        "2026-09-01",
        1,
    )
    assert pipeline.expect_by == "07:00"
    assert pipeline.steps["clean"].depends_on == ("ingest",)
    assert pipeline.steps["daily_metrics"].depends_on == ("clean",)
    assert pipeline.steps["report"].depends_on == ("daily_metrics",)
    for name in pipeline.steps:
        params = notebook_parameters(pipeline.notebook_path(name))
        assert set(params) == {"run_date"}, name


def _check_lines() -> dict[str, list[str]]:
    out = {}
    for nb_path in sorted(SAMPLES.glob("0[1-4]_*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        lines = []
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith("%%dataops_test"):
                body = cell.source.splitlines()[1:]
                lines += [ln.split("  #")[0].strip() for ln in body if ln.strip()]
        out[nb_path.name] = lines
    return out


def test_every_step_tests_its_data_with_a_wide_part_of_the_check_language():
    lines = _check_lines()
    assert all(lines.values()), lines  # each step notebook has %%dataops_test cells
    text = "\n".join(sum(lines.values(), []))
    metrics = set(re.findall(r"^(?:warn: |fail: )?(?:spc )?([a-z_]+)", text, re.M))
    assert {
        "columns",
        "schema",
        "row_count",
        "missing_count",
        "missing_percent",
        "duplicate_count",
        "invalid_count",
        "reference_missing_count",
        "failed_rows",
        "distinct_count",
        "min",
        "max",
        "avg",
        "median",
        "stddev",
        "percentile",
        "freshness",
        "sum",
    } <= metrics
    for rule in ("valid values", "valid regex", "valid length", "in products.product_id"):
        assert rule in text
    spc = [ln for ln in text.splitlines() if "spc " in ln]
    assert any("spc row_count" in ln for ln in spc)  # row counts
    assert any("spc sum(amount)" in ln for ln in spc)  # revenue
    assert any("spc missing_percent(customer_id): chart p" in ln for ln in spc)  # a null rate
    assert "warn:" in text and "fail:" in text


def test_the_report_displays_through_the_offline_bundle_not_altairs_renderer():
    nb = nbformat.read(SAMPLES / "04_report.ipynb", as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "import altair" in source and "spc.display_chart(chart)" in source
    assert "alt.renderers" not in source and ".show()" not in source
    assert json.dumps(nb.metadata.get("kernelspec", {})).count("python3") == 1


def test_no_step_records_one_metric_key_from_two_suites():
    """SPC reads a step's history by metric key: two suites of one step recording `row_count`
    would mix two series (a one-row frame's 1 with the day's orders)."""
    from jupyter_dataops.checks import parse_spec

    for nb_path in sorted(SAMPLES.glob("0[1-4]_*.ipynb")):
        owner: dict[str, str] = {}
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or not cell.source.startswith("%%dataops_test"):
                continue
            head, _, body = cell.source.partition("\n")
            suite = head.split("--name")[1].split()[0]
            for check in parse_spec(body).checks:
                key = check.metric_key
                if key is None:
                    continue
                assert owner.setdefault(key, suite) == suite, (nb_path.name, key)
