"""The batched engine: files larger than memory checked with bounded, mergeable state.

The same suite must give the polars engine's results when the file is read in many small
batches, through every state route (bitmap, set, spill to disk, exact quantile by selection);
and a file "larger than memory" (free memory patched down) must take the batched route with
state that stays bounded while the data grows.
"""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl
import pytest
from test_checks_sql import AS_OF, CUSTOMERS, SPEC, orders

from jupyter_dataops.checks import planner, run_checks
from jupyter_dataops.checks.engines import batch_states as BS
from jupyter_dataops.checks.engines import batched as B


def _agree(got, want, unsampled: tuple[str, ...] = ()) -> None:
    for g, w in zip(got.results, want.results, strict=True):
        assert g.status == w.status, (g.source, g.message, w.message)
        if isinstance(w.observed, float):
            assert math.isclose(g.observed, w.observed, rel_tol=1e-9), (g.source, g.observed)
        else:
            assert g.observed == w.observed, (g.source, g.observed, w.observed)
        if g.source in unsampled:
            assert g.failing_count is None and g.failing_rows is None, g.source
            continue
        assert g.failing_count == w.failing_count, g.source


@pytest.fixture()
def huge(monkeypatch):
    """Every file scan counts as larger than memory."""
    monkeypatch.setattr(planner, "MEMORY_SHARE", 0.0)
    monkeypatch.setattr(planner, "BATCHED_SHARE", 0.0)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("tiny", [False, True], ids=["default", "tiny-states"])
def test_batched_results_equal_the_polars_engine(huge, monkeypatch, tmp_path, kind, tiny):
    df = pl.concat([orders()] * 40)
    ns = {"customers": CUSTOMERS}
    want = run_checks(df, SPEC, as_of=AS_OF, namespace=ns)
    monkeypatch.setattr(B, "BATCH_ROWS", 97)  # 25 batches, merged
    if tiny:  # force the spill, the bitmap's exit and the multi-pass quantile selection
        monkeypatch.setattr(BS, "SET_MAX_VALUES", 5)
        monkeypatch.setattr(BS, "BITMAP_MAX_BYTES", 20)
        monkeypatch.setattr(BS, "GATHER_MAX_VALUES", 3)
        monkeypatch.setattr(BS, "BUCKETS", 4)
        monkeypatch.setattr(BS, "PARTITIONS", 3)
    if kind == "parquet":
        df.write_parquet(tmp_path / "o.parquet")
        lf = pl.scan_parquet(tmp_path / "o.parquet")
    else:
        df.with_columns(pl.col("amount").fill_nan(None)).write_csv(tmp_path / "o.csv")
        lf = pl.scan_csv(tmp_path / "o.csv", try_parse_dates=True)
    got = run_checks(lf, SPEC, as_of=AS_OF, namespace=ns)
    plan = got.extra["plan"]
    assert "read in batches" in plan and "25 batch(es) of up to 97 rows" in plan
    # tiny states: more duplicated keys than SET_MAX_VALUES, so no sample (and it says so)
    dups = ("duplicate_count(order_id) = 0", "duplicate_percent(order_id, line_no) = 0")
    _agree(got, want, dups if tiny else ())
    if tiny:
        assert "(order_id): too many duplicated keys" in plan
        assert "(order_id, line_no): too many duplicated keys" in plan
        assert "distinct (order_id): spill" in plan
        assert "distinct (order_id, line_no): spill" in plan
        assert re.search(r"amount: exact quantile 0.5 by selection, [3-9] extra pass", plan)
    else:
        assert "distinct (order_id): bitmap" in plan
        assert "distinct (status): set" in plan
        assert "amount: exact quantile 0.9 by selection, 2 extra pass(es)" in plan


def test_a_file_larger_than_memory_takes_the_batched_route_with_bounded_state(
    monkeypatch, tmp_path
):
    """3M rows, as if the machine had 8 MB free: the batched route, batches of 200k rows, and
    state that does not grow with the data: a 3 MB bitmap for 3M dense ids, at most
    SET_MAX_VALUES keys in memory for 3M distinct strings (the rest spilled to disk)."""
    n = 3_000_000
    rng = np.random.default_rng(3)
    ids = rng.permutation(n).astype(np.int64)
    df = pl.DataFrame(
        {
            "id": ids,
            "token": pl.Series(ids).cast(pl.String).str.pad_start(9, "x"),
            "amount": rng.gamma(2.0, 25.0, n),
        }
    )
    df.write_parquet(tmp_path / "big.parquet")
    del df
    monkeypatch.setattr(planner, "_free_memory", lambda: 8 * 1024 * 1024)
    monkeypatch.setattr(B, "BATCH_ROWS", 200_000)
    monkeypatch.setattr(BS, "SET_MAX_VALUES", 250_000)
    spec = (
        "row_count = 3_000_000\nduplicate_count(id) = 0\ndistinct_count(token) = 3_000_000\n"
        "median(amount) > 0\nstddev(amount) > 0"
    )
    res = run_checks(pl.scan_parquet(tmp_path / "big.parquet"), spec)
    plan = res.extra["plan"]
    assert [r.status for r in res.results] == ["pass"] * 5, [r.message for r in res.results]
    assert "lazy source larger than memory: read in batches" in plan
    assert "15 batch(es) of up to 200000 rows" in plan
    bitmap = int(re.search(r"distinct \(id\): bitmap, peak state (\d+) bytes", plan).group(1))
    assert bitmap == n  # one byte per possible id, not a hash set of 3M keys
    spill = re.search(r"distinct \(token\): spill, peak state (\d+) bytes", plan)
    assert spill is not None, plan
    # at most one set of SET_MAX_VALUES keys plus one batch's keys: 9-byte strings, ~16 B each
    assert int(spill.group(1)) < (250_000 + 200_000) * 32
    want = pl.read_parquet(tmp_path / "big.parquet", columns=["amount"])["amount"]
    assert res.results[3].observed == want.median()  # exact, not approximate


def test_small_files_still_read_into_memory_and_huge_ones_batch(tmp_path, monkeypatch):
    orders().write_parquet(tmp_path / "o.parquet")
    lf = pl.scan_parquet(tmp_path / "o.parquet")
    assert "read into memory" in run_checks(lf, "max(amount) > 0").extra["plan"]
    monkeypatch.setattr(planner, "_free_memory", lambda: 1)
    assert "read in batches" in run_checks(lf, "max(amount) > 0").extra["plan"]
    # a lazy pipeline polars cannot size keeps the single streaming pass
    assert "one streaming pass" in run_checks(orders().lazy(), "max(amount) > 0").extra["plan"]


def test_duplicate_rows_of_a_huge_file_come_in_bounded_passes(huge, monkeypatch, tmp_path):
    """A failing duplicate check on the batched route lists the rows sharing a key without a
    hash table of every key: two bitmaps for an integer key, counts spilled to disk else."""
    df = pl.concat([orders()] * 10).with_row_index("row")
    df = df.with_columns(
        pl.when(pl.col("row") % 97 == 0).then(0).otherwise(pl.col("row")).alias("rid")
    )
    df.write_parquet(tmp_path / "o.parquet")
    monkeypatch.setattr(B, "BATCH_ROWS", 50)
    spec = (
        "duplicate_count(rid) = 0\nduplicate_count(email) = 0\n"
        "duplicate_count(order_id, line_no) = 0"
    )
    got = run_checks(pl.scan_parquet(tmp_path / "o.parquet"), spec)
    want = run_checks(df, spec)
    _agree(got, want)
    plan = got.extra["plan"]
    assert "duplicates of rid: two bitmaps over its range" in plan
    assert "duplicates of (email): counts spilled to disk" in plan
    assert "duplicates of (order_id, line_no): counts spilled to disk" in plan
    for res in got.results:
        assert res.status == "fail" and res.failing_rows.height == 5
    assert got.results[0].failing_rows["rid"].to_list() == [0] * 5
    dup_emails = df.filter(pl.col("email").is_duplicated())["email"]
    assert got.results[1].failing_rows["email"].is_in(dup_emails.implode()).all()
    # more duplicated keys than may be held: the count stands, the sample is left out, and said
    monkeypatch.setattr(BS, "SET_MAX_VALUES", 3)
    few = run_checks(pl.scan_parquet(tmp_path / "o.parquet"), "duplicate_count(email) = 0")
    assert few.results[0].observed == want.results[1].observed
    assert few.results[0].failing_rows is None
    assert "too many duplicated keys" in few.extra["plan"]
