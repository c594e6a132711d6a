"""Redaction time against value length (issue 22 item 1): the scan is linear, the old pattern
was not.

Times ``redact_parameters`` on one parameter of growing length, for several shapes of hostile
text (a long run of letters, a URL with a long user or password and no ``@``, many short URLs),
side by side with the backtracking pattern it replaced (``--old`` only up to 40,000 characters:
it takes seconds there). Prints medians and the ratio of each length's time to the previous
length's time (about the length ratio for a linear scan, its square or worse for the old one),
and how long refusing a 1 MB ``-p`` value takes.

    python benchmarks/redact_bench.py
    python benchmarks/redact_bench.py --old          # also the old pattern (slow)
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable

from jupyter_dataops.store.redact import REDACTED, redact_parameters

OLD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]+:)(?P<pw>[^@/\s]+)(?=@)")
LENGTHS = (5_000, 20_000, 40_000, 160_000, 1_000_000)
SHAPES: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "word pairs": lambda n: "aB" * (n // 2),
    "url, long user": lambda n: "db://" + "u" * n,
    "url, long password": lambda n: "db://u:" + "p" * n,
    "many urls": lambda n: "db://u:p@h " * (n // 11),
    "colons": lambda n: "a:" * (n // 2),
}


def median_seconds(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def old_redact(text: str) -> str:
    return OLD.sub(lambda m: m.group("head") + REDACTED, text)


def refuse_seconds(n: int) -> float:
    from jupyter_dataops.pipeline.definition.notebook import ParameterError
    from jupyter_dataops.pipeline.definition.secret_params import parse_item

    item = "run_date=" + "x" * n

    def refuse() -> None:
        try:
            parse_item(item)
        except ParameterError:
            return
        raise AssertionError("a 1 MB value was accepted")

    return median_seconds(refuse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help="also time the old pattern")
    args = parser.parse_args()
    print("| shape | chars | ours ms | × previous length | old ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for shape, make in SHAPES.items():
        previous = None
        for n in LENGTHS:
            text = make(n)
            ours = median_seconds(lambda text=text: redact_parameters({"value": text}))
            old = ""
            if args.old and n <= 40_000:
                old = f"{1000 * median_seconds(lambda text=text: old_redact(text), 1):.1f}"
            growth = f"{ours / previous:.1f}" if previous else ""
            print(f"| {shape} | {n:,} | {1000 * ours:.2f} | {growth} | {old} |")
            previous = max(ours, 1e-6)
    print(f"\nrefusing a 1 MB -p value: {1000 * refuse_seconds(1_000_000):.2f} ms")


if __name__ == "__main__":
    main()
