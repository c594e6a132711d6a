"""failed_rows conditions before and after the condition language, side by side in one run.

* polars: before, ``pl.sql_expr(condition)`` over the frame with NaN filled as null in the float
  columns it reads (``with_columns`` first); after, ``checks.conditions.to_polars`` (the
  never-null "is true" expression, NaN read as null inside it), summed in one select.
* DuckDB relation: before, one SQL-text filter and count per condition (``rel.filter``, float NaN
  swapped for NULL by a projection); after, every condition compiled to a narwhals expression
  and summed in one select.

The counts must agree (asserted); the figure is the median over interleaved repeats.

    python benchmarks/conditions_bench.py --rows 2000000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import narwhals as nw
import numpy as np
import polars as pl

from jupyter_dataops.checks import conditions

CONDITIONS = [
    "amount > 900",
    "NOT (amount BETWEEN 10 AND 990) OR qty IS NULL",
    "status IN ('lost', 'returned') AND qty > 3",
    "LOWER(status) LIKE 'ret%'",
    "amount / (qty + 1) > 100",
]


def frame(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.uniform(0, 1000, n)
    amount[rng.random(n) < 0.01] = np.nan
    qty = pl.Series("qty", rng.integers(0, 10, n)).set(pl.Series(rng.random(n) < 0.02), None)
    status = rng.choice(["new", "shipped", "returned", "lost"], n)
    return pl.DataFrame({"amount": amount, "qty": qty, "status": status})


def polars_before(df: pl.DataFrame) -> list[int]:
    floats = [pl.col(c).fill_nan(None) for c, t in df.schema.items() if t.is_float()]
    exprs = [pl.sql_expr(c).sum().alias(f"_{i}") for i, c in enumerate(CONDITIONS)]
    return list(df.lazy().with_columns(floats).select(exprs).collect().row(0))


def polars_after(df: pl.DataFrame) -> list[int]:
    schema = dict(df.schema)
    exprs = [conditions.to_polars(c, schema).sum().alias(f"_{i}") for i, c in enumerate(CONDITIONS)]
    return list(df.lazy().select(exprs).collect().row(0))


def duckdb_before(rel) -> list[int]:  # noqa: ANN001
    swap = 'CASE WHEN isnan("amount") THEN NULL ELSE "amount" END AS "amount"'
    clean = rel.project(f"* REPLACE ({swap})")
    return [clean.filter(c).aggregate("count(*)").fetchall()[0][0] for c in CONDITIONS]


def duckdb_after(rel) -> list[int]:  # noqa: ANN001
    lf = nw.from_native(rel)
    schema = {"amount": pl.Float64(), "qty": pl.Int64(), "status": pl.String()}
    exprs = [
        conditions.to_narwhals(c, schema).sum().alias(f"_{i}") for i, c in enumerate(CONDITIONS)
    ]
    return [int(v) for v in lf.select(exprs).collect().row(0)]


def timed(fn, arg) -> tuple[float, list[int]]:  # noqa: ANN001
    t0 = time.perf_counter()
    out = fn(arg)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import duckdb

    df = frame(args.rows)
    con = duckdb.connect()
    con.register("t_arrow", df.to_arrow())
    con.execute("CREATE TABLE t AS SELECT * FROM t_arrow")
    rel = con.table("t")
    pairs = {
        "polars": (polars_before, polars_after, df),
        "duckdb": (duckdb_before, duckdb_after, rel),
    }
    out = {}
    for name, (before, after, data) in pairs.items():
        assert before(data) == after(data), name  # warm-up, and the counts agree
        tb, ta = [], []
        for _ in range(args.repeats):  # interleaved: load changes hit both alike
            tb.append(timed(before, data)[0])
            ta.append(timed(after, data)[0])
        b, a = statistics.median(tb), statistics.median(ta)
        out[name] = {
            "before_s": round(b, 4),
            "after_s": round(a, 4),
            "after/before": round(a / b, 2),
        }
    print(json.dumps({"rows": args.rows, "conditions": len(CONDITIONS), **out}, indent=1))


if __name__ == "__main__":
    main()
