"""A fresh ``jupyter server``'s first requests, all at once: the sidebar's lists and a chart tab
restored with the layout ask together. The routes' modules are imported at start-up, on the main
thread: imported by two worker threads at once, modules whose imports form a cycle could leave one
route answering 500 for the server's whole life."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import yaml
from builders import jupyter_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from store_bench import seed_store  # noqa: E402

FIRST = [
    "/dataops/api/status",
    "/dataops/api/pipelines",
    "/dataops/api/runs?limit=50",
    "/dataops/api/metrics?step=step0&metric=row_count",
    "/dataops/api/steps/step0/metrics",
    "/dataops/api/runs/1",
    "/dataops/api/grid",
    "/dataops/api/incidents",
    "/dataops/api/scheduler",
]


def _get(port: int, token: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"token {token}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_first_requests_at_once_get_no_500(tmp_path: Path):
    root = tmp_path / "project"
    root.mkdir()
    steps = {f"step{i}": {"notebook": f"step{i}.ipynb"} for i in range(2)}
    (root / "dataops.yaml").write_text(yaml.safe_dump({"pipeline": "bench", "steps": steps}))
    (root / ".dataops").mkdir()
    seed_store(f"sqlite:///{root / '.dataops' / 'dataops.db'}", runs=60, steps=2)
    token = secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--port=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        port = jupyter_port(tmp_path / "runtime", server, 90)
        assert port, f"jupyter server did not start: {(tmp_path / 'server.log').read_text()}"
        while True:
            try:
                if _get(port, token, "/api/status")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "jupyter server did not answer in 90 s"
            time.sleep(0.2)
        with concurrent.futures.ThreadPoolExecutor(len(FIRST)) as pool:
            first = list(pool.map(lambda path: (path, *_get(port, token, path)), FIRST))
        again = [(path, *_get(port, token, path)) for path in FIRST]
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    for path, status, body in first + again:
        assert status < 500, f"{path} answered {status}: {body[:500]!r}"
    assert [status for _, status, _ in first] == [status for _, status, _ in again]
