"""Notebook widgets on a large run history (issue 5 item 1: "100k runs without freezing").

Seeds a store with 100k step runs (``store_bench.seed_store``) and times what a click costs in
the kernel: building the history widget, paging (next page, last page), filtering, opening one
run's detail, and drawing a control chart of the newest 500 points. Side by side:

* the same widget actions on a 1k-run store (paging keeps the cost flat: ratio ~1);
* the naive alternative a widget without paging would do: load every run of the store into the
  table (``list_runs(limit=total)``) and render it as HTML;
* the chart over every point of the metric (``last=None``) instead of the newest 500.

    python benchmarks/widgets_bench.py              # 100k vs 1k runs (SQLite, temp folder)
    python benchmarks/widgets_bench.py --runs 20000 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from store_bench import seed_store  # noqa: E402

from jupyter_dataops.store import open_store  # noqa: E402
from jupyter_dataops.widgets._format import badge, check_counts, esc, when  # noqa: E402
from jupyter_dataops.widgets.chart import MetricChartWidget  # noqa: E402
from jupyter_dataops.widgets.history import RunHistory  # noqa: E402


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def naive_table(store) -> str:  # noqa: ANN001
    """What a history view without paging does: every run into one HTML table."""
    runs = store.list_runs(limit=store.count_runs())
    return "".join(
        f"<tr><td>{r['id']}</td><td>{badge(r['status'])}</td><td>{esc(r['step'])}</td>"
        f"<td>{when(r['started_at'])}</td><td>{check_counts(r['checks'])}</td></tr>"
        for r in runs
    )


def measure(url: str, repeat: int, naive: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    with open_store(url) as store:
        total = store.count_runs()
        out["build history widget (first page of 20)"] = median_ms(
            lambda: RunHistory(store), repeat
        )
        widget = RunHistory(store)
        out["next page"] = (
            median_ms(lambda: (widget.next_button.click(), widget.prev_button.click()), repeat) / 2
        )

        def last_page() -> None:
            widget.offset = (total - 1) // widget.page_size * widget.page_size
            widget.refresh()

        out["jump to the last (oldest) page"] = median_ms(last_page, repeat)

        def filter_step_status() -> None:
            widget.step_filter.value = "step3"
            widget.status_filter.value = "failed"
            widget.step_filter.value = "__all__"
            widget.status_filter.value = "__all__"

        out["filter step+status (4 changes)"] = median_ms(filter_step_status, repeat)
        run_id = widget.rows[0]["id"]
        out["open one run's detail"] = median_ms(lambda: widget.show_run(run_id), repeat)
        out["chart: newest 500 points, I chart"] = median_ms(
            lambda: MetricChartWidget(store, "step1", "row_count", last=500), repeat
        )
        if naive:
            out["alt: chart over all points (last=None)"] = median_ms(
                lambda: MetricChartWidget(store, "step1", "row_count", last=None),
                max(1, repeat // 2),
            )
            out["alt: naive table of every run"] = median_ms(
                lambda: naive_table(store), max(1, repeat // 3)
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, small = f"sqlite:///{tmp}/big.db", f"sqlite:///{tmp}/small.db"
        seeded = seed_store(big, runs=args.runs)
        seed_store(small, runs=args.small)
        large = measure(big, args.repeat, naive=True)
        little = measure(small, args.repeat, naive=False)
    result = {
        "runs": args.runs,
        "small": args.small,
        "seed_seconds": seeded["seconds"],
        "large_ms": large,
        "small_ms": little,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"widgets on {args.runs:,} runs vs {args.small:,} runs (SQLite, median of "
        f"{args.repeat}; seeding took {seeded['seconds']:.1f} s)"
    )
    print(f"{'action':44} {args.runs // 1000}k runs ms  {args.small // 1000}k runs ms  ratio")
    for name, ms in large.items():
        if name in little:
            print(f"{name:44} {ms:12.1f} {little[name]:12.1f} {ms / little[name]:6.2f}")
    base = large["build history widget (first page of 20)"]
    for name, ms in large.items():
        if name.startswith("alt:"):
            print(f"{name:44} {ms:12.1f}   (x{ms / base:.0f} the paged widget)")


if __name__ == "__main__":
    main()
