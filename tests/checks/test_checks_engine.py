"""The planned engine: every input type, every issue line's status, the planner's cheap forms,
errors that never pass, results and their views, and spc lines."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from test_language import ISSUE_LINES

from jupyter_dataops.checks import CATALOGUE, Metric, parse_spec, register, run_checks
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks import planner as planner_mod
from jupyter_dataops.checks.engines import polars as polars_engine

AS_OF = "2024-03-31T06:00:00+00:00"


def orders(n: int = 2000, seed: int = 0) -> pl.DataFrame:
    """An orders table on which every line of the issue passes (except the warn on size)."""
    rng = np.random.default_rng(seed)
    created = (
        dt.datetime(2024, 3, 30, 12)
        - pl.Series(rng.integers(0, 80 * 86400, n)).cast(pl.Duration("us")) * 1_000_000
    )
    return pl.DataFrame(
        {
            "order_id": rng.permutation(n) + 1,
            "line_no": np.ones(n, dtype=np.int64),
            "customer_id": rng.integers(1, 500, n),
            "status": np.array(["new", "shipped", "returned"])[np.arange(n) % 3],
            "email": [f"user{i}@example.com" for i in range(n)],
            "amount": np.round(rng.uniform(20, 80, n), 2),
            "code": ["ABCD"] * n,
            "created_at": created,
        }
    ).with_columns(
        created_at=pl.col("created_at").cast(pl.Datetime("us")),
        shipped_at=pl.col("created_at") + pl.duration(hours=2),
        order_id=pl.col("order_id").cast(pl.Int64),
    )


CUSTOMERS = pl.DataFrame({"customer_id": np.arange(1, 600)})
# distinct_count(status) = 5 needs five statuses; the other lines need those three to be valid
ISSUE_TEXT = ISSUE_LINES.replace("distinct_count(status) = 5", "distinct_count(status) = 3")


def run(df, text=ISSUE_TEXT, **kw):
    kw.setdefault("namespace", {"customers": CUSTOMERS})
    kw.setdefault("as_of", AS_OF)
    return run_checks(df, text, **kw)


def statuses(result):
    return {r.line: r.status for r in result.results}


def test_good_data_passes_every_issue_line_and_warns_on_size():
    res = run(orders())
    st = statuses(res)
    assert st.pop(26) == "warn"  # warn: row_count > 10000 on 2000 rows
    assert set(st.values()) == {"pass"}, [r for r in res.results if r.status != "pass"]
    assert res.passed


BREAKS = {
    1: lambda d: d.head(500),
    2: lambda d: d.clear(),
    3: lambda d: d.with_columns(
        customer_id=pl.when(pl.col("order_id") == 7).then(None).otherwise(pl.col("customer_id"))
    ),
    4: lambda d: d.with_columns(
        customer_id=pl.when(pl.col("order_id") <= 60).then(None).otherwise(pl.col("customer_id"))
    ),
    5: lambda d: d.with_columns(
        order_id=pl.when(pl.col("order_id") == 2).then(1).otherwise(pl.col("order_id"))
    ),
    6: lambda d: d.with_columns(
        order_id=pl.when(pl.col("order_id") == 2).then(1).otherwise(pl.col("order_id"))
    ),
    7: lambda d: d.with_columns(
        email=pl.when(pl.col("order_id") <= 30)
        .then(pl.lit("same@example.com"))
        .otherwise(pl.col("email"))
    ),
    8: lambda d: d.with_columns(
        status=pl.when(pl.col("order_id") == 3).then(pl.lit("lost")).otherwise(pl.col("status"))
    ),
    9: lambda d: d.with_columns(
        amount=pl.when(pl.col("order_id") == 3).then(-1.0).otherwise(pl.col("amount"))
    ),
    10: lambda d: d.with_columns(
        amount=pl.when(pl.col("order_id") == 3).then(10_001.0).otherwise(pl.col("amount"))
    ),
    11: lambda d: d.with_columns(amount=pl.col("amount") + 100),
    12: lambda d: d.with_columns(amount=pl.col("amount") * 10),
    13: lambda d: d.with_columns(amount=-pl.col("amount")),
    14: lambda d: d.with_columns(amount=pl.col("amount") / 10),
    15: lambda d: d.with_columns(amount=pl.col("amount") * 20),
    16: lambda d: d.with_columns(
        status=pl.when(pl.col("order_id") == 3).then(pl.lit("lost")).otherwise(pl.col("status"))
    ),
    17: lambda d: d.with_columns(
        email=pl.when(pl.col("order_id") <= 200).then(pl.lit("nope")).otherwise(pl.col("email"))
    ),
    18: lambda d: d.with_columns(
        email=pl.when(pl.col("order_id") == 3).then(pl.lit("a b@c.d")).otherwise(pl.col("email"))
    ),
    19: lambda d: d.with_columns(
        amount=pl.when(pl.col("order_id") == 3).then(-101.0).otherwise(pl.col("amount"))
    ),
    20: lambda d: d.with_columns(
        code=pl.when(pl.col("order_id") == 3).then(pl.lit("AB")).otherwise(pl.col("code"))
    ),
    21: lambda d: d.with_columns(
        shipped_at=pl.when(pl.col("order_id") == 3)
        .then(pl.col("created_at") - pl.duration(days=1))
        .otherwise(pl.col("shipped_at"))
    ),
    22: lambda d: d.with_columns(created_at=pl.col("created_at") - pl.duration(days=3)),
    23: lambda d: d.drop("status"),
    24: lambda d: d.with_columns(amount=pl.col("amount").cast(pl.Float32)),
    25: lambda d: d.with_columns(
        customer_id=pl.when(pl.col("order_id") == 3).then(9999).otherwise(pl.col("customer_id"))
    ),
    27: lambda d: d.with_columns(
        email=pl.when(pl.col("order_id") <= 101).then(None).otherwise(pl.col("email"))
    ),
}


@pytest.mark.parametrize("line", sorted(BREAKS))
def test_each_issue_line_fails_on_data_that_breaks_it(line):
    assert statuses(run(BREAKS[line](orders())))[line] == "fail"


def test_a_missing_column_is_fail_for_columns_and_error_for_the_rest():
    st = statuses(run(orders().drop("status")))
    assert st[23] == "fail"
    assert st[24] == "fail"
    assert st[8] == st[16] == "error"
    assert st[1] == "pass"  # the rest of the suite still runs


def test_warn_prefix_on_columns_gives_warn():
    res = run(orders(), "warn: columns: order_id, coupon\nfail: schema: amount Float32")
    assert [r.status for r in res.results] == ["warn", "fail"]
    assert "coupon" in res.results[0].message and "Float64" in res.results[1].message


def test_graded_levels():
    base = orders()
    line = "missing_count(email): warn > 0, fail > 100"

    def with_nulls(k):
        return base.with_columns(
            email=pl.when(pl.col("order_id") <= k).then(None).otherwise(pl.col("email"))
        )

    assert [run(with_nulls(k), line).results[0].status for k in (0, 1, 100, 101)] == [
        "pass",
        "warn",
        "warn",
        "fail",
    ]


def test_unusable_dtype_is_an_error_not_a_pass():
    res = run(
        orders(),
        "avg(email) > 0\ninvalid_count(amount) = 0: valid regex ^a\nfreshness(amount) < 1h\nrow_count > 0",
    )
    assert [r.status for r in res.results] == ["error", "error", "error", "pass"]
    assert "numeric" in res.results[0].message and "text column" in res.results[1].message


def test_a_condition_on_a_missing_column_or_the_wrong_type_is_an_error_and_the_rest_runs():
    res = run(orders(), "failed_rows(nosuch > 1) = 0\nfailed_rows(status > 1) = 0\nrow_count > 0")
    assert [r.status for r in res.results] == ["error", "error", "pass"]
    assert "nosuch" in res.results[0].message
    assert "cannot evaluate condition 'status > 1'" in res.results[1].message


# every input type ---------------------------------------------------------------------------


def _comparable(result):
    return [(r.line, r.status, r.observed) for r in result.results]


@pytest.mark.parametrize("kind", ["lazy", "pandas", "arrow", "parquet", "narwhals"])
def test_every_input_type_gives_the_same_results(kind, tmp_path):
    df = orders()
    expected = _comparable(run(df))
    if kind == "lazy":
        data = df.lazy()
    elif kind == "pandas":
        data = df.to_pandas()
    elif kind == "arrow":
        data = df.to_arrow()
    elif kind == "parquet":
        df.write_parquet(tmp_path / "o.parquet")
        data = pl.scan_parquet(tmp_path / "o.parquet")
    else:
        import narwhals as nw

        data = nw.from_native(df.to_pandas(), eager_only=True)
    res = run(data)
    assert _comparable(res) == expected
    if kind == "parquet":
        assert "read into memory" in res.extra["plan"]
    if kind == "lazy":
        assert "one streaming pass" in res.extra["plan"]


def test_pandas_nan_and_none_both_count_as_missing():
    pdf = pd.DataFrame({"x": [1.0, np.nan, None, 4.0], "s": ["a", None, "b", "a"]})
    res = run_checks(pdf, "missing_count(x) = 2\nmissing_count(s) = 1\navg(x) = 2.5")
    assert res.passed, str(res)


def test_arrow_table_with_timezones():
    from zoneinfo import ZoneInfo

    noon_paris = dt.datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))  # 11:00 UTC
    t = pa.table({"t": pa.array([noon_paris], pa.timestamp("us", tz="Europe/Paris"))})
    r = run_checks(t, "freshness(t) < 1h", as_of="2024-01-01T11:30:00Z").results[0]
    assert r.observed == 1800 and r.status == "pass"


def test_unsupported_input_says_what_to_pass():
    from jupyter_dataops.errors import DataOpsError

    with pytest.raises(DataOpsError, match="polars, pandas or pyarrow"):
        run_checks([1, 2, 3], "row_count > 0")


# the planner's cheap forms agree with the plain ones -----------------------------------------


def test_dense_integer_key_is_counted_with_a_bitmap():
    rng = np.random.default_rng(3)
    ids = rng.permutation(200_000)
    ids[:5] = ids[5]  # five extra copies
    df = pl.DataFrame({"id": ids})
    res = run_checks(df, "duplicate_count(id) = 0\ndistinct_count(id) > 0")
    assert "bitmap" in res.extra["plan"]
    assert res.results[0].observed == 5
    assert res.results[1].observed == len(set(ids.tolist()))


def test_bitmap_handles_negative_offsets_and_nulls():
    ids = pl.Series("id", list(range(-150_000, 0)) + [None, -3, -3], dtype=pl.Int64)
    res = run_checks(pl.DataFrame({"id": ids}), "duplicate_count(id) = 0")
    assert "bitmap" in res.extra["plan"] and res.results[0].observed == 2


def test_sparse_or_sorted_keys_fall_back_to_exact_counts():
    sparse = pl.DataFrame({"id": (np.arange(150_000) * 1_000_003) % 2**40})
    r = run_checks(sparse, "duplicate_count(id) = 0")
    assert "bitmap" not in r.extra["plan"] and r.results[0].observed == 0
    sorted_ = pl.DataFrame({"id": np.repeat(np.arange(100_000), 2)}).with_columns(
        pl.col("id").set_sorted()
    )
    r = run_checks(sorted_, "duplicate_count(id) = 0")
    assert r.results[0].observed == 100_000


def test_low_cardinality_column_is_grouped_once_for_all_its_checks():
    rng = np.random.default_rng(4)
    status = np.array(["new", "shipped", "returned", "lost", None], dtype=object)[
        rng.integers(0, 5, 60_000)
    ]
    df = pl.DataFrame({"status": status})
    spec = (
        "distinct_count(status) = 4\ninvalid_count(status) = 0: valid values [new, shipped]\n"
        "invalid_count(status) = 0: valid regex ^[a-z]{3,7}$\ninvalid_count(status) = 0: valid length 4 .. 7"
    )
    res = run_checks(df, spec)
    assert "one group-by" in res.extra["plan"]
    vals = [v for v in status.tolist() if v is not None]
    import re

    assert [r.observed for r in res.results] == [
        4,
        sum(v not in ("new", "shipped") for v in vals),
        sum(not re.search("^[a-z]{3,7}$", v) for v in vals),
        sum(not 4 <= len(v) <= 7 for v in vals),
    ]
    # the same answers without the group-by (a lazy frame takes the single-pass route)
    assert [r.observed for r in run_checks(df.lazy(), spec).results] == [
        r.observed for r in res.results
    ]


def test_text_work_on_a_large_column_is_split_and_still_exact(monkeypatch):
    monkeypatch.setattr(polars_engine, "SPLIT_ROWS", 1000)
    emails = [f"u{i}@x.org" if i % 7 else f"u{i}-x.org" for i in range(3001)]
    df = pl.DataFrame({"email": emails})
    res = run_checks(df, "invalid_count(email) = 0: valid format email")
    if pl.thread_pool_size() > 1:
        assert "split" in res.extra["plan"]
    assert res.results[0].observed == sum(1 for i in range(3001) if i % 7 == 0)


def test_nan_in_a_float_column_triggers_an_exact_recount():
    df = pl.DataFrame({"x": [1.0, float("nan"), 3.0, None]})
    res = run_checks(df, "avg(x) = 2\nmax(x) = 3\nstddev(x) > 1")
    assert "NaN found" in res.extra["plan"]
    assert [r.observed for r in res.results] == [2.0, 3.0, pytest.approx(np.std([1, 3], ddof=1))]


# results -------------------------------------------------------------------------------------


def test_failing_rows_only_for_failing_row_level_checks_and_at_most_five():
    df = orders().with_columns(
        email=pl.when(pl.col("order_id") <= 40).then(pl.lit("bad")).otherwise(pl.col("email"))
    )
    res = run(
        df,
        "invalid_count(email) = 0: valid format email\nmissing_count(email) = 0\navg(amount) > 1000",
    )
    bad, ok, agg = res.results
    assert bad.failing_rows.height == 5 and set(bad.failing_rows["email"]) == {"bad"}
    assert ok.failing_rows is None and agg.failing_rows is None and agg.status == "fail"


def test_suite_result_views():
    res = run(orders().with_columns(amount=pl.col("amount") * 10))
    d = res.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["counts"] == res.counts and not res.passed
    m = res.metrics
    assert m["row_count"] == 2000.0 and "avg(amount)" in m and "missing_percent(customer_id)" in m
    assert all(isinstance(v, float) for v in m.values())
    html = res._repr_html_()
    assert "<script" not in html and "<link" not in html and "#cf222e" in html
    assert "stddev(amount) &lt; 50" in html
    text = str(res)
    assert "FAIL" in text and "stddev(amount) < 50" in text
    t = res.to_polars()
    assert t.height == len(res.results) and t["status"].to_list() == [r.status for r in res.results]


def test_spec_may_be_a_parsed_suite_and_name_is_kept():
    suite = parse_spec("row_count > 0", name="orders")
    assert run_checks(orders(), suite).name == "orders"


def test_registering_a_metric_is_one_class_and_one_line():
    class MaxLength(Metric):
        name = "max_length"
        example = "max_length(code) <= 8"

        def dtype_problem(self, schema):
            return None if schema[self.args[0]] == pl.String else "max_length needs text"

        def facts(self, schema):
            return [F.Aggregate("max", self.args[0])]

        def observe(self, facts, ctx):
            return len(facts[F.Aggregate("max", self.args[0])])

    register(MaxLength)
    try:
        res = run_checks(pl.DataFrame({"code": ["a", "zzz"]}), "max_length(code) <= 8")
        assert res.results[0].observed == 3
    finally:
        del CATALOGUE["max_length"]


# spc lines -----------------------------------------------------------------------------------


def _hist(values):
    return lambda key: values.get(key, [])


def test_spc_without_history_collects_baseline():
    r = run_checks(orders(), "spc row_count").results[0]
    assert (
        r.status == "baseline" and r.message == "collecting baseline 0/20 (no production history)"
    )
    assert r.observed == 2000


def test_spc_with_short_history_collects_baseline():
    r = run_checks(orders(), "spc row_count", history=_hist({"row_count": [2000] * 7})).results[0]
    assert r.status == "baseline" and r.message == "collecting baseline 7/20"


def test_spc_judges_the_new_point_against_a_frozen_baseline():
    rng = np.random.default_rng(0)
    past = list(2000 + rng.normal(0, 20, 30))
    ok = run_checks(orders(), "spc row_count", history=_hist({"row_count": past})).results[0]
    assert ok.status == "pass" and "in control" in ok.message
    small = orders().head(1500)
    bad = run_checks(small, "spc row_count", history=_hist({"row_count": past})).results[0]
    assert bad.status == "warn" and "beyond the control limits" in bad.message
    hard = run_checks(
        small, "fail: spc row_count: rules nelson", history=_hist({"row_count": past})
    ).results[0]
    assert hard.status == "fail"


def test_spc_run_rule_names_the_rule_in_words():
    past = [100.0, 102.0, 98.0, 101.0, 99.0, 100.5, 99.5, 100.0, 101.5, 98.5] * 2 + [101.0] * 7
    df = pl.DataFrame({"x": [101.0]})
    r = run_checks(
        df, "spc avg(x): rules western_electric, baseline 20", history=_hist({"avg(x)": past})
    ).results[0]
    assert r.status == "warn" and "8 points in a row on the same side" in r.message


def test_bitmap_on_a_small_integer_type_does_not_overflow():
    values = list(range(-128, 127)) * 1000  # 255 distinct values, 255,000 rows
    df = pl.DataFrame({"x": pl.Series(values, dtype=pl.Int8)})
    res = run_checks(df, "duplicate_count(x) = 0\ndistinct_count(x) = 255")
    assert "bitmap" in res.extra["plan"]
    assert res.results[0].observed == len(values) - len(set(values))
    assert res.results[1].status == "pass"


def test_public_api_names_stay_importable():
    import jupyter_dataops
    import jupyter_dataops.checks as checks

    for name in checks.__all__:
        assert hasattr(checks, name), name
    for name in ("run_checks", "parse_spec", "SuiteResult", "CheckResult"):
        assert getattr(jupyter_dataops, name) is getattr(checks, name)


def test_spc_history_that_fails_is_an_error_not_a_crash():
    def broken(key):
        raise RuntimeError("store is down")

    res = run_checks(orders(), "spc row_count\nrow_count > 0", history=broken)
    assert [r.status for r in res.results] == ["error", "pass"]
    assert "store is down" in res.results[0].message


def test_a_file_too_large_for_memory_runs_every_check_in_one_streaming_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(planner_mod, "MEMORY_SHARE", 0.0)  # as if the file were huge
    df = orders()
    df.write_parquet(tmp_path / "o.parquet")
    res = run(pl.scan_parquet(tmp_path / "o.parquet"))
    assert "one streaming pass" in res.extra["plan"]
    assert _comparable(res) == _comparable(run(df))
