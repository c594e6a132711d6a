"""The narwhals lazy engine: checks run inside DuckDB, Dask and SQLFrame, nothing downloaded whole.

(The cross-backend equality test over one suite is ``test_checks_sql.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest
from test_checks_sql import orders

from jupyter_dataops.checks import run_checks

duckdb = pytest.importorskip("duckdb")


def _relation(frame: pl.DataFrame):
    con = duckdb.connect()
    con.register("t", frame.to_arrow())
    return con.sql("SELECT * FROM t")


def test_a_duckdb_relation_is_checked_in_duckdb_not_downloaded():
    """30M rows (720 MB as a polars frame): the suite (after a warm-up run for the imports)
    grows the process by far less than the data, while reading the relation into polars (what
    run_checks did before) grows it by hundreds of MB, so the measurement tells them apart."""
    script = textwrap.dedent(
        """
        import json, duckdb, polars as pl
        from jupyter_dataops.checks import run_checks
        def status(field):
            with open("/proc/self/status") as f:
                line = next(x for x in f if x.startswith(field + ":"))
            return int(line.split()[1]) * 1024  # "VmRSS:  123 kB"
        def reset_peak():  # Linux: the high-water mark starts again from the resident size
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        def peak():
            return status("VmHWM")
        rel = duckdb.sql(
            "SELECT range AS id, range % 7 AS k, (range % 1000)::DOUBLE AS amount "
            "FROM range(30000000)"
        )
        spec = (
            "row_count = 30000000\\nmissing_count(id) = 0\\navg(amount) between 499 and 500\\n"
            "invalid_count(k) = 0: valid range 0 .. 6\\nmax(id) = 29999999\\n"
            "failed_rows(amount > 998) = 30000"
        )
        run_checks(duckdb.sql("SELECT 1 AS id, 1 AS k, 1.0 AS amount"), spec)  # imports
        reset_peak()  # whatever came before (imports, a warm-up) does not hide what follows
        before = status("VmRSS")
        res = run_checks(rel, spec)
        checked = peak() - before
        pl.from_arrow(rel.to_arrow_table())
        downloaded = peak() - before
        print(json.dumps({"statuses": [r.status for r in res.results],
                          "plan": res.extra["plan"], "checked": checked,
                          "downloaded": downloaded}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["pass"] * 6, out
    assert "duckdb: one lazy select" in out["plan"]
    # the data is 720 MB; the peak grows by 256-700 MB when copied (part may reuse freed pages)
    assert out["downloaded"] > 150 * 2**20, out
    assert out["checked"] < 100 * 2**20, out  # measured: ~1 MB
    assert out["checked"] < out["downloaded"] / 5, out


def test_duckdb_failing_rows_are_a_limited_sample_with_the_full_count():
    big = pl.concat([orders()] * 20)
    spec = (
        "duplicate_count(order_id) = 0\ninvalid_count(status) = 0: valid values [new]\n"
        "missing_count(amount) = 0\nfailed_rows(amount > 50) = 0"
    )
    res = run_checks(_relation(big), spec)
    want = run_checks(big, spec)
    for got, exp in zip(res.results, want.results, strict=True):
        assert got.status == exp.status == "fail"
        assert got.observed == exp.observed
        assert got.failing_count == exp.failing_count
        assert got.failing_rows.height == 5
        assert got.failing_rows.columns == big.columns
    # the NaN amount is missing (as in polars), and no NaN passes `amount > 50`
    amounts = res.results[3].failing_rows["amount"]
    assert (amounts > 50).all()


@pytest.mark.filterwarnings("ignore:Dask support is moving:FutureWarning")
def test_dask_runs_exact_quantiles_on_one_partition_and_says_why_not_on_more():
    dd = pytest.importorskip("dask.dataframe")
    pdf = orders().to_pandas()
    spec = "median(amount) < 100\npercentile(amount, 0.9) < 100\nfailed_rows(amount > 50) = 0"
    one = run_checks(dd.from_pandas(pdf, npartitions=1), spec)
    many = run_checks(dd.from_pandas(pdf, npartitions=3), spec)
    want = run_checks(orders(), spec)
    assert [r.observed for r in one.results[:2]] == [r.observed for r in want.results[:2]]
    assert [r.status for r in many.results] == ["error", "error", "fail"]
    assert "only approximately over its 3 partitions" in many.results[0].message
    # a condition runs on any number of partitions (narwhals expressions, not SQL text)
    assert one.results[2].observed == many.results[2].observed == want.results[2].observed > 0


def test_a_check_the_backend_cannot_run_is_an_error_beside_the_others():
    rel = _relation(orders())
    res = run_checks(
        rel,
        "row_count = 60\nreference_missing_count(customer_id) = 0: in nowhere.customer_id",
        namespace={"customers": orders()},
    )
    assert res.results[0].status == "pass"
    assert res.results[1].status == "error"
    assert "no frame named 'nowhere'" in res.results[1].message
