"""Scheduler benchmark: two `dataops scheduler` processes on one store, real time, real kernels.

    python benchmarks/scheduler_bench.py [--seconds 60] [--every 2] [--store URL] [--json]

A one-step pipeline (a tiny notebook that fails when it runs on an odd second, so some
runs fail) is scheduled every ``--every`` seconds; two schedulers race for its ticks for
``--seconds`` seconds, then get SIGTERM. A local webhook (http.server) collects the `failure`
alerts. Prints: ticks claimed, runs started, ticks skipped (the previous run still running),
duplicates (ticks started twice: must be 0), alerts delivered vs failed runs, and the median time
from a tick to its step starting and to its kernel running the first cell.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("fail_odd = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import time\nif fail_odd and int(time.time()) % 2:\n    raise ValueError('odd second')"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def webhook() -> tuple[ThreadingHTTPServer, list[dict]]:
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--every", type=int, default=2, help="schedule period in seconds")
    parser.add_argument("--store", default=None, help="store URL (default: SQLite in the project)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from jupyter_dataops.pipeline.execution.promote import promote
    from jupyter_dataops.store import open_store

    root = Path(tempfile.mkdtemp(prefix="dataops-sched-bench-"))
    notebook(root / "job.ipynb")
    url = args.store or f"sqlite:///{root / '.dataops' / 'dataops.db'}"
    (root / "dataops.yaml").write_text(f"pipeline: bench\nstore: '{url}'\nsteps: {{}}\n")
    promote(root / "job.ipynb", "job", pipeline_file=root / "dataops.yaml")
    server, bodies = webhook()
    (root / "dataops.yaml").write_text(
        f"pipeline: bench\nstore: '{url}'\n"
        f"alerts:\n  - webhook: http://127.0.0.1:{server.server_port}/hook\n    on: [failure]\n"
        "steps:\n  job:\n    notebook: job.ipynb\n"
        f'    schedule: "* * * * * */{args.every}"\n    parameters: {{fail_odd: true}}\n'
    )
    cmd = [sys.executable, "-m", "jupyter_dataops.cli", "scheduler", "--interval", "0.5"]
    procs = [subprocess.Popen(cmd, cwd=root, stderr=subprocess.DEVNULL) for _ in range(2)]
    time.sleep(args.seconds)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = [p.wait(timeout=120) for p in procs]
    time.sleep(1)
    server.shutdown()

    import nbformat

    with open_store(url) as store:
        claims = store.list_scheduled_runs(pipeline="bench", limit=100_000)
        runs = [
            r
            for r in store.list_pipeline_runs(pipeline="bench", limit=100_000)
            if r["trigger"] == "schedule"
        ]
        keys = [(c["step"], c["scheduled_for"]) for c in claims]
        started = [c for c in claims if c["status"] == "started"]
        per_run: dict[int, int] = {}
        for c in started:
            per_run[c["pipeline_run_id"]] = per_run.get(c["pipeline_run_id"], 0) + 1
        to_step, to_kernel = [], []
        for c in started:
            run = store.get_pipeline_run(c["pipeline_run_id"])
            step = run["steps"][0] if run and run["steps"] else None
            tick = datetime.fromisoformat(c["scheduled_for"])
            if step and step["started_at"]:
                to_step.append((datetime.fromisoformat(step["started_at"]) - tick).total_seconds())
            detail = store.get_run(step["id"]) if step else None
            path = Path(detail["notebook_path"]) if detail and detail["notebook_path"] else None
            if path and path.exists():
                cells = nbformat.read(path, 4).cells
                first = cells[0].metadata.get("papermill", {}).get("start_time") if cells else None
                if first:
                    began = datetime.fromisoformat(first.replace("Z", "+00:00"))
                    to_kernel.append((began - tick).total_seconds())
        failed = [r for r in runs if r["status"] == "failed"]
        result = {
            "seconds": args.seconds,
            "schedule_every_s": args.every,
            "store": store.dialect,
            "scheduler_exit_codes": codes,
            "ticks_claimed": len(claims),
            "by_scheduler": sorted(
                sum(1 for c in claims if c["scheduler_id"] == s)
                for s in {c["scheduler_id"] for c in claims}
            ),
            "runs_started": len(runs),
            "ticks_skipped_busy": sum(1 for c in claims if c["status"] == "skipped"),
            "duplicates": (len(keys) - len(set(keys)))
            + sum(n - 1 for n in per_run.values())
            + (len(runs) - len(per_run)),
            "failed_runs": len(failed),
            "alerts_delivered": len(bodies),
            "median_tick_to_step_start_s": statistics.median(to_step) if to_step else None,
            "median_tick_to_kernel_first_cell_s": statistics.median(to_kernel)
            if to_kernel
            else None,
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:36} {v:.3f}" if isinstance(v, float) else f"{k:36} {v}")


if __name__ == "__main__":
    main()
