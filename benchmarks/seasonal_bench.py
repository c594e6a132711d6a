"""Seasonal against plain SPC on the sample factory's 60 days of orders (issue 24 item 1).

Replays the ingest step's two row-count lines over the shipped raw files, day by day, as the
pipeline judges them: ``fail: spc row_count`` (one I chart, a frozen baseline of 20 days) and
``warn: spc row_count: seasonal weekday, baseline N`` (one baseline per weekday), for several N.
A day the plain line fails never enters the history (its step failed); a day only the seasonal
line warns on does. Prints, per line, the days flagged, the faults caught (a volume fault:
``half_empty``, ``duplicated_load``, ``weekend_volume``) and the false alarms (any other day
flagged), side by side. The numbers are the ``spc`` room's own (``control_chart``,
``seasonal_chart``); ``tests/cli/test_demo.py`` proves the real pipeline flags the same days for
the N the sample uses.

    python benchmarks/seasonal_bench.py [--baselines 3 4 5 6 7 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
from pathlib import Path

from jupyter_dataops.spc import control_chart
from jupyter_dataops.spc.seasonal import season_of, seasonal_chart

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"
VOLUME_FAULTS = ("half_empty", "duplicated_load", "weekend_volume")
PLAIN_BASELINE = 20


def faults() -> dict[str, tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("make_data", SAMPLES / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return dict(module.FAULTS)


def day_counts() -> dict[str, int]:
    raw = SAMPLES / "data" / "raw"
    out = {}
    for path in sorted(raw.glob("orders_*.csv")):
        with path.open() as f:
            out[path.stem.removeprefix("orders_")] = sum(1 for _ in f) - 1
    return out


def replay(counts: dict[str, int], baseline: int, failing: set[str]) -> tuple[list, list]:
    """(days the plain line flags, days the seasonal line flags). ``failing``: days another
    fail line (duplicate_count) stops, kept out of the history like the plain line's."""
    plain, seasonal = [], []
    history: list[tuple[str, float]] = []
    for day, value in counts.items():
        season = season_of("weekday", dt.date.fromisoformat(day))
        values = [v for _, v in history]
        plain_flag = False
        if len(values) >= PLAIN_BASELINE:
            cc = control_chart([*values, value], "i", phase1=PLAIN_BASELINE, rules="qcc")
            plain_flag = any(len(values) in idx for idx in cc.violations.values())
        seasonal_flag = False
        if sum(1 for s, _ in history if s == season) >= baseline:
            sc = seasonal_chart([*history, (season, value)], baseline, rules="qcc")
            seasonal_flag = bool(sc.broken_at(-1))
        if plain_flag:
            plain.append(day)
        if seasonal_flag:
            seasonal.append(day)
        if not plain_flag and day not in failing:
            history.append((season, float(value)))
    return plain, seasonal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baselines", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8])
    args = parser.parse_args()
    known = faults()
    volume = {d for d, (kind, _) in known.items() if kind in VOLUME_FAULTS}
    failing = {d for d, (kind, _) in known.items() if kind == "duplicated_load"}
    counts = day_counts()
    print(f"{len(counts)} days; volume faults on {', '.join(sorted(volume))}\n")
    print("| line | days flagged | faults caught | false alarms |")
    print("| --- | --- | ---: | ---: |")
    for n in args.baselines:
        plain, seasonal = replay(counts, n, failing)
        if n == args.baselines[0]:
            caught = len(set(plain) & volume)
            print(
                f"| plain I, baseline {PLAIN_BASELINE} | {', '.join(plain)} | "
                f"{caught}/{len(volume)} | {len(set(plain) - volume)} |"
            )
        caught = len(set(seasonal) & volume)
        print(
            f"| seasonal weekday, baseline {n} | {', '.join(seasonal)} | {caught}/{len(volume)} | "
            f"{len(set(seasonal) - volume)} |"
        )


if __name__ == "__main__":
    main()
