"""Every metric against an independent computation (plain Python / numpy) on known data."""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics

import numpy as np
import polars as pl
import pytest

from jupyter_dataops.checks import run_checks

NAN = float("nan")
ROWS = {
    "id": [1, 2, 2, None, 5, 5, 5, 8, 9, None],
    "k2": ["a", "a", "b", "a", None, "c", "c", "d", "e", "f"],
    "x": [1.5, None, NAN, -2.0, 10.25, 3.0, 3.0, None, 7.0, 0.5],
    "s": ["new", "shipped", None, "née", "returned", "new", "日本語テキスト", "x", "", "shipped"],
    "email": [
        "a@b.co",
        "bad",
        None,
        "ü@ex.com",
        "c@d.org",
        "e@f",
        "g@h.io",
        "a@b.co",
        None,
        "z@y.xx",
    ],
    "flag": [True, False, None, True, True, False, True, True, False, True],
}
DF = pl.DataFrame(ROWS, schema_overrides={"id": pl.Int64})


def one(df, line, **kw):
    (r,) = run_checks(df, line, **kw).results
    return r


def present(values):
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def test_row_count():
    assert one(DF, "row_count = 10").observed == len(ROWS["id"])


@pytest.mark.parametrize("col", ["id", "x", "s", "email", "flag"])
def test_missing_count_and_percent_count_null_and_nan(col):
    expected = len(ROWS[col]) - len(present(ROWS[col]))
    assert one(DF, f"missing_count({col}) >= 0").observed == expected
    assert one(DF, f"missing_percent({col}) >= 0").observed == pytest.approx(100 * expected / 10)


def test_duplicate_count_and_percent_single_key():
    keys = present(ROWS["id"])
    expected = len(keys) - len(set(keys))  # 8 keyed rows, 5 distinct -> 3
    assert expected == 3
    assert one(DF, "duplicate_count(id) = 0").observed == expected
    assert one(DF, "duplicate_percent(id) < 1%").observed == pytest.approx(100 * expected / 10)


def test_duplicate_count_multi_key_ignores_rows_with_a_null_key():
    pairs = [
        (i, k)
        for i, k in zip(ROWS["id"], ROWS["k2"], strict=True)
        if i is not None and k is not None
    ]
    expected = len(pairs) - len(set(pairs))
    assert one(DF, "duplicate_count(id, k2) = 0").observed == expected


def test_seven_extra_copies_count_seven():
    df = pl.DataFrame({"k": [1] * 8 + [2, 3]})
    assert one(df, "duplicate_count(k) = 0").observed == 7


@pytest.mark.parametrize("col", ["id", "x", "s", "flag"])
def test_distinct_count_excludes_missing(col):
    assert one(DF, f"distinct_count({col}) > 0").observed == len(set(present(ROWS[col])))


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("min", min),
        ("max", max),
        ("avg", statistics.fmean),
        ("stddev", statistics.stdev),
        ("sum", math.fsum),
        ("median", statistics.median),
        ("percentile(x, 0.95)", lambda v: float(np.percentile(v, 95, method="linear"))),
        ("percentile(x, 0.1)", lambda v: float(np.percentile(v, 10, method="linear"))),
    ],
)
def test_aggregates_skip_null_and_nan(metric, reference):
    line = (metric if "(" in metric else f"{metric}(x)") + " > -1000"
    assert one(DF, line).observed == pytest.approx(reference(present(ROWS["x"])), rel=1e-12)


def test_aggregates_on_integers_and_booleans():
    ids = present(ROWS["id"])
    assert one(DF, "avg(id) > 0").observed == pytest.approx(statistics.fmean(ids))
    assert one(DF, "sum(id) > 0").observed == sum(ids)
    flags = present(ROWS["flag"])
    assert one(DF, "avg(flag) > 0").observed == pytest.approx(sum(flags) / len(flags))


def test_invalid_values():
    valid = {"new", "shipped", "returned"}
    expected = sum(1 for v in present(ROWS["s"]) if v not in valid)
    r = one(DF, "invalid_count(s) = 0: valid values [new, shipped, returned]")
    assert r.observed == expected and r.status == "fail"


def test_invalid_values_on_numbers_and_quoted_text():
    assert one(DF, "invalid_count(id) = 0: valid values [1, 2, 5]").observed == sum(
        1 for v in present(ROWS["id"]) if v not in (1, 2, 5)
    )
    assert one(DF, "invalid_count(s) = 0: valid values ['new', \"x\", '']").observed == sum(
        1 for v in present(ROWS["s"]) if v not in ("new", "x", "")
    )


def test_invalid_regex_and_percent_over_non_null_rows():
    pat = r"^[^@]+@[^@]+\.[^@]+$"
    emails = present(ROWS["email"])
    bad = sum(1 for v in emails if not re.search(pat, v))
    assert one(DF, f"invalid_count(email) = 0: valid regex {pat}").observed == bad
    r = one(DF, f"invalid_percent(email) < 5%: valid regex {pat}")
    assert r.observed == pytest.approx(100 * bad / len(emails))


def test_invalid_format_email():
    # "ü@ex.com" is not an HTML-standard address (non-ASCII local part); "e@f" has no dot.
    expected = sum(1 for v in present(ROWS["email"]) if v in ("bad", "ü@ex.com", "e@f"))
    assert one(DF, "invalid_count(email) = 0: valid format email").observed == expected


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        (
            "uuid",
            ["123e4567-e89b-12d3-a456-426614174000"],
            ["123e4567e89b12d3a456426614174000", "x"],
        ),
        ("date", ["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-13-01", "24-01-01"]),
        ("integer", ["0", "-12", "+7"], ["1.0", "1e3", " 1"]),
        ("decimal", ["1.5", "-.5", "3", "2e-3"], ["1,5", ".", "e3"]),
        ("phone_e164", ["+14155552671"], ["14155552671", "+0123", "+1234567890123456"]),
        ("ipv4", ["192.168.0.1", "0.0.0.0"], ["256.1.1.1", "01.2.3.4", "1.2.3"]),
    ],
)
def test_named_formats(fmt, good, bad):
    df = pl.DataFrame({"v": good + bad})
    assert one(df, f"invalid_count(v) = 0: valid format {fmt}").observed == len(bad)


def test_invalid_range_and_length_count_characters_not_bytes():
    xs = present(ROWS["x"])
    assert one(DF, "invalid_count(x) = 0: valid range -1 .. 5").observed == sum(
        1 for v in xs if not -1 <= v <= 5
    )
    assert one(DF, "invalid_count(s) = 0: valid length 3 .. 6").observed == sum(
        1 for v in present(ROWS["s"]) if not 3 <= len(v) <= 6
    )


def test_failed_rows_counts_rows_where_condition_holds():
    expected = sum(
        1
        for i, x in zip(ROWS["id"], ROWS["x"], strict=True)
        if i is not None and x is not None and not math.isnan(x) and x > i
    )
    r = one(DF, "failed_rows(x > id) = 0")
    assert r.observed == expected and r.status == "fail"
    assert r.failing_rows is not None and r.failing_rows.height == min(expected, 5)


AS_OF = dt.datetime(2024, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


def test_freshness_naive_aware_and_date_columns():
    naive = [dt.datetime(2024, 3, 1, 6), dt.datetime(2024, 3, 2, 6), None]
    aware = [dt.datetime(2024, 3, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))] * 3
    dates = [dt.date(2024, 2, 28), dt.date(2024, 3, 1), None]
    df = pl.DataFrame({"naive": naive, "aware": aware, "day": dates})
    assert one(df, "freshness(naive) < 1d", as_of=AS_OF).observed == 6 * 3600
    # 09:00+02:00 is 07:00 UTC, five hours before the as-of time
    assert one(df, "freshness(aware) < 1d", as_of=AS_OF).observed == 5 * 3600
    assert one(df, "freshness(day) < 1d", as_of="2024-03-02T12:00:00Z").observed == 36 * 3600
    r = one(df, "freshness(naive) < 1h", as_of=AS_OF)
    assert r.status == "fail"


def test_freshness_against_now_is_positive_and_small_for_fresh_data():
    df = pl.DataFrame({"t": [dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)]})
    r = one(df, "freshness(t) < 1h")
    assert r.status == "pass" and 290 < r.observed < 400


def test_min_and_max_of_datetimes_compare_with_dates():
    df = pl.DataFrame({"t": [dt.datetime(2024, 1, 1, 5), dt.datetime(2024, 2, 1)]})
    assert one(df, "min(t) >= 2024-01-01").status == "pass"
    assert one(df, "min(t) >= 2024-01-02").status == "fail"
    assert one(df, "max(t) <= '2024-02-01 00:00'").status == "pass"
    assert one(df, "min(t) >= 5").status == "error"


def test_reference_missing_count_counts_rows():
    customers = pl.DataFrame({"cid": [1, 2, 3]})
    df = pl.DataFrame({"customer_id": [1, 4, 4, None, 2, 7]})
    r = one(
        df,
        "reference_missing_count(customer_id) = 0: in customers.cid",
        namespace={"customers": customers},
    )
    assert r.observed == 3 and r.status == "fail"
    assert r.failing_rows["customer_id"].to_list() == [4, 4, 7]


def test_reference_to_an_undefined_frame_is_an_error_naming_it():
    df = pl.DataFrame({"customer_id": [1]})
    r = one(df, "reference_missing_count(customer_id) = 0: in customers.customer_id")
    assert r.status == "error" and "customers" in r.message and "namespace" in r.message


def test_empty_frame():
    empty = DF.clear()
    assert one(empty, "row_count = 0").status == "pass"
    assert one(empty, "missing_count(x) = 0").observed == 0
    assert one(empty, "duplicate_count(id) = 0").observed == 0
    for line in [
        "avg(x) > 0",
        "sum(x) > 0",
        "missing_percent(x) < 1%",
        "min(x) > 0",
        "percentile(x, 0.5) > 0",
        "invalid_percent(email) < 1%: valid format email",
    ]:
        r = one(empty, line)
        assert r.status == "error" and r.observed is None, line


def test_all_null_column():
    df = pl.DataFrame({"x": [None, None, None]}, schema={"x": pl.Float64})
    assert one(df, "missing_percent(x) = 100%").status == "pass"
    assert one(df, "distinct_count(x) = 0").status == "pass"
    r = one(df, "avg(x) > 0")
    assert r.status == "error" and "nothing to measure" in r.message
    assert one(df, "stddev(pl.Float64) > 0" if False else "stddev(x) > 0").status == "error"


def test_stddev_needs_two_values():
    df = pl.DataFrame({"x": [1.0, None]})
    assert one(df, "stddev(x) < 1").status == "error"
