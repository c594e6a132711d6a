"""Individuals chart with all eight Nelson rules on 1M points: jupyter_dataops.spc (numpy,
vectorised) against a plain-Python single-pass loop of the same rules. Both must agree.

    python benchmarks/spc_bench.py [--points 1000000] [--repeat 5]

Prints median wall times and the ratio. Target: ≤ 0.2 s for the vectorised chart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque

import numpy as np

from jupyter_dataops import spc


def loop_i_chart_nelson(x: list[float]) -> tuple[float, float, dict[str, list[int]]]:
    """I chart (MR̄/1.128) and Nelson rules 1-8 in one pass with run counters, plain Python."""
    n = len(x)
    mr = 0.0
    for i in range(1, n):
        mr += abs(x[i] - x[i - 1])
    sigma = mr / (n - 1) / 1.128
    centre = sum(x) / n
    ucl, lcl = centre + 3 * sigma, centre - 3 * sigma
    out: dict[str, list[int]] = {f"N{k}": [] for k in range(1, 9)}
    above = below = up = down = flips = within = outside = 0
    last2a: deque[bool] = deque(maxlen=3)
    last2b: deque[bool] = deque(maxlen=3)
    last1a: deque[bool] = deque(maxlen=5)
    last1b: deque[bool] = deque(maxlen=5)
    prev_dx = 0.0
    for i, v in enumerate(x):
        d = v - centre
        if v > ucl or v < lcl:
            out["N1"].append(i)
        above = above + 1 if d > 0 else 0
        below = below + 1 if d < 0 else 0
        if above >= 9 or below >= 9:
            out["N2"].append(i)
        if i > 0:
            dx = v - x[i - 1]
            up = up + 1 if dx > 0 else 0
            down = down + 1 if dx < 0 else 0
            flips = flips + 1 if dx * prev_dx < 0 else 0
            prev_dx = dx
            if up >= 5 or down >= 5:
                out["N3"].append(i)
            if flips >= 12:
                out["N4"].append(i)
        a2, b2 = d > 2 * sigma, d < -2 * sigma
        last2a.append(a2)
        last2b.append(b2)
        if (a2 and sum(last2a) >= 2) or (b2 and sum(last2b) >= 2):
            out["N5"].append(i)
        a1, b1 = d > sigma, d < -sigma
        last1a.append(a1)
        last1b.append(b1)
        if (a1 and sum(last1a) >= 4) or (b1 and sum(last1b) >= 4):
            out["N6"].append(i)
        within = within + 1 if abs(d) < sigma else 0
        if within >= 15:
            out["N7"].append(i)
        outside = outside + 1 if (a1 or b1) else 0
        if outside >= 8:
            out["N8"].append(i)
    return centre, sigma, out


def _median_time(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--loop-repeat", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(2026)
    # in-control noise with a drifting mean so every Nelson rule has something to flag
    t = np.arange(args.points)
    x = rng.normal(size=args.points) + 0.8 * np.sin(t / 500.0)
    x = np.round(x, 2)  # ties: equal neighbours and points at the centre happen
    xs = x.tolist()

    spc.control_chart(x[:1000], "i", rules="nelson")  # warm up imports
    vec_t, cc = _median_time(lambda: spc.control_chart(x, "i", rules="nelson"), args.repeat)
    loop_t, (centre, sigma, flags) = _median_time(lambda: loop_i_chart_nelson(xs), args.loop_repeat)

    assert abs(cc.center[0] - centre) <= 1e-9 * abs(centre) + 1e-12, (cc.center[0], centre)
    assert abs(cc.sigma[0] - sigma) <= 1e-9 * sigma, (cc.sigma[0], sigma)
    assert cc.violations == flags, {k: (len(cc.violations[k]), len(flags[k])) for k in flags}

    counts = ", ".join(f"{k}={len(v)}" for k, v in cc.violations.items())
    print(f"individuals chart + Nelson rules 1-8 on {args.points:,} points (flags: {counts})")
    print(f"  jupyter_dataops.spc (numpy)  median {vec_t * 1000:8.1f} ms  ({args.repeat} runs)")
    print(
        f"  plain-Python loop            median {loop_t * 1000:8.1f} ms  ({args.loop_repeat} runs)"
    )
    print(f"  ratio loop / spc             {loop_t / vec_t:8.1f}x")
    print(f"  target <= 200 ms: {'met' if vec_t <= 0.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
