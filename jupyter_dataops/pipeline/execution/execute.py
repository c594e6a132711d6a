"""Execute one attempt of one notebook through papermill, and say plainly how it ended.

Used by every executor's worker, by the promotion gate and by ``dataops test``. Adds what
papermill alone lacks: a whole-step timeout (papermill's ``execution_timeout`` is per cell), the
run-context environment for the kernel, and a kept, annotated output notebook when the kernel
dies or is stopped.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

# Kernel managers started in this process, so the timeout watchdog can stop their kernel.
_STARTED: list[AsyncKernelManager] = []
_STARTED_LOCK = threading.Lock()


# Longest AF_UNIX socket path we rely on (Linux allows 107 bytes, macOS 103).
_MAX_IPC_PATH = 100


def _ipc_connection_file() -> str | None:
    """A fresh connection-file path whose ``<path>-ipc-<n>`` sockets fit AF_UNIX, or None."""
    if os.name != "posix":
        return None
    path = Path(tempfile.gettempdir()) / f"dataops-kernel-{uuid.uuid4().hex[:16]}.json"
    return str(path) if len(str(path)) + 10 <= _MAX_IPC_PATH else None


class _ReadyClient(AsyncKernelClient):
    """nbclient's kernel client, without the idle wait at the end of ``wait_for_ready``.

    jupyter_client's ``wait_for_ready`` asks for ``kernel_info``, checks that IOPub delivers,
    then reads IOPub until 0.2 s pass with no message: 0.2 s of nothing before every step's
    first cell (~48 s over the 60-day demo's 240 steps). Here the same checks, and what IOPub
    already holds is drained without waiting; anything later is ignored by nbclient, which
    reads only the messages answering its own requests.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        from queue import Empty

        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once it delivers (else ask again)
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                return


class _WatchedKernelManager(AsyncKernelManager):
    """The nbclient kernel manager of every step attempt.

    It registers itself so the timeout watchdog can find its kernel, and on POSIX it connects
    to the kernel over Unix sockets named after a unique connection file instead of TCP ports.
    TCP ports are picked by binding port 0 and releasing it before the kernel binds it, and the
    "taken" list is per process: steps starting together in separate pool workers could pick
    the same port, and then one kernel died with "Address already in use" while its client
    talked to the other step's kernel (seen as a failed parallel step under load).
    """

    client_class = DottedObjectName("jupyter_dataops.pipeline.execution.execute._ReadyClient")
    client_factory = Type(_ReadyClient, klass=AsyncKernelClient)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connection_file = None if self.connection_file else _ipc_connection_file()
        if connection_file is not None:
            self.connection_file = connection_file
            self.transport = "ipc"  # ip (the socket path prefix) then derives from the file
        with _STARTED_LOCK:
            _STARTED.append(self)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        # The warm provisioner forks this interpreter's python3 kernel from a preloaded template
        # (``warm``); for any other kernel it starts it plainly, as LocalProvisioner does.
        spec = self.kernel_spec
        if self.provisioner is None and spec and "kernel_provisioner" not in spec.metadata:
            from jupyter_dataops.pipeline.execution.warm import WarmProvisioner

            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = WarmProvisioner(
                kernel_id=self.kernel_id, kernel_spec=spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)


@dataclass
class NotebookJob:
    """What to execute: a notebook, its parameters, where to write it, and how long it may take.

    ``env`` is added to the kernel's environment (the run context); ``cwd`` is the working
    directory of the kernel (the notebook's own folder, as when the analyst ran it).
    ``secrets`` are parameters whose values reach the kernel through its environment, read by
    name in the injected cell (``pipeline.secret_params``): never write a job to disk.
    """

    notebook: str
    output: str
    parameters: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    kernel: str | None = None
    timeout: float | None = None
    start_timeout: float = 120.0


@dataclass
class AttemptResult:
    """How one execution ended.

    ``status`` is ``success`` or ``failed``; ``reason`` is ``checks`` (a ``%%dataops_test``
    failed), ``error`` (a cell raised), ``timeout``, ``kernel_died`` or ``setup`` (papermill could
    not start); ``error`` is a short summary for people; ``cell`` the 0-based failing cell.
    """

    status: str
    output: str
    duration: float
    reason: str | None = None
    error: str | None = None
    cell: int | None = None
    ename: str | None = None
    evalue: str | None = None

    def __post_init__(self) -> None:
        # A failed attempt always says why: the runner, the store and every front door show this
        # text, and "failed" with nothing to read sends people digging through logs.
        if self.status != "success" and not (self.error or "").strip():
            self.error = failure_summary(self)

    @classmethod
    def failed(
        cls,
        output: Path | str,
        duration: float,
        reason: str,
        ename: str,
        evalue: str,
        *,
        error: str | None = None,
        cell: int | None = None,
    ) -> AttemptResult:
        """A failed attempt; ``error`` defaults to ``ename: evalue``."""
        error = f"{ename}: {evalue}" if error is None else error
        return cls(
            "failed",
            str(output),
            duration,
            reason=reason,
            error=error,
            cell=cell,
            ename=ename,
            evalue=evalue,
        )

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failure_summary(result: AttemptResult) -> str:
    """The error text of a failed attempt that came without one (e.g. from another executor):
    the exception it carries, or else where to look."""
    if result.ename in WHOLE_MESSAGE and result.evalue:
        return f"{result.ename}: {result.evalue.strip()}"
    if result.ename:
        text = (result.evalue or "").strip().splitlines()
        return f"{result.ename}: {text[-1]}" if text else result.ename
    why = f" ({result.reason})" if result.reason else ""
    return (
        f"the attempt failed{why} without an error message; see the executed notebook "
        f"{result.output} and the kernel log {Path(result.output).with_suffix('.log')}"
    )


@contextmanager
def _stderr_to(log: Path):
    """Send this process's stderr (inherited by the kernel) to ``log`` for one execution, so
    kernel and nbclient messages are kept beside the executed notebook, not on the terminal."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as fh:
            os.dup2(fh.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextmanager
def _environment(extra: dict[str, str]):
    """Set environment variables for the duration of one execution (the kernel inherits them)."""
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _kill_kernels(managers: list[AsyncKernelManager]) -> bool:
    killed = False
    for km in managers:
        prov = getattr(km, "provisioner", None)
        pid = getattr(prov, "pid", None)
        if not pid:
            continue
        pgid = getattr(prov, "pgid", None)
        try:
            if pgid and pgid != os.getpgid(0):
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed = True
        except (ProcessLookupError, PermissionError):
            pass
    return killed


def _annotate_stopped(output: Path, ename: str, evalue: str) -> int | None:
    """Mark the cell that was running when the kernel stopped, so the kept notebook says why.

    Returns its index. papermill saved the notebook up to that point; we add an error output.
    """
    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return None
    # papermill marks every started cell "completed" in its cleanup, even the one the kernel died
    # in: that cell is the last one with a start time.
    index = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("metadata", {}).get("papermill", {}).get(
            "start_time"
        ):
            index = i
    if index is None:  # stopped while the kernel was starting: the first code cell says so
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
        if index is not None:
            evalue = f"{evalue} (before the first cell ran, while the kernel was starting)"
    if index is not None:
        cell = nb.cells[index]
        marks = cell.metadata.setdefault("papermill", {})
        marks["status"] = "failed"
        marks["exception"] = True
        cell.outputs.append(
            nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
            )
        )
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, output)
    return index


#: errors recorded with their whole message, as the notebook shows it (others: its last line)
WHOLE_MESSAGE = frozenset({"DataOpsSyntaxError"})


def cell_name(executed: Any, index: int | None) -> str | None:
    """Cell ``index`` of an executed notebook as JupyterLab numbers the notebook the user
    wrote: ``cell 4 (code cell 3)`` (papermill's injected parameters cell is not theirs; the
    markdown cells count in the first number only). None when the notebook cannot be read."""
    import nbformat

    if index is None:
        return None
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError, AttributeError):
        return None
    # the red "an exception occurred" cells papermill adds after the run are not counted in
    # the index it reports
    cells = [c for c in cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    if not 0 <= index < len(cells):
        return None
    theirs = [
        c for c in cells[: index + 1] if "injected-parameters" not in c.metadata.get("tags", [])
    ]
    code = sum(c.cell_type == "code" for c in theirs)
    return f"cell {len(theirs)} (code cell {code})"


def _summary(ename: str, evalue: str, exec_count: Any, where: str | None = None) -> tuple[str, str]:
    cell = where or (f"cell [{exec_count}]" if exec_count is not None else "a cell")
    if ename == "DataOpsTestFailure":
        return "checks", f"data tests failed in {cell}: {evalue.strip()}"
    if ename in WHOLE_MESSAGE:  # line, column, the line quoted, the caret, did-you-mean
        return "error", f"{ename} in {cell}: {evalue.strip()}"
    text = evalue.strip().splitlines()[-1] if evalue.strip() else ""
    return "error", f"{ename} in {cell}: {text}".rstrip(": ")


def _timeout_text(timeout: float | None) -> str:
    return (
        f"the step ran longer than its timeout of {timeout:g} s and was stopped. "
        "Raise `timeout:` for this step in dataops.yaml if it needs longer."
    )


def execute_notebook(job: NotebookJob) -> AttemptResult:
    """Run ``job`` once with papermill and return how it ended; never raises for notebook errors.

    The executed notebook is written to ``job.output`` after every cell, so it is kept whether the
    run succeeds, a cell fails, the kernel dies or the timeout stops it. The kernel's stderr
    goes to ``<output>.log`` beside it.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from jupyter_dataops.pipeline.execution.engine import ENGINE

    output = Path(job.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _STARTED_LOCK:
        before = len(_STARTED)
    timed_out, ended = threading.Event(), threading.Event()

    def watchdog() -> None:
        # the kernel may still be starting (no process to kill yet, e.g. on a loaded machine):
        # keep stopping what this attempt starts until papermill gives up
        timed_out.set()
        while True:
            with _STARTED_LOCK:
                managers = _STARTED[before:]
            _kill_kernels(managers)
            if ended.wait(0.2):
                return

    timer = threading.Timer(job.timeout, watchdog) if job.timeout else None
    start = time.monotonic()
    parameters, env = dict(job.parameters), dict(job.env)
    if job.secrets:
        from jupyter_dataops.errors import DataOpsError
        from jupyter_dataops.pipeline.definition.secret_params import (
            check_kernel_language,
            kernel_parameters,
        )

        try:
            check_kernel_language(job.notebook, job.kernel)
        except (DataOpsError, OSError, ValueError, KeyError, AttributeError) as exc:
            return AttemptResult.failed(
                output, 0.0, "setup", type(exc).__name__, str(exc), error=str(exc)
            )
        secret_params, secret_env = kernel_parameters(job.secrets)
        parameters.update(secret_params)
        env.update(secret_env)
    try:
        with _environment(env), _stderr_to(output.with_suffix(".log")):
            if timer:
                timer.daemon = True
                timer.start()
            pm.execute_notebook(
                job.notebook,
                str(output),
                parameters=parameters,
                cwd=job.cwd,
                kernel_name=job.kernel,
                progress_bar=False,
                log_output=False,
                start_timeout=job.start_timeout,
                request_save_on_cell_execute=True,
                kernel_manager_class=_WatchedKernelManager,
                engine_name=ENGINE,  # papermill's nbclient engine, cheaper saves mid-run
                # papermill has the whole notebook when nbclient stops the kernel: kill it at
                # once instead of the graceful shutdown (a request, then up to a second or
                # more of the kernel's own clean-up), which cost each step ~0.3-1 s of wall time
                shutdown_kernel="immediate",
            )
    except PapermillExecutionError as exc:
        where = cell_name(output, exc.cell_index)
        reason, message = _summary(exc.ename, exc.evalue, exc.exec_count, where)
        if timed_out.is_set():  # the kill surfaced as a cell error: it is still the timeout
            reason, message = "timeout", f"StepTimeout: {_timeout_text(job.timeout)}"
        return AttemptResult.failed(
            output,
            time.monotonic() - start,
            reason,
            exc.ename,
            exc.evalue,
            error=message,
            cell=exc.cell_index,
        )
    except (DeadKernelError, CellTimeoutError, RuntimeError, OSError) as exc:
        duration = time.monotonic() - start
        if timed_out.is_set():
            ename, reason, evalue = "StepTimeout", "timeout", _timeout_text(job.timeout)
        elif isinstance(exc, DeadKernelError):
            ename, reason = "DeadKernelError", "kernel_died"
            evalue = (
                "the kernel died while running this cell (out of memory, a crash, or "
                "os._exit). The notebook is kept up to the last finished cell."
            )
        elif not output.exists():
            why = f"could not start the notebook: {type(exc).__name__}: {exc}"
            return AttemptResult.failed(
                output, duration, "setup", type(exc).__name__, str(exc), error=why
            )
        else:
            ename, reason, evalue = type(exc).__name__, "error", str(exc)
        cell = _annotate_stopped(output, ename, evalue) if output.exists() else None
        return AttemptResult.failed(output, duration, reason, ename, evalue, cell=cell)
    except Exception as exc:  # papermill/jupyter_client errors before or around execution
        why = f"could not run the notebook: {type(exc).__name__}: {exc}"
        return AttemptResult.failed(
            output, time.monotonic() - start, "setup", type(exc).__name__, str(exc), error=why
        )
    finally:
        ended.set()
        if timer:
            timer.cancel()
        with _STARTED_LOCK:
            del _STARTED[before:]
    if timed_out.is_set():  # it ended past its timeout before a kill could land: not a success
        duration = time.monotonic() - start
        return AttemptResult.failed(
            output, duration, "timeout", "StepTimeout", _timeout_text(job.timeout)
        )
    return AttemptResult("success", str(output), time.monotonic() - start)
