"""The REST list routes and the chart at 100k step runs behind a real `jupyter server`
(issue 26 item 3): one client's latency per route, then 16 concurrent clients' throughput.

Seeds a project's store with `store_bench.seed_store` (100k step runs over 10 steps; kept under
/tmp with `--keep`), starts `jupyter server` on it (the extension enabled as installed), and asks
the panel's routes: runs, pipelines, status, a run's detail, a step's metrics and the chart's
default window. Prints the median and p99 per route for one client, then answers/s and p99 for
16 clients (threads, one keep-alive connection each) over `--seconds`, with the status codes
seen. Side by side in one run: the server as shipped (answers kept per store generation) and
with `--DataOpsExtension.answer_cache_mb=0` (every request reads the store). Beside them, the
store work of `dataops runs` (`history.list_runs`, 20 rows, and `--step`).

    python benchmarks/routes_bench.py [--runs 100000] [--seconds 20] [--clients 16] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from store_bench import seed_store  # noqa: E402

ROUTES = [
    "/dataops/api/runs?limit=50",
    "/dataops/api/runs?step=step3&limit=50",
    "/dataops/api/pipelines",
    "/dataops/api/status",
    "/dataops/api/runs/{latest}",
    "/dataops/api/steps/step3/metrics",
    "/dataops/api/metrics?step=step1&metric=row_count",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, port: int, token: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root.parent / "runtime")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--allow-root", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if get(port, token, "/api/status")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("jupyter server did not start in 120 s")


def get(port: int, token: str, path: str, conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"token {token}"})
    response = conn.getresponse()
    body = response.read()
    if own:
        conn.close()
    return response.status, body


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_client(port: int, token: str, routes: list[str], repeats: int) -> dict[str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = {}
    for route in routes:
        get(port, token, route, conn)  # warm-up: the route's first call imports its modules
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            status, _ = get(port, token, route, conn)
            times.append(time.perf_counter() - t)
            assert status == 200, (route, status)
        times.sort()
        out[route] = {
            "median_s": statistics.median(times),
            "p99_s": times[min(len(times) - 1, int(len(times) * 0.99))],
        }
    conn.close()
    return out


def many_clients(port: int, token: str, routes: list[str], clients: int, seconds: float):
    times: list[float] = []
    codes: Counter = Counter()
    lock = threading.Lock()
    stop = time.time() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.time() < stop:
            route = routes[i % len(routes)]
            i += 1
            t = time.perf_counter()
            status, _ = get(port, token, route, conn)
            with lock:
                times.append(time.perf_counter() - t)
                codes[status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    times.sort()
    return {
        "answers": len(times),
        "per_s": len(times) / elapsed,
        "p50_s": statistics.median(times),
        "p99_s": times[int(len(times) * 0.99)],
        "codes": dict(codes),
    }


def cli_runs(url: str, repeats: int) -> dict[str, dict]:
    """The store work of `dataops runs` (20 rows) and `dataops runs --step step3`."""
    from jupyter_dataops.pipeline.views import history
    from jupyter_dataops.store import open_store

    out = {}
    with open_store(url) as store:
        for name, fn in {
            "dataops runs": lambda: history.list_runs(store, limit=20),
            "dataops runs --step step3": lambda: history.list_runs(store, step="step3", limit=20),
        }.items():
            fn()
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            times.sort()
            out[name] = {
                "median_s": statistics.median(times),
                "p99_s": times[min(len(times) - 1, int(len(times) * 0.99))],
            }
    return out


SETUPS = {"kept answers": (), "no kept answers": ("--DataOpsExtension.answer_cache_mb=0",)}


def serve_and_ask(root: Path, args: argparse.Namespace, extra: tuple[str, ...]) -> dict:
    token, port = secrets.token_hex(16), free_port()
    proc = start_server(root, port, token, *extra)
    try:
        runs = json.loads(get(port, token, "/dataops/api/runs?limit=1")[1])["runs"]
        routes = [r.format(latest=runs[0]["id"]) for r in ROUTES]
        single = one_client(port, token, routes, args.repeats)
        cpu = cpu_seconds(proc.pid)
        crowd = many_clients(port, token, routes, args.clients, args.seconds)
        # the server's own CPU per answer: what the throughput would be on one free core
        crowd["server_cpu_ms_per_answer"] = (cpu_seconds(proc.pid) - cpu) / crowd["answers"] * 1000
        return {"one_client": single, "clients": crowd}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the seeded store for next time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path("/tmp") / f"dataops-routes-bench-{args.runs}"
    root = tmp / "project"
    db = root / ".dataops" / "dataops.db"
    url = f"sqlite:///{db}"
    try:
        if db.exists():
            seeded = {"runs": args.runs, "reused": True}
        else:
            (root / ".dataops").mkdir(parents=True, exist_ok=True)
            steps = "".join(f"  step{i}: {{notebook: step{i}.ipynb}}\n" for i in range(10))
            (root / "dataops.yaml").write_text(f"pipeline: bench\nsteps:\n{steps}")
            seeded = seed_store(url, runs=args.runs)
        results = {name: serve_and_ask(root, args, extra) for name, extra in SETUPS.items()}
        cli = cli_runs(url, args.repeats)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"seed": seeded, "setups": results, "cli": cli, "load": load}, indent=2))
        return 0
    print(
        f"{seeded['runs']:,} step runs (SQLite) behind jupyter server, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f}"
    )
    names = list(SETUPS)
    print(f"{'route (one client)':50}" + "".join(f"{n + ' med/p99 s':>26}" for n in names))
    for route in results[names[0]]["one_client"]:
        cells = [results[n]["one_client"][route] for n in names]
        print(f"{route:50}" + "".join(f"{c['median_s']:16.3f} {c['p99_s']:8.3f}" for c in cells))
    for name in names:
        crowd = results[name]["clients"]
        print(
            f"{name}: {args.clients} clients for {args.seconds:.0f} s: {crowd['answers']:,} "
            f"answers, {crowd['per_s']:.0f}/s, p50 {crowd['p50_s']:.3f} s, p99 "
            f"{crowd['p99_s']:.3f} s, codes {crowd['codes']}; server CPU "
            f"{crowd['server_cpu_ms_per_answer']:.1f} ms per answer"
        )
    for name, f in cli.items():
        print(f"{name:50} store work median {f['median_s']:.4f} s, p99 {f['p99_s']:.4f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
