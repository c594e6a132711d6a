"""The ``dask`` executor: step attempts run on a dask.distributed cluster.

``dataops run --executor dask --address tcp://HOST:8786`` (or ``executor: dask`` and
``dask_address:`` in ``dataops.yaml``) submits each attempt to the cluster's scheduler; without an
address a ``LocalCluster`` of worker processes is started for the run. Everything else is the
runner's, as with the local executor: dependency order, retries and their delay, the records.

On the worker each attempt runs ``execute_notebook`` (papermill, the whole-step timeout, the
kernel's run-context environment) in a child process of its own, so attempts sharing a worker
process never share its environment variables or stderr, and a stopped run can stop them.

Workers must see the project folder at the same path as the runner (a shared file system or the
same checkout): notebooks, parameters' files and the kernel's working folder are read there. The
executed notebook and its kernel log come back with the result and are written to the run's
archive (``.dataops/runs/<run id>/``) here, so the archive is complete even when a worker wrote
them on its own disk. The kernels write check results to the run store themselves: with workers
on other hosts the store must be a server database (PostgreSQL); a SQLite file is refused then.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.execution.execute import AttemptResult, NotebookJob
from jupyter_dataops.pipeline.execution.executors import Executor, StepJob, executors

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler
WORKERS_TIMEOUT = 60.0  # seconds to wait for a first worker on a cluster that has none yet
# A child still running this long after the step's own timeout (whose watchdog kills the kernel)
# is stuck in papermill's cleanup: the worker kills it.
STUCK_GRACE = 120.0
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


# -- where the cluster is --------------------------------------------------------------------
def _host(address: str) -> str:
    """The host of a dask address (``tcp://10.0.0.5:8786`` -> ``10.0.0.5``; ``inproc://`` -> '')."""
    from distributed.comm import parse_address, parse_host_port

    scheme, loc = parse_address(address)
    if scheme == "inproc":
        return ""
    host, _ = parse_host_port(loc) if ":" in loc else (loc, None)
    return host.strip("[]")


def is_local_host(host: str) -> bool:
    """Whether ``host`` is this machine: a loopback address or name, or this host's own name.

    Names are not resolved (no DNS look-up): any other name or address counts as another host.
    """
    import ipaddress

    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host in {socket.gethostname().lower()}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_store_for_cluster(store_url: str, addresses: list[str]) -> None:
    """Refuse a run store that workers at ``addresses`` could not share.

    Every worker's kernel writes its check results to the store itself. A SQLite store is a file
    on this machine (a relative path in ``store:`` or the default ``.dataops/dataops.db`` is
    resolved here), so it only works while the whole cluster is on this machine; an in-memory
    SQLite database is private to one process and never works.
    """
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() != "sqlite":
        return
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in store_url:
        raise PipelineError(
            "the run store is an in-memory SQLite database, which Dask workers (separate "
            "processes) cannot write to. Use a SQLite file for a cluster on this machine, or a "
            "PostgreSQL store (`store: postgresql+psycopg://user@host/db` in dataops.yaml)."
        )
    remote = sorted({a for a in addresses if not is_local_host(_host(a))})
    if remote:
        raise PipelineError(
            f"the run store is the SQLite file {database}, a path on this machine, but the Dask "
            f"cluster has parts on other hosts ({', '.join(remote)}): their kernels could not "
            "record check results there (and SQLite must not be shared over a network file "
            "system). Use a PostgreSQL store that every worker can reach: set `store: "
            "postgresql+psycopg://user:password@host/db` in dataops.yaml or DATAOPS_STORE_URL "
            "(install jupyter-dataops[postgres] on the workers too)."
        )


# -- on the worker ---------------------------------------------------------------------------
class _AttemptProcess:
    """A child process of the worker that runs attempts one at a time, papermill imported once.

    Attempts need a process of their own (``execute_notebook`` sets ``os.environ`` for the kernel
    and sends fd 2 to the step's log, both process-wide, and a worker process may run several
    tasks at once), but starting Python and importing papermill for every attempt costs seconds:
    these processes are kept between attempts (and started when the executor connects). Requests
    are ``job<TAB>result`` file paths on its stdin; it answers one byte per finished attempt on a
    pipe of its own (never inherited by the kernel, so a kernel writing to fd 1 cannot garble it).
    """

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.log = Path(tempfile.mkstemp(prefix="dataops-attempts-", suffix=".log")[1])
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own module, with our own interpreter
                [sys.executable, "-m", __name__, str(write_fd), str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(write_fd,),
            )
        os.close(write_fd)
        self.replies = read_fd

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, job_file: Path, result_file: Path, timeout: float | None) -> bool:
        """Run one attempt; False when the process ended or was stopped before answering."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(f"{job_file}\t{result_file}\n".encode())
            self.proc.stdin.flush()
        except OSError:
            return False
        ready, _, _ = select.select([self.replies], [], [], timeout)
        if not ready:  # stuck past the step's timeout (its watchdog already killed the kernel)
            self.proc.kill()
            return False
        return os.read(self.replies, 1) == b"1"

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " ".join(lines[-5:])

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        os.close(self.replies)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.log.unlink(missing_ok=True)


_IDLE: list[_AttemptProcess] = []
_RUNNING: dict[str, _AttemptProcess] = {}
_LOCK = threading.Lock()


def _take() -> _AttemptProcess:
    with _LOCK:
        while _IDLE:
            proc = _IDLE.pop()
            if proc.alive():
                return proc
            proc.close()
    return _AttemptProcess()


def _prewarm(dask_worker: Any = None) -> int:
    """On a worker (``Client.run``): start one attempt process per thread; returns how many."""
    want = int(getattr(dask_worker, "nthreads", 1) or 1)
    with _LOCK:
        missing = want - len(_IDLE) - len(_RUNNING)
    started = [_AttemptProcess() for _ in range(max(0, missing))]
    with _LOCK:
        _IDLE.extend(started)
    return len(started)


def run_attempt(job: NotebookJob, attempt_key: str) -> dict[str, Any]:
    """Run one attempt on this worker (a Dask task) and return its result with the executed
    notebook and kernel log as bytes, so the runner can archive them wherever this ran."""
    host = socket.gethostname()
    if not Path(job.notebook).is_file():
        return {
            "result": AttemptResult(
                "failed",
                job.output,
                0.0,
                reason="setup",
                error=(
                    f"the Dask worker on {host} has no file {job.notebook}: workers must see the "
                    "project folder at the same path as the runner (a shared file system or the "
                    "same checkout)."
                ),
            ),
            "host": host,
        }
    with tempfile.TemporaryDirectory(prefix="dataops-attempt-") as tmp:
        job_file, result_file = Path(tmp) / "job", Path(tmp) / "result"
        job_file.write_bytes(pickle.dumps(job))
        proc = _take()
        with _LOCK:
            _RUNNING[attempt_key] = proc
        try:
            answered = proc.run(
                job_file, result_file, job.timeout + STUCK_GRACE if job.timeout else None
            )
        finally:
            with _LOCK:
                _RUNNING.pop(attempt_key, None)
        if answered and result_file.exists():
            result: AttemptResult = pickle.loads(result_file.read_bytes())  # noqa: S301 - ours
            with _LOCK:
                _IDLE.append(proc)
        else:
            stopped = proc.proc.poll() in (-signal.SIGTERM, -signal.SIGKILL) or proc.alive()
            result = AttemptResult(
                "failed",
                job.output,
                0.0,
                reason="kernel_died" if stopped else "setup",
                error=f"the attempt's process on the Dask worker {host} ended "
                f"({'it was stopped' if stopped else f'exit {proc.proc.poll()}'}) before it "
                f"reported: {proc.tail() or 'no message'}",
            )
            proc.close()
    output = Path(result.output)
    payload: dict[str, Any] = {"result": result, "host": host}
    for key, path in (("notebook", output), ("log", output.with_suffix(".log"))):
        if path.is_file():
            payload[key] = path.read_bytes()
    return payload


def _stop_attempts(keys: list[str]) -> int:
    """On a worker (``Client.run``): stop the attempts with these keys; returns how many."""
    with _LOCK:
        procs = [_RUNNING[k] for k in keys if k in _RUNNING]
    for proc in procs:
        if proc.alive():
            proc.proc.terminate()
    return len(procs)


def _serve(reply_fd: str, parent: str) -> None:
    """An attempt process: die with the worker, then run the attempts asked on stdin."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no libc; stdin closing still ends this process
            pass
    if os.getppid() != int(parent):  # the worker died before prctl took effect
        sys.exit(1)
    import papermill  # noqa: F401 - imported once, before the first attempt

    from jupyter_dataops.pipeline.execution import warm
    from jupyter_dataops.pipeline.execution.execute import execute_notebook

    warm.prestart()  # this process's kernel template imports while we wait for the first step

    out = int(reply_fd)
    for line in sys.stdin.buffer:  # ends when the worker closes the pipe (or dies)
        job_file, result_file = line.decode().rstrip("\n").split("\t")
        job = pickle.loads(Path(job_file).read_bytes())  # noqa: S301 - written by run_attempt
        result = execute_notebook(job)
        tmp = Path(result_file).with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(result))
        os.replace(tmp, result_file)
        os.write(out, b"1")


# -- in the runner ---------------------------------------------------------------------------
def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return  # the worker shares this folder: it is already here
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class DaskExecutor(Executor):
    """Attempts run as tasks on a dask.distributed cluster (``address``), or on a
    ``LocalCluster`` of ``workers`` processes started for the run when no address is given."""

    name = "dask"

    def __init__(self, store: Store, *, workers: int | None = None, address: str | None = None):
        super().__init__(store, workers=workers)
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise PipelineError(
                'the dask executor needs dask.distributed: pip install "jupyter-dataops[dask]" '
                "(on the machine that runs `dataops run` and on every worker)."
            ) from None
        self.address = address.strip() if address else None
        if self.address:
            try:
                _host(self.address)
            except ValueError as exc:
                raise PipelineError(
                    f"Dask scheduler address {self.address!r} is not valid ({exc}). Use the "
                    "address `dask scheduler` prints, e.g. tcp://10.0.0.5:8786."
                ) from None
            # Before anything runs: a scheduler on another host means workers there.
            check_store_for_cluster(store.url, [self.address])
        self._client: Any = None
        self._cluster: Any = None
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        from distributed import Client, LocalCluster

        address = self.address
        if address is None:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            address = self._cluster.scheduler_address
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise PipelineError(
                f"could not reach the Dask scheduler at {address}: {exc}. Start one (`dask "
                "scheduler`, then `dask worker ADDRESS` on each worker machine) or fix "
                "`--address` / `dask_address:` in dataops.yaml."
            ) from None
        try:
            self._client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
            workers = list(self._client.nthreads())
            check_store_for_cluster(self.store.url, [address, *workers])
            # Python and papermill start on every worker now, not in the first attempts (a
            # spawn returns at once; the imports go on while the first steps are submitted).
            with contextlib.suppress(Exception):  # best effort: attempts start their own
                self._client.run(_prewarm)
        except PipelineError:
            self.close()
            raise
        except (OSError, TimeoutError) as exc:
            self.close()
            raise PipelineError(
                f"the Dask scheduler at {address} has no worker ({type(exc).__name__}: {exc}). "
                "Start workers with `dask worker " + address + "`."
            ) from None

    def close(self, *, cancel: bool = False) -> None:
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        with self._lock:
            running, self._running = self._running, {}
        try:
            if client is not None and cancel and running:
                with contextlib.suppress(Exception):  # best effort: the workers may be gone
                    client.run(_stop_attempts, list(running))
                client.cancel(list(running.values()), force=True)
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

    def execute(self, job: StepJob) -> Future:
        if self._client is None:
            raise PipelineError("the dask executor is not open")
        key = f"dataops-{job.step}-{job.step_run_id}-{uuid.uuid4().hex[:8]}"
        future: Future = Future()
        future.set_running_or_notify_cancel()
        task = self._client.submit(
            run_attempt, job.notebook_job, key, key=key, pure=False, retries=0
        )
        with self._lock:
            self._running[key] = task

        def done(task: Any) -> None:
            with self._lock:
                self._running.pop(key, None)
            try:
                future.set_result(self._bring_back(task.result()))
            except BaseException as exc:  # noqa: BLE001 - the task is lost: say how
                future.set_result(_lost(job, exc))

        task.add_done_callback(done)
        return future

    @staticmethod
    def _bring_back(payload: dict[str, Any]) -> AttemptResult:
        """Archive the executed notebook and log here, whether or not the worker shares the
        project folder, and return the attempt's result."""
        result: AttemptResult = payload["result"]
        output = Path(result.output)
        if "notebook" in payload:
            _write_if_changed(output, payload["notebook"])
        if "log" in payload:
            _write_if_changed(output.with_suffix(".log"), payload["log"])
        return result


def _lost(job: StepJob, exc: BaseException) -> AttemptResult:
    """The result of an attempt whose task never reported (its worker died, or it was cancelled)."""
    name = type(exc).__name__
    if name == "KilledWorker":
        why = (
            "the Dask worker running this step died or left the cluster (KilledWorker); the "
            "notebook is kept up to its last finished cell when the worker shares the project "
            "folder. Check the worker's memory and log."
        )
        reason = "kernel_died"
    elif name in ("CancelledError", "FutureCancelledError"):
        why, reason = "the Dask task was cancelled before it finished", "setup"
    else:
        why, reason = f"the Dask task failed: {name}: {exc}", "setup"
    return AttemptResult(
        "failed",
        job.notebook_job.output,
        0.0,
        reason=reason,
        error=why,
        ename=name,
        evalue=str(exc),
    )


executors.register("dask", DaskExecutor)

if __name__ == "__main__":  # an attempt process on a worker (see _AttemptProcess)
    _serve(*sys.argv[1:3])
