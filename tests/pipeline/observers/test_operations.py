"""SPC on the factory itself: real production runs (papermill) record their operational metrics
with no line written, and a slow-down injected after a baseline is a ``warn``, an
``spc_signal`` alert at a real local webhook and the one flagged point of ``metric_chart``."""

from __future__ import annotations

import random
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import builders
import polars as pl
import pytest

from jupyter_dataops.pipeline.definition.spec import PipelineFileError, load_pipeline
from jupyter_dataops.pipeline.execution.runner import NullReporter, run_pipeline
from jupyter_dataops.pipeline.observers import operations
from jupyter_dataops.pipeline.views.charts import metric_chart
from jupyter_dataops.pipeline.views.report import verdict_lines
from jupyter_dataops.store import open_store

PARAMS = "sleep = 0.0\nrows = 3"
BODY = (
    "%load_ext jupyter_dataops\n"
    "import time\n"
    "import polars as pl\n"
    "time.sleep(sleep)\n"
    "frame = pl.DataFrame({'v': list(range(rows))})\n"
    "frame.write_csv('out.csv')"
)


def write_notebook(path: Path, *, checks: bool = False) -> None:
    cells = [BODY, "%%dataops_test frame\nrow_count = 3"] if checks else [BODY]
    builders.write_notebook(path, PARAMS, *cells)


def project(root: Path, step_yaml: str, *, alerts: str = "", checks: bool = False) -> Path:
    write_notebook(root / "work.ipynb", checks=checks)
    (root / "dataops.yaml").write_text(
        "pipeline: factory\n"
        + textwrap.dedent(alerts)
        + "steps:\n  work:\n    notebook: work.ipynb\n"
        + textwrap.indent(textwrap.dedent(step_yaml), "    ")
    )
    return root / "dataops.yaml"


@pytest.fixture
def hook():
    h = builders.Hook("/hook")
    yield h
    h.close()


def seed(store, pipeline: str, step: str, values: dict[str, list[float]]) -> list[int]:
    """Earlier successful production runs of a step with these op metrics (the real store API)."""
    store.upsert_pipeline(pipeline)
    store.upsert_step(pipeline, step, notebook="work.ipynb")
    n = len(next(iter(values.values())))
    ids = []
    for i in range(n):
        run = store.create_pipeline_run(pipeline, mode="production", trigger="manual")
        srid = store.create_step_run(run, step, promoted=False)
        store.start_step_run(srid)
        store.finish_step_run(srid, "success")
        store.finish_pipeline_run(run, "success")
        for key, series in values.items():
            store.record_metric(srid, key, series[i], suite=operations.SUITE)
        ids.append(srid)
    return ids


def ops_rows(store, srid: int) -> dict[str, dict]:
    run = store.get_run(srid)
    return {c["metric"]: c for c in run["check_results"] if c["suite"] == operations.SUITE}


def ops_metrics(store, srid: int) -> dict[str, float]:
    run = store.get_run(srid)
    return {m["metric"]: m["value"] for m in run["metrics"] if m["metric"].startswith("ops:")}


@pytest.mark.slow
def test_a_slow_down_after_a_20_run_baseline_is_a_warn_an_alert_and_the_flagged_point(
    tmp_path, hook
):
    path = project(
        tmp_path,
        "outputs: [out.csv]\n",
        alerts=f"alerts:\n  - webhook: {hook.url}\n    on: [spc_signal]\n",
    )
    pipeline = load_pipeline(path)
    with open_store(tmp_path) as store:
        # 1. a first real run, no history: every op metric recorded, none judged yet.
        first = run_pipeline(
            pipeline,
            store=store,
            reporter=NullReporter(),
            unpromoted=True,
        )
        assert first.ok
        srid0 = first.steps["work"].step_run_ids[-1]
        got = ops_metrics(store, srid0)
        assert set(got) >= {
            "ops:duration",
            "ops:notebook_bytes",
            "ops:output_rows:out.csv",
            "ops:output_bytes:out.csv",
            "ops:checks_failing",
        }
        assert "ops:queue_delay" not in got  # a manual run
        d0 = got["ops:duration"]
        assert 0 < d0 < 120
        assert got["ops:output_rows:out.csv"] == 3
        assert got["ops:output_bytes:out.csv"] == (tmp_path / "out.csv").stat().st_size
        assert got["ops:notebook_bytes"] == Path(first.steps["work"].notebook).stat().st_size
        rows = ops_rows(store, srid0)
        assert {r["status"] for r in rows.values()} == {"baseline"}
        assert rows["ops:duration"]["message"] == "collecting baseline 0/20"
        assert verdict_lines(store.get_run(srid0)) == []  # `dataops run` says nothing of them yet
        assert hook.bodies == []

        # 2. 20 earlier runs like it (seeded through the store), then a run 8 s slower.
        rng = random.Random(7)
        seed(
            store,
            "factory",
            "work",
            {"ops:duration": [d0 * rng.uniform(0.9, 1.1) for _ in range(20)]},
        )
        slow = run_pipeline(
            pipeline,
            params=["sleep=8"],
            store=store,
            reporter=NullReporter(),
            unpromoted=True,
        )
        assert slow.ok  # a signal warns, it never fails the run
        srid = slow.steps["work"].step_run_ids[-1]
        row = ops_rows(store, srid)["ops:duration"]
        assert row["status"] == "warn"
        assert row["spc"]["judged"] and "WE1" in row["spc"]["broken"]
        assert row["observed"] > row["spc"]["ucl"]
        assert row["observed"] >= 8
        counts = store.get_run(srid)
        assert counts["operations"]["warn"] >= 1 and counts["checks"]["warn"] == 0  # apart
        said = [line.plain for line in verdict_lines(store.get_run(srid))]
        assert any("warn: spc ops:duration" in line and "WE1" in line for line in said), said

        [body] = hook.bodies
        assert body["event"] == "spc_signal" and body["step_run_id"] == srid
        assert any(s.startswith("warn: spc ops:duration: WE1") for s in body["spc"]), body["spc"]

        chart = metric_chart(store, "work", "ops:duration", pipeline="factory")
        assert chart.judged and chart.baseline == 20 and chart.rules == "qcc"
        flagged = [p.step_run_id for p in chart.points if p.rules]
        assert flagged == [srid]
        assert chart.points[-1].step_run_id == srid and chart.points[-1].check_status == "warn"
        assert [v["step_run_id"] for v in chart.violations] == [srid]


@pytest.mark.slow
def test_configured_baseline_failing_checks_and_outputs_are_recorded_on_a_failed_run(tmp_path):
    path = project(
        tmp_path,
        "outputs: [out.csv, missing.parquet, warehouse.orders]\n"
        "operations: {baseline: 3, rules: nelson}\n",
        checks=True,
    )
    pipeline = load_pipeline(path)
    assert pipeline.steps["work"].operations == operations.OperationsOptions(True, 3, "nelson")
    with open_store(tmp_path) as store:
        seed(store, "factory", "work", {"ops:duration": [5.0, 6.0, 7.0]})
        result = run_pipeline(pipeline, params=["rows=5"], store=store, unpromoted=True)
        assert result.status == "failed" and result.steps["work"].reason == "checks"
        srid = result.steps["work"].step_run_ids[-1]
        got = ops_metrics(store, srid)
        assert got["ops:checks_failing"] == 1
        assert got["ops:output_rows:out.csv"] == 5
        assert got["ops:output_bytes:out.csv"] == (tmp_path / "out.csv").stat().st_size
        assert not any("missing.parquet" in k or "warehouse.orders" in k for k in got)
        rows = ops_rows(store, srid)
        duration = rows["ops:duration"]
        assert duration["spc"]["judged"] and duration["spc"]["baseline"] == 3
        assert duration["spc"]["rules"] == "nelson"
        assert rows["ops:notebook_bytes"]["message"] == "collecting baseline 0/3"


@pytest.mark.slow
def test_operations_off_records_nothing(tmp_path):
    pipeline = load_pipeline(project(tmp_path, "operations: off\n"))
    assert pipeline.steps["work"].operations.enabled is False
    with open_store(tmp_path) as store:
        result = run_pipeline(pipeline, store=store, unpromoted=True)
        assert result.ok
        srid = result.steps["work"].step_run_ids[-1]
        assert ops_metrics(store, srid) == {} and ops_rows(store, srid) == {}


def finished_run(store, pipeline: str = "factory", step: str = "work") -> int:
    run = store.create_pipeline_run(pipeline, mode="production", trigger="manual")
    srid = store.create_step_run(run, step, promoted=False)
    store.start_step_run(srid)
    store.finish_step_run(srid, "success")
    return srid


def test_a_judged_run_is_stored_so_the_chart_flags_it_and_only_it(store_url):
    with open_store(store_url) as store:
        rng = random.Random(3)
        seed(
            store, "factory", "work", {"ops:duration": [10 + rng.gauss(0, 0.5) for _ in range(20)]}
        )
        verdicts = {}
        for value in (10.2, 30.0, 9.9):
            srid = finished_run(store)
            metrics = {"ops:duration": value}
            rows = operations.judge(
                store, "work", srid, metrics, operations.OperationsOptions(), pipeline="factory"
            )
            store.record_suite(srid, {"name": "operations", "results": rows, "metrics": metrics})
            verdicts[srid] = rows[0]
        statuses = [(v["observed"], v["status"], v["spc"]["broken"]) for v in verdicts.values()]
        assert statuses == [(10.2, "pass", []), (30.0, "warn", ["WE1"]), (9.9, "pass", [])]
        chart = metric_chart(store, "work", "ops:duration", pipeline="factory")
        assert chart.judged and chart.line == "warn: spc ops:duration"
        slow = [srid for srid, v in verdicts.items() if v["status"] == "warn"]
        assert [p.step_run_id for p in chart.points if p.rules] == slow
        assert [p.check_status for p in chart.points[-3:]] == ["pass", "warn", "pass"]
        assert chart.points[-2].ucl == pytest.approx(verdicts[slow[0]]["spc"]["ucl"])


def judge_and_record(store, value: float, options=None, key: str = "ops:duration") -> dict:
    """One more finished production run of step work whose op metric ``key`` is ``value``."""
    srid = finished_run(store)
    metrics = {key: value}
    rows = operations.judge(
        store, "work", srid, metrics, options or operations.OperationsOptions(), pipeline="factory"
    )
    store.record_suite(srid, {"name": "operations", "results": rows, "metrics": metrics})
    return {"step_run_id": srid, **rows[0]}


def test_a_lasting_change_becomes_the_new_normal_instead_of_a_signal_on_every_run(store_url):
    """The baseline rolls: after a step's runs settle 40 % slower, a few runs warn, then the
    slower level is judged normal (a frozen baseline would warn on every run from then on)."""
    with open_store(store_url) as store:
        rng = random.Random(5)
        seed(
            store, "factory", "work", {"ops:duration": [10 + rng.gauss(0, 0.5) for _ in range(20)]}
        )
        after = [judge_and_record(store, 14 + rng.gauss(0, 0.5)) for _ in range(40)]
        warned = [r["status"] == "warn" for r in after]
        assert warned[0] and sum(warned) <= 15, warned  # while the window holds the old level
        assert not any(warned[-25:]), warned  # then the new level is the baseline
        assert {r["spc"]["window"] for r in after} == {"rolling"}
        frozen = [
            r
            for r in after
            if r["observed"] > after[0]["spc"]["ucl"]  # the first verdict's (frozen) limit
        ]
        assert len(frozen) == 40  # every run is beyond the limits the first 20 runs set
        chart = metric_chart(store, "work", "ops:duration", pipeline="factory")
        drawn = {p.step_run_id: p for p in chart.points}
        assert {i for i, p in drawn.items() if p.rules} == {
            r["step_run_id"] for r in after if r["status"] == "warn"
        }
        for r in after:  # each point drawn against the limits its verdict recorded
            assert drawn[r["step_run_id"]].ucl == pytest.approx(r["spc"]["ucl"])
            assert drawn[r["step_run_id"]].center == pytest.approx(r["spc"]["center"])


def test_a_faster_run_is_not_a_signal_but_a_slower_one_is(store_url):
    with open_store(store_url) as store:
        rng = random.Random(11)
        seed(
            store, "factory", "work", {"ops:duration": [10 + rng.gauss(0, 0.5) for _ in range(20)]}
        )
        fast = judge_and_record(store, 4.0)  # 60 % faster: beyond the limits, good news
        assert fast["status"] == "pass" and fast["observed"] < fast["spc"]["lcl"]
        assert "only a rise is a signal for ops:duration" in fast["message"]
        slow = judge_and_record(store, 16.0)
        assert slow["status"] == "warn" and slow["spc"]["broken"] == ["WE1"]
        key = "ops:output_rows:orders.csv"  # fewer rows than usual is news: both ways
        seed(store, "factory", "work", {key: [1000 + rng.randint(-5, 5) for _ in range(20)]})
        fewer = judge_and_record(store, 400, key=key)
        assert fewer["status"] == "warn" and "WE1" in fewer["spc"]["broken"]


def test_a_change_under_min_change_of_the_centre_is_not_a_signal(store_url):
    """Notebook sizes a few bytes apart: statistically out, practically the same notebook."""
    with open_store(store_url) as store:
        rng = random.Random(8)
        key = "ops:notebook_bytes"
        seed(store, "factory", "work", {key: [25288 + rng.randint(-3, 3) for _ in range(20)]})
        strict = judge_and_record(
            store, 25240, operations.OperationsOptions(min_change=0), key=key
        )  # 0.2 % smaller: beyond 3 sigma, a signal without the floor
        assert strict["status"] == "warn" and strict["spc"]["min_change"] == 0
        small = judge_and_record(store, 25240, key=key)
        assert small["status"] == "pass" and small["spc"]["broken"] == []
        assert small["observed"] < small["spc"]["lcl"]
        assert "under min_change 20%: not a signal" in small["message"]
        assert "WE1" in small["message"]
        big = judge_and_record(store, 31000, key=key)  # 23 % bigger
        assert big["status"] == "warn" and "WE1" in big["spc"]["broken"]
        assert operations.parse_options({"min_change": "5%"}).min_change == pytest.approx(0.05)
        assert operations.parse_options({"min_change": 0}).min_change == 0


def test_queue_delay_counts_from_the_tick_or_the_upstream_end_and_manual_runs_have_none(
    store_url,
):
    with open_store(store_url) as store:
        store.upsert_pipeline("factory")
        store.upsert_step("factory", "up")
        store.upsert_step("factory", "work")
        tick = datetime.now(timezone.utc) - timedelta(seconds=30)
        run = store.create_pipeline_run("factory", mode="production", trigger="schedule")
        for step in ("up", "work"):
            claim = store.claim_scheduled_run("factory", step, tick)
            store.start_scheduled_run(claim, run)
        up = store.create_step_run(run, "up", promoted=False)
        srid = store.create_step_run(run, "work", promoted=False)
        store.start_step_run(up)
        store.finish_step_run(up, "success")
        got = operations.collect(store, store.get_run(up), pipeline="factory")
        assert 29 <= got["ops:queue_delay"] < 60  # late against its tick
        store.start_step_run(srid)
        store.finish_step_run(srid, "success")
        got = operations.collect(store, store.get_run(srid), pipeline="factory")
        assert 29 <= got["ops:queue_delay"] < 60  # without its dependency: from the tick
        got = operations.collect(store, store.get_run(srid), pipeline="factory", depends_on=["up"])
        assert 0 <= got["ops:queue_delay"] < 5  # waited for `up`, not in a queue

        manual = store.create_pipeline_run("factory", mode="production", trigger="manual")
        srid = store.create_step_run(manual, "work", promoted=False)
        store.start_step_run(srid)
        store.finish_step_run(srid, "success")
        got = operations.collect(store, store.get_run(srid), pipeline="factory")
        assert "ops:queue_delay" not in got  # no schedule to be late against
        assert "ops:notebook_bytes" not in got  # no executed notebook: no size
        assert got["ops:checks_failing"] == 0 and got["ops:duration"] >= 0


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{baseline: 1}", "at least 2"),
        ("{rules: qccc}", "unknown run rule 'qccc'"),
        ("{chart: i}", "unknown option 'chart'"),
        ("sometimes", "expected `off` or a mapping"),
        ("{min_change: lots}", "min_change takes a share of the centre line"),
        ("{min_change: -5%}", "min_change takes a share of the centre line"),
    ],
)
def test_bad_operations_options_are_refused_with_file_step_and_key(tmp_path, value, words):
    path = project(tmp_path, f"operations: {value}\n")
    with pytest.raises(PipelineFileError) as err:
        load_pipeline(path)
    assert err.value.step == "work" and err.value.key == "operations"
    assert words in str(err.value) and "line" in str(err.value)


@pytest.mark.parametrize("value", ["off", "{baseline: 5}", "{rules: nelson}", "{min_change: 5%}"])
def test_promotion_rewriting_the_step_keeps_its_operations(tmp_path, value):
    from dataclasses import replace

    from jupyter_dataops.pipeline.definition.spec_writer import write_step

    path = project(tmp_path, f"operations: {value}  # how this step's own runs are judged\n")
    before = load_pipeline(path).steps["work"]
    write_step(path, replace(before, parameters={"rows": 4}))
    after = load_pipeline(path).steps["work"]
    assert after.operations == before.operations and after.parameters == {"rows": 4}


def test_outputs_are_measured_when_they_are_readable_files_and_their_key_fits(tmp_path):
    deep = Path(*["d" * 60] * 5) / "rows.parquet"  # a key over the store's 300 characters
    (tmp_path / deep).parent.mkdir(parents=True)
    for name in ("rows.parquet", str(deep)):
        pl.DataFrame({"v": range(7)}).write_parquet(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a table\n")
    with open_store(tmp_path) as store:
        store.upsert_pipeline("factory")
        store.upsert_step("factory", "work")
        srid = finished_run(store)
        got = operations.collect(
            store,
            store.get_run(srid),
            pipeline="factory",
            outputs=["rows.parquet", str(deep), "notes.txt", "db://warehouse/orders"],
            folders=[tmp_path],
        )
    assert got["ops:output_rows:rows.parquet"] == 7
    assert got["ops:output_bytes:rows.parquet"] == (tmp_path / "rows.parquet").stat().st_size
    assert got["ops:output_bytes:notes.txt"] == 12 and "ops:output_rows:notes.txt" not in got
    assert not [k for k in got if "dddd" in k or "warehouse" in k]
