"""Start "Run now" runs in the background (answering with their ids at once) and promotions.

Both run in ``jupyter_dataops.server.worker`` processes, never inside the Jupyter server.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

WORKER = "jupyter_dataops.server.worker"

#: How long to wait for the run to be planned and recorded before giving up on an answer.
START_TIMEOUT = 60.0


def parameter_args(parameters: dict[str, Any]) -> list[str]:
    """JSON parameters as ``dataops run -p key=value`` items (strings as written, others JSON)."""
    out = []
    for key, value in parameters.items():
        text = value if isinstance(value, str) else json.dumps(value)
        out.append(f"{key}={text}")
    return out


def worker_env() -> dict[str, str]:
    """The server's environment minus any run context (the worker is a runner, not a kernel)."""
    env = dict(os.environ)
    for key in ("DATAOPS_MODE", "DATAOPS_STEP", "DATAOPS_STEP_RUN_ID"):
        env.pop(key, None)
    return env


class RunLauncher:
    """Runs ``run_worker`` processes; keeps them so the server can stop them when it stops."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(__name__)
        self._processes: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    def start(
        self, state: Any, step: str, *, parameters: dict[str, Any], store: Store
    ) -> dict[str, Any]:
        """Start ``step`` of the project in ``state``; return its pipeline and step run ids.

        Raises ``PipelineError`` with the runner's message when the run cannot start (a bad
        parameter, a missing notebook): nothing runs in that case.
        """
        cmd = [
            sys.executable,
            "-m",
            WORKER,
            "run",
            str(state.project_dir),
            step,
            "-",  # the parameters come on stdin: a secret value is never in a process listing
        ]
        proc = self._spawn(cmd, state.project_dir)
        run_id = self._announced_run(
            proc,
            json.dumps(parameter_args(parameters)),
            f"step {step!r}",
            f"dataops run {step}",
            state.project_dir,
        )
        pipeline_run = store.get_pipeline_run(run_id) or {}
        step_runs = [r for r in pipeline_run.get("steps", []) if r.get("step") == step]
        self.log.info("jupyter-dataops: started run %s of step %s (pid %s)", run_id, step, proc.pid)
        return {
            "pipeline_run_id": run_id,
            "step_run_id": step_runs[0]["id"] if step_runs else None,
            "step": step,
            "status": step_runs[0]["status"] if step_runs else "queued",
        }

    def start_partition(self, state: Any, partition: str, *, store: Store) -> dict[str, Any]:
        """Start every step of the pipeline for ``partition`` (``dataops run --partition KEY``);
        return its pipeline run id and step runs as soon as the run is recorded."""
        cmd = [sys.executable, "-m", WORKER, "run-partition", str(state.project_dir), partition]
        proc = self._spawn(cmd, state.project_dir)
        run_id = self._announced_run(
            proc,
            "",
            f"partition {partition}",
            f"dataops run --partition {partition}",
            state.project_dir,
        )
        pipeline_run = store.get_pipeline_run(run_id) or {}
        self.log.info(
            "jupyter-dataops: started run %s of partition %s (pid %s)", run_id, partition, proc.pid
        )
        return {
            "pipeline_run_id": run_id,
            "partition": partition,
            "step_runs": [
                {"step": r["step"], "step_run_id": r["id"], "status": r["status"]}
                for r in pipeline_run.get("steps", [])
            ],
        }

    def _announced_run(
        self, proc: subprocess.Popen, stdin: str, what: str, command: str, folder: Any
    ) -> int:
        """Feed the worker its stdin and wait for the pipeline run id it prints first.

        Raises ``PipelineError`` with the runner's message when the run cannot start (a bad
        parameter, a missing notebook): nothing runs in that case.
        """
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:  # the worker died at once: its stderr says why, below
            pass
        first: dict[str, Any] = {}
        announced = threading.Event()
        stderr_tail: list[str] = []

        def read_stdout() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not announced.is_set():
                    try:
                        first.update(json.loads(line))
                        announced.set()
                        continue
                    except json.JSONDecodeError:
                        pass
                self.log.debug("%s: %s", command, line.rstrip())
            announced.set()

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr_tail.append(line)
                del stderr_tail[:-20]

        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(target=read_stderr, daemon=True).start()
        if not announced.wait(START_TIMEOUT):
            raise PipelineError(
                f"{what} did not start within {START_TIMEOUT:.0f} s; it may still start. "
                f"Refresh the run list, or run `{command}` in {folder} to see what it is "
                "waiting for."
            )
        if "error" in first:
            raise PipelineError(first["error"])
        if "pipeline_run_id" not in first:
            proc.wait(timeout=5)
            tail = "".join(stderr_tail).strip()[-2000:]
            raise PipelineError(f"{what} could not start (exit code {proc.returncode}). {tail}")
        return int(first["pipeline_run_id"])

    def promote(
        self, project_dir: Any, notebook: Any, step: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the promotion gate in a worker and return its JSON result (blocks until done)."""
        cmd = [
            sys.executable,
            "-m",
            WORKER,
            "promote",
            str(project_dir),
            str(notebook),
            step,
            "-",  # the options come on stdin (see ``start``)
        ]
        proc = self._spawn(cmd, project_dir)
        out, err = proc.communicate(json.dumps(options, default=str))
        answer: dict[str, Any] | None = None
        for line in reversed(out.splitlines()):
            try:
                answer = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
        if answer is None:
            raise PipelineError(
                f"the promotion of {step!r} stopped without an answer (exit code "
                f"{proc.returncode}). {err.strip()[-2000:]}"
            )
        if "error" in answer:
            raise PipelineError(answer["error"])
        return answer

    def _spawn(self, cmd: list[str], cwd: Any) -> subprocess.Popen:
        """Start a worker in its own session and keep it (pruning finished ones) for shutdown."""
        proc = subprocess.Popen(
            cmd,
            cwd=str(cwd),
            env=worker_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        with self._lock:
            self._processes = [p for p in self._processes if p.poll() is None] + [proc]
        return proc

    def shutdown(self) -> None:
        """Stop runs still going (the runner records them as interrupted)."""
        with self._lock:
            for proc in self._processes:
                if proc.poll() is None:
                    self.log.info("jupyter-dataops: stopping run process %s", proc.pid)
                    proc.terminate()
            self._processes.clear()
