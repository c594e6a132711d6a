"""Suggested checks: profiled in one pass, pass on their own data, catch each common corruption."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import numpy as np
import polars as pl
import pytest
from builders import dataops

from jupyter_dataops.checks import run_checks
from jupyter_dataops.checks.suggest import suggest

AS_OF = "2026-11-30T12:00:00Z"
N = 20_000


def orders(n: int = N, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    emails = [f"user{i}@example.com" for i in range(n // 4)]
    start = dt.datetime(2026, 11, 1)
    return pl.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "customer_email": rng.choice(emails, n),
            "status": rng.choice(
                ["new", "shipped", "returned", "cancelled"], n, p=[0.3, 0.5, 0.1, 0.1]
            ),
            "amount": np.round(rng.lognormal(3, 0.8, n), 2),
            "quantity": rng.integers(1, 11, n),
            "ref": [str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**62, n)],
            "created_at": [
                start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 29, n)
            ],
            "coupon": pl.Series(rng.choice(["A", "B", ""], n, p=[0.05, 0.05, 0.9])).replace(
                "", None
            ),
        }
    )


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return orders()


@pytest.fixture(scope="module")
def spec(data) -> str:
    return suggest(data, as_of=AS_OF).text


def line_of(spec: str, start: str) -> str:
    hits = [ln for ln in spec.splitlines() if ln.startswith(start)]
    assert len(hits) == 1, (start, spec)
    return hits[0]


def test_suggestions_pass_on_the_data_they_came_from(data, spec):
    result = run_checks(data, spec, as_of=AS_OF)
    assert result.passed, str(result)
    assert {r.status for r in result.results} <= {"pass", "baseline"}
    # every kind of suggestion is there, each with its evidence
    assert line_of(spec, "missing_count(order_id) = 0") == (
        "missing_count(order_id) = 0  # 0 nulls in 20,000 rows"
    )
    assert line_of(spec, "duplicate_count(order_id) = 0").endswith(
        "# 20,000 distinct values in 20,000 rows"
    )
    assert line_of(spec, "duplicate_count(ref) = 0")
    assert line_of(spec, "invalid_count(ref) = 0: valid format uuid")
    assert line_of(spec, "invalid_count(customer_email) = 0: valid format email")
    assert "duplicate_count(customer_email)" not in spec  # 4 orders per customer: no key
    assert line_of(
        spec, "invalid_count(status) = 0: valid values [cancelled, new, returned, shipped]"
    )
    assert re.search(r"^missing_percent\(coupon\) < \d+%  # 8\d\.\d+% missing", spec, re.M)
    assert line_of(spec, "invalid_count(coupon) = 0: valid values [A, B]")
    assert line_of(spec, "schema: order_id Int64, customer_email String, status String")
    assert line_of(spec, "freshness(created_at) < ")
    assert line_of(spec, "spc row_count")
    assert line_of(spec, "spc avg(amount)")
    assert "spc avg(order_id)" not in spec  # an id is no measure


def test_ranges_are_robust_bounds_with_a_margin_not_the_observed_extremes(data, spec):
    line = line_of(spec, "invalid_count(amount) = 0: valid range ")
    low, high = map(float, re.search(r"valid range (\S+) \.\. (\S+)", line).groups())
    lo, hi = data["amount"].min(), data["amount"].max()
    assert low == 0  # never negative: stays so
    assert hi < high <= hi * 1.2
    assert f"observed {lo:g} .. {hi:g}" in line
    qline = line_of(spec, "invalid_count(quantity) = 0: valid range ")
    qlow, qhigh = map(int, re.search(r"valid range (\S+) \.\. (\S+)", qline).groups())
    assert qlow < 1 and qhigh > 10  # 1..10 observed: a margin on both sides


def _set(df: pl.DataFrame, col: str, rows: list[int], value) -> pl.DataFrame:  # noqa: ANN001
    idx = pl.int_range(pl.len())
    return df.with_columns(
        pl.when(idx.is_in(rows))
        .then(pl.lit(value, dtype=df.schema[col]))
        .otherwise(pl.col(col))
        .alias(col)
    )


CORRUPTIONS = {
    "new nulls": (lambda df: _set(df, "amount", [5, 6], None), "missing_count(amount) = 0"),
    "duplicated key": (lambda df: _set(df, "order_id", [7], 3), "duplicate_count(order_id) = 0"),
    "unseen category": (
        lambda df: _set(df, "status", [11], "lost"),
        "invalid_count(status) = 0: valid values",
    ),
    "out of range (high)": (
        lambda df: _set(df, "amount", [3], 50_000.0),
        "invalid_count(amount) = 0: valid range",
    ),
    "out of range (negative)": (
        lambda df: _set(df, "quantity", [3], -2),
        "invalid_count(quantity) = 0: valid range",
    ),
    "malformed email": (
        lambda df: _set(df, "customer_email", [9], "not-an-email"),
        "invalid_count(customer_email) = 0: valid format email",
    ),
    "malformed uuid": (
        lambda df: _set(df, "ref", [9], "1234-abcd"),
        "invalid_count(ref) = 0: valid format uuid",
    ),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_suggestions_catch_each_corruption(data, spec, corruption):
    corrupt, expected = CORRUPTIONS[corruption]
    result = run_checks(corrupt(data), spec, as_of=AS_OF)
    assert not result.passed
    failing = [r for r in result.results if r.status == "fail"]
    assert [r.source.startswith(expected) for r in failing].count(True) == 1, str(result)
    # only the line guarding what was corrupted fails
    assert all(r.status in ("pass", "baseline") for r in result.results if r not in failing)
    assert len(failing) == 1, str(result)


def test_obvious_compound_key_is_suggested_and_guards_duplicates():
    rng = np.random.default_rng(3)
    order_ids = np.repeat(np.arange(1, 1001), 3)
    lines = pl.DataFrame(
        {
            "order_id": order_ids,
            "line_no": np.tile([1, 2, 3], 1000),
            "sku": rng.choice([f"SKU-{i:04d}" for i in range(400)], 3000),
            "price": np.round(rng.uniform(1, 100, 3000), 2),
        }
    )
    s = suggest(lines, as_of=AS_OF)
    key = line_of(s.text, "duplicate_count(order_id, line_no) = 0")
    assert key.endswith("# (order_id, line_no) unique over 3,000 rows; neither column alone is")
    assert "duplicate_count(order_id) = 0" not in s.text
    assert run_checks(lines, s.text).passed
    dup = _set(lines, "line_no", [1], 1)  # order 1 now has line 1 twice
    result = run_checks(dup, s.text)
    assert [r.source for r in result.results if r.status == "fail"] == [key]


def test_profile_is_one_planned_pass_on_a_lazy_source_and_on_a_database(data, tmp_path):
    small = data.head(2_000)
    path = tmp_path / "orders.parquet"
    small.write_parquet(path)
    lazy = suggest(pl.scan_parquet(path), as_of=AS_OF)
    eager = suggest(small, as_of=AS_OF)
    assert lazy.text.splitlines()[1:] == eager.text.splitlines()[1:]
    assert lazy.plan.count("fused select") == 1
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    small.with_columns(pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M:%S")).write_database(
        "orders", url
    )
    s = suggest(url, table="orders", as_of=AS_OF)
    assert "missing_count(order_id) = 0" in s.text and "duplicate_count(order_id) = 0" in s.text
    # what the database engine cannot profile is said, not silently dropped
    assert "# values of status not profiled:" in s.text
    assert run_checks(url, s.text, table="orders", as_of=AS_OF).passed


def test_cli_suggest_writes_a_spec_that_dataops_check_runs(data, tmp_path):
    path = tmp_path / "orders.parquet"
    data.head(5_000).write_parquet(path)
    out = tmp_path / "orders.checks"
    proc = dataops("suggest", str(path), "--out", str(out), "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    assert "checks written to" in proc.stderr
    assert "missing_count(order_id) = 0  # 0 nulls in 5,000 rows" in out.read_text()
    ok = dataops("check", str(path), str(out), "--as-of", AS_OF)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad.parquet"
    _set(data.head(5_000), "status", [0], "lost").write_parquet(bad)
    caught = dataops("check", str(bad), str(out), "--as-of", AS_OF)
    assert caught.returncode == 1 and "FAILED" in caught.stdout
    printed = dataops("suggest", str(path), "--as-of", AS_OF)
    assert printed.returncode == 0 and printed.stdout == out.read_text()
    missing = dataops("suggest", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_magic_puts_a_ready_test_cell_below_through_a_real_kernel(tmp_path):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        code = (
            "%load_ext jupyter_dataops\n"
            "import polars as pl\n"
            "orders = pl.DataFrame({'order_id': [1, 2, 3], 'status': ['a', 'b', 'a']})\n"
            "%dataops_suggest orders"
        )
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        payloads = [p for p in reply["content"]["payload"] if p["source"] == "set_next_input"]
        assert len(payloads) == 1 and payloads[0]["replace"] is False
        cell = payloads[0]["text"]
        assert cell.startswith("%%dataops_test orders\n")
        assert "missing_count(order_id) = 0  # 0 nulls in 3 rows" in cell
        # the inserted cell runs and passes on the frame it came from
        run = kc.execute_interactive(
            cell + "\n",
            timeout=120,
            output_hook=lambda msg: None,
            user_expressions={"ok": "_.passed"},
        )
        assert run["content"]["status"] == "ok", run["content"]
        assert run["content"]["user_expressions"]["ok"]["data"]["text/plain"] == "True"
        missing = kc.execute_interactive(
            "%dataops_suggest nothing_here", timeout=60, output_hook=lambda msg: None
        )
        assert missing["content"]["status"] == "error"
        assert "no variable named 'nothing_here'" in missing["content"]["evalue"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_no_rows_suggests_the_schema_only():
    s = suggest(pl.DataFrame({"a": pl.Series([], dtype=pl.Int64)}))
    assert s.text.splitlines()[1:] == [
        "# no rows to profile: only the schema is suggested",
        "schema: a Int64  # types as profiled",
    ]


def test_keys_are_id_like_columns_by_name_and_measures_get_ranges():
    n = 200
    frame = pl.DataFrame(
        {
            "order id": np.arange(n),
            "customerRef": [f"C{i:05d}" for i in range(n)],
            "paid": np.arange(n) * 1.5 + 10,  # unique, but a measure
            "valid": np.arange(n) + 1,  # unique integers named like no id
        }
    )
    s = suggest(frame)
    keys = [ln.check for ln in s.lines if ln.kind == "key"]
    assert keys == ["duplicate_count(`order id`) = 0", "duplicate_count(customerRef) = 0"]
    ranges = [ln.column for ln in s.lines if ln.kind == "range"]
    assert ranges == ["paid", "valid"]
    assert run_checks(frame, s.text).passed
    dup = _set(frame, "order id", [1], 0)
    failing = [r.source for r in run_checks(dup, s.text).results if r.status == "fail"]
    assert failing == [s.lines[2].text] and "`order id`" in failing[0]
