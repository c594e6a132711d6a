"""The chart route's work at a year of history (issue 26 item 1): 10,000 points of one metric.

Seeds a store with `store_bench.seed_store` (default 100k step runs over 10 steps: 10,000 points
of `row_count` per step) and times, side by side in one run, what `GET /dataops/api/metrics`
does to answer, as medians:

- before: `metric_chart` + the altair picture validated point by point (`MetricChart.
  _picture_spec`, the path before `chart_spec`) + every point's dict, dumped as JSON;
- now, every point: `metric_chart` + `to_dict(points=False)` (the plain-dict spec with compact
  rows), dumped compact as the route does;
- now, the panel's window (the newest 90 points) and its older page (`before=`).

    python benchmarks/chart_bench.py                  # SQLite in a temp folder
    python benchmarks/chart_bench.py --runs 20000     # 2,000 points per step
    python benchmarks/chart_bench.py --url postgresql+psycopg://...  # an empty server database
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from store_bench import seed_store  # noqa: E402

from jupyter_dataops.pipeline.views.charts import metric_chart  # noqa: E402
from jupyter_dataops.store import open_store  # noqa: E402

TARGET_S = 0.2
TARGET_BYTES = 1_000_000


def before_answer(store: Any, step: str, metric: str) -> bytes:
    """The answer as it was built before: altair layers validated point by point, the points'
    dicts beside them, JSON with default separators."""
    chart = metric_chart(store, step, metric)
    answer = chart.to_dict(points=True)
    answer["spec"] = chart._picture_spec()
    return json.dumps(answer, default=str).encode()


def now_answer(store: Any, step: str, metric: str, **window: Any) -> bytes:
    """The answer as the route builds it now."""
    chart = metric_chart(store, step, metric, **window)
    body = json.dumps(chart.to_dict(points=False), default=str, separators=(",", ":"))
    return body.encode()


def timed(fn: Callable[[], bytes], repeats: int) -> tuple[float, int]:
    """Median seconds of ``fn`` over ``repeats`` (after one warm-up) and its answer's size."""
    size = len(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before-repeats", type=int, default=1, help="the slow path's repeats")
    parser.add_argument("--url", help="an empty store (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dataops-chart-bench-"))
    try:
        url = args.url or f"sqlite:///{tmp / 'bench.db'}"
        seeded = seed_store(url, runs=args.runs, steps=args.steps)
        step, metric = "step1", "row_count"
        with open_store(url) as store:
            points = len(store.metric_series(step, metric))
            total = metric_chart(store, step, metric, last=90).window["total"]
            cases = {
                "before: altair, every point": (
                    lambda: before_answer(store, step, metric),
                    args.before_repeats,
                ),
                "now: every point": (lambda: now_answer(store, step, metric), args.repeats),
                "now: newest 90 (panel)": (
                    lambda: now_answer(store, step, metric, last=90),
                    args.repeats,
                ),
                "now: an older page of 90": (
                    lambda: now_answer(store, step, metric, last=90, before=total // 2),
                    args.repeats,
                ),
            }
            figures = {name: timed(fn, n) for name, (fn, n) in cases.items()}
        if args.json:
            print(json.dumps({"seed": seeded, "points": points, "figures": figures}, indent=2))
            return 0
        print(
            f"{seeded['runs']:,} step runs ({url.split(':')[0]}); {points:,} points of "
            f"{metric} in {step}"
        )
        base_s, base_b = figures["before: altair, every point"]
        print(f"{'answer':30} {'median s':>9} {'bytes':>11} {'x faster':>9} {'x smaller':>10}")
        for name, (s, b) in figures.items():
            print(f"{name:30} {s:9.3f} {b:11,} {base_s / s:9.1f} {base_b / b:10.1f}")
        s, b = figures["now: every point"]
        print(
            f"every point: target <= {TARGET_S} s and <= {TARGET_BYTES:,} bytes: "
            f"{'met' if s <= TARGET_S else 'MISSED'} / {'met' if b <= TARGET_BYTES else 'MISSED'}"
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
