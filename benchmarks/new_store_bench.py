"""A new run store: made from the models and stamped head, against every migration run in turn.

Each sample is a fresh process that opens a new, empty store (what a new project's first
``dataops`` command, a test's fixture or a kernel's first ``%%dataops_test`` pays):

- ``models``: ``open_store`` as shipped (``engine._create_fresh``: ``create_all`` + the version
  row, no Alembic import);
- ``migrations``: the same empty database brought to head by Alembic, migration by migration
  (``engine._upgrade``: what ``open_store`` did before).

The two alternate, A B A B, and the ratio is taken pair by pair.

    python benchmarks/new_store_bench.py [--pg] [--repeats 9]

``--pg`` uses the PostgreSQL of ``DATAOPS_TEST_PG_URL`` (a new schema per sample).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = """
import resource, sys, time
t0 = time.perf_counter()
from jupyter_dataops.store import engine, open_store
url, way = sys.argv[1], sys.argv[2]
if way == "models":
    open_store(url).close()
else:
    e = engine.create_store_engine(url)
    engine._upgrade(e, url, [])
    e.dispose()
r = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, r.ru_utime + r.ru_stime)
"""


def _sample(url: str, way: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", SAMPLE, url, way], capture_output=True, text=True, check=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def _new_url(backend: str, folder: Path, i: int):
    from jupyter_dataops.store.testing import store_url

    (folder / str(i)).mkdir()
    return store_url(backend, folder / str(i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    backend = "postgresql" if args.pg else "sqlite"
    got: dict[str, list[tuple[float, float]]] = {"models": [], "migrations": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder, i = Path(tmp), 0
        for _ in range(args.repeats + 1):  # the first pair warms the disk cache: not counted
            for way in ("models", "migrations"):
                i += 1
                with _new_url(backend, folder, i) as url:
                    got[way].append(_sample(url, way))
    load = os.getloadavg()[0]
    print(f"a new run store on {backend}, {args.repeats} pairs, load {load:.1f}")
    for k, name in ((0, "wall s"), (1, "CPU s")):
        a = [x[k] for x in got["models"][1:]]
        b = [x[k] for x in got["migrations"][1:]]
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(
            f"  {name}: models {statistics.median(a):.3f}, migrations {statistics.median(b):.3f}"
            f"  ratio {ratio:.2f}x"
        )
    print(time.strftime("%Y-%m-%d %H:%M:%S"))


if __name__ == "__main__":
    main()
