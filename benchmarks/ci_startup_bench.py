"""What a Python process of the test suite pays before it does anything (issue 21 item 6).

Side by side in one run, each case in fresh subprocesses, interleaved, CPU-s of the child
(user + sys) and wall:

* ``import nbformat`` / ``import altair`` with rfc3987-syntax importable (as installed) and
  without it (what ``.ci/run`` leaves out): jsonschema imports it when present and it builds 38
  lark parsers; every ``dataops`` command, kernel template and Jupyter server imports jsonschema.
* ``pytest --collect-only`` of the whole suite with ``PYTHONDONTWRITEBYTECODE=1`` (every test
  module and pytest plugin rewritten and compiled again in each worker; the .pyc pip wrote in
  site-packages are read) and with bytecode written (a private ``PYTHONPYCACHEPREFIX``, warmed by
  one run first; ``.ci/run`` unsets PYTHONDONTWRITEBYTECODE).

    python benchmarks/ci_startup_bench.py [--repeat 3] [--no-collect]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = "import sys; sys.modules['rfc3987_syntax'] = None; "


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench(cases: dict[str, tuple[list[str], dict[str, str]]], repeat: int) -> dict:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (cmd, env) in cases.items():  # interleaved: the machine's load hits both
            runs[name].append(timed(cmd, env))
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-collect", action="store_true", help="skip the pytest collection")
    args = parser.parse_args()
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"load average before: {os.getloadavg()}")
    py = sys.executable
    pairs = [
        ("import nbformat", "import nbformat"),
        ("import altair", "import altair"),
    ]
    for label, code in pairs:
        got = bench(
            {"with": ([py, "-c", code], env), "without": ([py, "-c", BLOCK + code], env)},
            args.repeat,
        )
        (w1, c1), (w0, c0) = got["with"], got["without"]
        print(
            f"{label:<16} with rfc3987-syntax {c1:5.2f} CPU-s ({w1:5.2f} s wall); "
            f"without {c0:5.2f} CPU-s ({w0:5.2f} s wall); ratio {c0 / c1:.2f}"
        )
    if not args.no_collect:
        with tempfile.TemporaryDirectory() as prefix:
            cached = {**env, "PYTHONPYCACHEPREFIX": prefix}
            uncached = {**env, "PYTHONDONTWRITEBYTECODE": "1"}  # site-packages' own .pyc only
            cmd = [py, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"]
            timed(cmd, cached)  # warms the prefix: what the first pytest worker writes
            got = bench({"off": (cmd, uncached), "on": (cmd, cached)}, max(1, args.repeat - 1))
        (w1, c1), (w0, c0) = got["off"], got["on"]
        print(
            f"pytest collect   bytecode not written {c1:5.2f} CPU-s ({w1:5.2f} s wall); "
            f"written {c0:5.2f} CPU-s ({w0:5.2f} s wall); ratio {c0 / c1:.2f}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
