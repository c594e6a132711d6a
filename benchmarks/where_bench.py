"""The 12-check suite where the data lives (issue 11), side by side, each contender in its own
process with its peak RSS.

* **DuckDB**: a DuckDB relation over the orders parquet file. Ours (``run_checks(relation)``,
  the narwhals lazy engine) vs one hand-written fused DuckDB SQL query vs Soda Core's DuckDB data
  source (``--soda-python``: a virtualenv with ``soda-core-duckdb``, which pins an older DuckDB
  and ruamel.yaml than this project, so it cannot share our environment).
* **PostgreSQL** (``DATAOPS_TEST_PG_URL`` or ``--pg-url``): the orders loaded into a table. Ours
  (``run_checks(url, table=...)``, the SQL engine) vs one hand-written SQL query. The peak RSS is
  the client's; the server's memory is not counted.
* **Larger than memory** (``--big-rows``): ours on the batched engine (the route a file larger
  than half the free memory takes; forced here, since the machine has more memory than these
  files) vs ours on one polars streaming pass (the previous route) vs one hand-fused polars
  streaming query.

    python benchmarks/where_bench.py --rows 1000000 --big-rows 10000000 20000000 \\
        --soda-python /tmp/soda-venv/bin/python
    python benchmarks/where_bench.py --skip-sources --big-rows 100000000 --repeats 1

Writes benchmarks/results/where.md and prints it. Every contender's 12 verdicts must agree.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from checks_bench import (  # noqa: E402
    AS_OF,
    CHECKS,
    EMAIL_RE,
    MIN_CREATED,
    SPEC,
    STATUSES,
    _fused_exprs,
    _judge_fused,
    _peak_rss_mb,
    parquet_path,
)

RESULTS = HERE / "results"
TABLE = "bench_orders"


#: files above this many rows are written in chunks of this many (bounded memory while writing)
CHUNK_ROWS = 10_000_000


def big_parquet_path(n: int) -> Path:
    """The orders parquet of ``n`` rows; above ``CHUNK_ROWS`` written chunk by chunk (each chunk
    its own seed, order ids offset so they stay unique and dense over the whole file)."""
    if n <= CHUNK_ROWS:
        return parquet_path(n)
    import pyarrow.parquet as pq
    from checks_bench import DATA, orders

    path = DATA / f"orders_{n}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    writer = None
    try:
        for i, start in enumerate(range(0, n, CHUNK_ROWS)):
            rows = min(CHUNK_ROWS, n - start)
            chunk = orders(rows, seed=42 + i).with_columns(pl.col("order_id") + start)
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
            del chunk, table
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)
    return path


def hand_sql(regex: str) -> str:
    """The suite as one aggregate query; ``regex`` is the dialect's match of email."""
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    return f"""
        SELECT count(*) AS rows,
               count(*) - count(order_id) AS oid_nulls,
               count(DISTINCT order_id) AS oid_distinct,
               count(*) - count(customer_id) AS cust_nulls,
               count(*) FILTER (WHERE status NOT IN ({statuses})) AS status_bad,
               count(*) FILTER (WHERE amount < -100 OR amount > 10000) AS amount_bad,
               avg(amount) AS avg, stddev_samp(amount) AS std,
               count(*) FILTER (WHERE NOT {regex}) AS email_bad,
               count(email) AS email_n,
               max(created_at) AS max_created, min(created_at) AS min_created,
               count(DISTINCT status) AS status_distinct
        FROM {TABLE}"""


def judge_sql(v: dict[str, Any]) -> dict[str, bool]:
    keyed = v["rows"] - v["oid_nulls"]
    v = {**v, "oid_unique": v["oid_distinct"] + (v["oid_nulls"] > 0)}
    v["avg"], v["std"] = float(v["avg"]), float(v["std"])
    if getattr(v["max_created"], "tzinfo", None) is not None:
        v["max_created"] = v["max_created"].replace(tzinfo=None)
        v["min_created"] = v["min_created"].replace(tzinfo=None)
    out = _judge_fused(v)
    out["duplicate_order_id"] = keyed - v["oid_distinct"] == 0
    return out


def ours(data: Any, **kw: Any) -> dict[str, bool]:
    from jupyter_dataops.checks import run_checks

    res = run_checks(data, SPEC, as_of=AS_OF, **kw)
    ours.plan = res.extra["plan"]  # type: ignore[attr-defined]
    return {c: r.status == "pass" for c, r in zip(CHECKS, res.results, strict=True)}


# ---- Soda Core (runs in its own virtualenv) --------------------------------------------------

SODA_CHECKS = rf"""
checks for {TABLE}:
  - row_count between 1000 and 100000000
  - missing_count(order_id) = 0
  - duplicate_count(order_id) = 0
  - missing_percent(customer_id) <= 2
  - invalid_count(status) = 0:
      valid values: [{", ".join(STATUSES)}]
  - invalid_count(amount) = 0:
      valid min: -100
      valid max: 10000
  - avg(amount) between 20 and 80
  - stddev(amount) between 10 and 60
  - invalid_percent(email) <= 5:
      valid regex: '{EMAIL_RE}'
  - freshness(created_at, NOW) < 2d
  - min_created_ok = 1:
      min_created_ok query: |
        SELECT CASE WHEN min(created_at) >= TIMESTAMP '{MIN_CREATED:%Y-%m-%d %H:%M:%S}'
               THEN 1 ELSE 0 END FROM {TABLE}
  - distinct_status = 5:
      distinct_status query: SELECT count(DISTINCT status) FROM {TABLE}
"""

SODA_WORKER = """
import json, sys, time
from pathlib import Path
import duckdb
from soda.scan import Scan
path, checks, as_of, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE VIEW bench_orders AS SELECT * FROM read_parquet('{path}')")
    scan = Scan()
    scan.set_data_source_name("bench")
    scan.add_duckdb_connection(con, data_source_name="bench")
    scan.add_variables({"NOW": as_of})
    scan.add_sodacl_yaml_str(checks)
    scan.execute()
    times.append(time.perf_counter() - t0)
    outcomes = [str(c.outcome).split(".")[-1].lower() for c in scan._checks]
hwm = 0
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1]) / 1024
print(json.dumps({"times": times, "outcomes": outcomes, "peak_rss_mb": hwm,
                  "duckdb": duckdb.__version__}))
"""


def soda(path: Path, python: str, repeats: int) -> dict[str, Any]:
    proc = subprocess.run(
        [
            python,
            "-c",
            SODA_WORKER,
            str(path),
            SODA_CHECKS,
            f"{AS_OF:%Y-%m-%d %H:%M:%S}",
            str(repeats),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"soda failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Soda reports its checks in its own order: map them back by their definitions
    verdicts = dict(zip(CHECKS, [o == "pass" for o in out["outcomes"]], strict=True))
    return {
        "name": f"Soda Core (DuckDB {out['duckdb']})",
        "median": statistics.median(out["times"]),
        "cpu": None,
        "peak_rss_mb": out["peak_rss_mb"],
        "verdicts": verdicts,
    }


# ---- workers: one contender in a fresh process -------------------------------------------------


def pg_load(url: str, path: Path) -> None:
    """The parquet file as table bench_orders (COPY of its CSV)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    df = pl.read_parquet(path)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {TABLE} (order_id bigint, customer_id bigint, status text, "
                    "amount double precision, email text, created_at timestamp)"
                )
            )
            buf = io.BytesIO()
            df.write_csv(buf, include_header=False)
            raw = conn.connection.driver_connection
            with raw.cursor().copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
            conn.execute(sa.text(f"ANALYZE {TABLE}"))
    finally:
        engine.dispose()


def worker(name: str, rows: int, repeats: int, pg_url: str | None) -> dict[str, Any]:
    path = big_parquet_path(rows) if name.startswith("big-") else parquet_path(rows)
    times, cpu = [], []
    verdicts = None
    plan = ""
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        if name == "duckdb-ours":
            import duckdb

            verdicts = ours(duckdb.connect().read_parquet(str(path)))
            plan = ours.plan  # type: ignore[attr-defined]
        elif name == "duckdb-hand":
            import duckdb

            con = duckdb.connect()
            con.execute(f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet('{path}')")
            cur = con.execute(hand_sql(f"regexp_matches(email, '{EMAIL_RE}')"))
            cols = [d[0] for d in cur.description]
            verdicts = judge_sql(dict(zip(cols, cur.fetchone(), strict=True)))
        elif name == "pg-ours":
            verdicts = ours(pg_url, table=TABLE)
            plan = ours.plan  # type: ignore[attr-defined]
        elif name == "pg-hand":
            import sqlalchemy as sa

            engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
            with engine.connect() as conn:
                row = conn.execute(sa.text(hand_sql(f"email ~ '{EMAIL_RE}'"))).mappings().one()
            verdicts = judge_sql(dict(row))
        elif name == "big-batched":
            from jupyter_dataops.checks import planner

            planner.MEMORY_SHARE = planner.BATCHED_SHARE = 0.0
            verdicts = ours(pl.scan_parquet(path))
            plan = ours.plan  # type: ignore[attr-defined]
        elif name == "big-streaming":
            from jupyter_dataops.checks import planner

            planner.MEMORY_SHARE, planner.BATCHED_SHARE = 0.0, float("inf")
            verdicts = ours(pl.scan_parquet(path))
            plan = ours.plan  # type: ignore[attr-defined]
        elif name == "big-polars":
            row = pl.scan_parquet(path).select(_fused_exprs()).collect(engine="streaming")
            verdicts = _judge_fused(row.row(0, named=True))
        else:
            raise SystemExit(f"unknown contender {name}")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "name": name,
        "median": statistics.median(times),
        "cpu": statistics.median(cpu),
        "peak_rss_mb": _peak_rss_mb(),
        "verdicts": verdicts,
        "plan": plan,
    }


def run_worker(name: str, rows: int, repeats: int, pg_url: str | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--rows",
        str(rows),
        "--repeats",
        str(repeats),
    ]
    if pg_url:
        cmd += ["--pg-url", pg_url]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


LABELS = {
    "duckdb-ours": "ours (narwhals lazy engine in DuckDB)",
    "duckdb-hand": "DuckDB SQL by hand (one query)",
    "pg-ours": "ours (SQL engine in PostgreSQL)",
    "pg-hand": "SQL by hand (one query)",
    "big-batched": "ours, batched engine (bounded memory)",
    "big-streaming": "ours, one polars streaming pass (previous route)",
    "big-polars": "hand-fused polars streaming query",
}


def table(title: str, results: list[dict[str, Any]], base: dict[str, Any]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        f"| contender | median s | × {LABELS.get(base['name'], base['name'])} | CPU s "
        "| peak RSS MB | × its RSS | agrees |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        cpu = f"{r['cpu']:.2f}" if r.get("cpu") is not None else "n/a"
        agrees = "yes" if r["verdicts"] == base["verdicts"] else f"NO: {r['verdicts']}"
        lines.append(
            f"| {LABELS.get(r['name'], r['name'])} | {r['median']:.2f} "
            f"| {r['median'] / base['median']:.2f} | {cpu} | {r['peak_rss_mb']:.0f} "
            f"| {r['peak_rss_mb'] / base['peak_rss_mb']:.2f} | {agrees} |"
        )
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for DuckDB and PostgreSQL")
    ap.add_argument("--big-rows", type=int, nargs="*", default=[10_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--polars-max-rows",
        type=int,
        default=20_000_000,
        help="run the polars contenders only up to this size (their memory grows with the file)",
    )
    ap.add_argument("--skip-sources", action="store_true", help="only the larger-than-memory part")
    ap.add_argument("--soda-python", help="python of a virtualenv with soda-core-duckdb")
    ap.add_argument("--pg-url", default=os.environ.get("DATAOPS_TEST_PG_URL"))
    ap.add_argument("--out", type=Path, default=RESULTS / "where.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        out = worker(args.worker, args.rows, args.repeats, args.pg_url)
        print(json.dumps(out, default=str))
        return

    lines = [
        "# Checks where the data lives (issue 11)",
        "",
        f"{os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f} "
        f"at start); medians of {args.repeats} runs, each contender in its own process; peak "
        "RSS is that process's high-water mark (VmHWM). All contenders must agree on the 12 "
        "verdicts.",
        "",
    ]
    n = args.rows
    path = parquet_path(n)
    if not args.skip_sources:
        duck = [run_worker(w, n, args.repeats, None) for w in ("duckdb-hand", "duckdb-ours")]
        if args.soda_python:
            duck.append(soda(path, args.soda_python, args.repeats))
        lines += table(f"DuckDB relation over a {n:,}-row parquet file", duck, duck[0])
    if args.pg_url and not args.skip_sources:
        pg_load(args.pg_url, path)
        pg = [run_worker(w, n, args.repeats, args.pg_url) for w in ("pg-hand", "pg-ours")]
        lines += table(f"PostgreSQL table of {n:,} rows (client RSS)", pg, pg[0])
    for big in args.big_rows:
        big_parquet_path(big)
        if big > args.polars_max_rows:  # polars' streaming pass would need ~9 GB at 100M rows
            runs = [run_worker("big-batched", big, args.repeats, None)]
            lines += table(
                f"{big:,}-row parquet file ({big_parquet_path(big).stat().st_size / 2**30:.1f} "
                f"GiB): ours only (polars streaming above {args.polars_max_rows:,} rows not run)",
                runs,
                runs[0],
            )
            lines += ["```text", runs[0]["plan"], "```", ""]
            continue
        runs = [
            run_worker(w, big, args.repeats, None)
            for w in ("big-polars", "big-batched", "big-streaming")
        ]
        lines += table(f"{big:,}-row parquet file, as if larger than memory", runs, runs[0])
        lines += ["```text", runs[1]["plan"], "```", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
