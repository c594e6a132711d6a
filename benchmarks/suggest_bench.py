"""``dataops suggest`` on the benchmark orders table (``checks_bench.orders``): how many checks it
writes, how long profiling and then running them take, and which corruptions they catch.

    python benchmarks/suggest_bench.py                 # 1M rows
    python benchmarks/suggest_bench.py --rows 200000

Prints a markdown report and writes it to benchmarks/results/suggest.md.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import polars as pl
from checks_bench import AS_OF, RESULTS, parquet_path

from jupyter_dataops.checks import run_checks
from jupyter_dataops.checks.suggest import suggest


def _set(df: pl.DataFrame, col: str, rows: list[int], value) -> pl.DataFrame:  # noqa: ANN001
    idx = pl.int_range(pl.len())
    lit = pl.lit(value, dtype=df.schema[col])
    return df.with_columns(pl.when(idx.is_in(rows)).then(lit).otherwise(pl.col(col)).alias(col))


CORRUPTIONS = {
    "new nulls (order_id)": lambda df: _set(df, "order_id", [10, 20], None),
    "duplicated key (order_id)": lambda df: _set(df, "order_id", [10], df["order_id"][0]),
    "unseen category (status)": lambda df: _set(df, "status", [10], "lost"),
    "out-of-range value (amount = 1e6)": lambda df: _set(df, "amount", [10], 1e6),
    "negative amount": lambda df: _set(df, "amount", [10], -5.0),
    "malformed emails (+5% of rows)": lambda df: df.with_columns(
        pl.when(pl.int_range(pl.len()) % 20 == 0)
        .then(pl.lit("nobody"))
        .otherwise(pl.col("email"))
        .alias("email")
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    path = parquet_path(args.rows)
    t0 = time.perf_counter()
    s = suggest(pl.scan_parquet(path), as_of=AS_OF)
    t_suggest = time.perf_counter() - t0
    df = pl.read_parquet(path)
    t0 = time.perf_counter()
    own = run_checks(df, s.text, as_of=AS_OF)
    t_run = time.perf_counter() - t0
    kinds = Counter(line.kind for line in s.lines)
    out = [
        f"# dataops suggest on the orders table ({args.rows:,} rows)",
        "",
        f"- {len(s.lines)} checks: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
        f"- profiling (one planned pass over the parquet file): {t_suggest:.2f} s",
        f"- running the suggested suite on the frame in memory: {t_run:.2f} s",
        f"- on the data it came from: {'PASSED' if own.passed else 'FAILED'} {own.counts}",
        "",
        "| corruption | caught by |",
        "| --- | --- |",
    ]
    for name, corrupt in CORRUPTIONS.items():
        res = run_checks(corrupt(df), s.text, as_of=AS_OF)
        failing = [r.source.split("  #")[0] for r in res.results if r.status == "fail"]
        out.append(f"| {name} | {'; '.join(f'`{f}`' for f in failing) or 'NOT CAUGHT'} |")
    out += ["", "```", s.text.rstrip(), "```"]
    text = "\n".join(out) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "suggest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
