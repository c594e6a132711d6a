"""Warm kernels: a preloaded template process forks a fresh kernel for each step.

Starting a python kernel costs about 2 CPU-s per step (the interpreter, ipykernel, IPython,
polars, altair, the first ``%%dataops_test``); the data work is milliseconds. The template
imports all of that once and, for every step, forks a child that becomes the step's kernel: a
new process (nothing shared between steps) that is already warm.

It plugs in through jupyter_client's own extension point: ``WarmProvisioner`` is the kernel
provisioner that ``execute._WatchedKernelManager`` hands papermill/nbclient. The child chdirs to
the step's folder, takes the step's environment (``RunContext.env()``), writes to the step's
log (the launcher's stdout/stderr, passed over the socket) and runs ``IPKernelApp`` with the
connection file. Where forking is not possible (not POSIX, ``DATAOPS_WARM_KERNELS=0``, a kernel
spec other than this interpreter's python3, or a template that could not start) kernels start
plainly, and one log line says so.

The template lives as long as the process that runs steps (started lazily on the first step,
stopped at exit or when that process dies); it imports only, so no thread pool runs when it
forks.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from jupyter_dataops.pipeline.execution.warm_protocol import (
    _HEADER,
    ENV_WARM,
    PRELOAD,
    _recv_exact,
    warm_off,
)

log = logging.getLogger(__name__)

_START_TIMEOUT = 120.0


# -- the client: in the process that runs steps ----------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class Template:
    """The handle on one template process: its socket path, and the process if we started it."""

    def __init__(self) -> None:
        self.path = os.path.join(tempfile.gettempdir(), f"dataops-warm-{uuid.uuid4().hex[:12]}")
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_dataops.pipeline.execution.warm", self.path],
            stdin=subprocess.PIPE,  # closed by our exit: the template then stops
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,  # Ctrl-C at the terminal is the runner's, not the template's
        )
        self.pid = self.process.pid
        self.failed: str | None = None

    def connect(self, timeout: float = _START_TIMEOUT) -> socket.socket:
        """A connection to the template, waiting while it imports; raises OSError if it died."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                return sock
            except OSError:
                sock.close()
                if not _alive(self.pid):
                    raise OSError("the kernel template exited while starting") from None
                if time.monotonic() > deadline:
                    raise OSError(f"the kernel template did not start in {timeout:g} s") from None
                time.sleep(0.02)

    def fork_kernel(self, cmd: list[str], env: dict[str, str], cwd: str | None) -> ForkedKernel:
        """Ask the template for a kernel running ``cmd``'s connection file; our stdout/stderr
        (the step's log while a step runs) become the kernel's."""
        sock = self.connect()
        try:
            body = json.dumps({"argv": cmd[3:], "env": env, "cwd": cwd}).encode()
            socket.send_fds(sock, [_HEADER.pack(len(body))], [1, 2])
            sock.sendall(body)
            (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
            answer = json.loads(_recv_exact(sock, size))
        except (OSError, ValueError) as exc:
            sock.close()
            raise OSError(f"the kernel template did not fork a kernel: {exc}") from exc
        if "error" in answer:
            sock.close()
            raise OSError(f"the kernel template could not fork a kernel: {answer['error']}")
        return ForkedKernel(sock, int(answer["pid"]))

    def stop(self) -> None:
        if self.owner != os.getpid():
            return
        proc = self.process
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.terminate()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


class SharedTemplate(Template):
    """The project's template (``warm_server``): started by some command, outliving it."""

    def __init__(self, state_dir: Path) -> None:
        from jupyter_dataops.pipeline.execution import warm_server

        self.path = warm_server.socket_path(state_dir, warm_server.environment_key(PRELOAD))
        self.pid = warm_server.ensure_server(self.path, _START_TIMEOUT)
        self.owner = os.getpid()
        self.process = None
        self.failed = None

    def stop(self) -> None:
        """Nothing: it serves the next command, and exits by itself when idle."""


class ForkedKernel:
    """A forked kernel, shaped like the ``Popen`` that ``LocalProvisioner`` drives.

    It is not our child: the template reaps it and tells us its exit code over the socket; we
    signal it by pid (never after we learnt it exited, so a reused pid is never hit).
    """

    stdin = stdout = stderr = None

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock, self.pid = sock, pid
        self.returncode: int | None = None

    def _read(self, block: bool) -> int | None:
        if self.returncode is not None:
            return self.returncode
        self.sock.setblocking(block)
        try:
            (size,) = _HEADER.unpack(_recv_exact(self.sock, _HEADER.size))
            self.sock.setblocking(True)
            self.returncode = int(json.loads(_recv_exact(self.sock, size))["exit"])
        except BlockingIOError:
            return None
        except (OSError, ValueError):  # the template went away: it killed its children
            self.returncode = -signal.SIGKILL
        self.sock.close()
        return self.returncode

    def poll(self) -> int | None:
        return self._read(block=False)

    def wait(self, timeout: float | None = None) -> int:
        if timeout is not None:
            deadline = time.monotonic() + timeout
            while self.poll() is None:
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(str(self.pid), timeout)
                time.sleep(0.02)
        return self._read(block=True)  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


_lock = threading.Lock()
_template: Template | None = None
_said: set[str] = set()
_project: Path | None = None  # set: this process's template is its project's shared one


def use_project_server(state_dir: str | os.PathLike[str] | None) -> None:
    """Take kernels from the project's shared template (``warm_server``) rather than one of
    this process's own, so that one command after another pays the template's imports once
    (``dataops run``); None: this process's own again. Where it cannot be shared, this
    process starts its own as usual."""
    from jupyter_dataops.pipeline.execution import warm_server

    global _project, _template
    with _lock:
        if isinstance(_template, SharedTemplate):
            _template = None
        _project = Path(state_dir) if state_dir and warm_server.supported() else None


def _forked_for() -> Path | None:
    """The project whose template forked this process to run a command (``warm_command``):
    its kernels fork from that template too."""
    from jupyter_dataops.pipeline.execution import warm_server

    return warm_server.forked_for


def _say_once(why: str) -> None:
    if why not in _said:
        _said.add(why)
        log.warning("warm kernels off: %s; kernels start plainly", why)


def _is_this_python(program: str, path: str | None) -> bool:
    """Whether ``program`` (as a kernel spec names it, e.g. ``python``) is this interpreter."""
    import shutil

    found = shutil.which(program, path=path)
    if not found:
        return False
    here, there = os.path.abspath(sys.executable), os.path.abspath(found)
    same_env = os.path.dirname(here) == os.path.dirname(there)
    return same_env and os.path.realpath(here) == os.path.realpath(there)


def why_not_warm(cmd: list[str], env: dict[str, str] | None = None) -> str | None:
    """Why a kernel launched with ``cmd`` cannot be forked from the template (None: it can)."""
    env = os.environ if env is None else env
    if warm_off(env):
        return f"{ENV_WARM}=0"
    if os.name != "posix" or not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        return "this platform cannot fork"
    if (
        len(cmd) < 5
        or not all(arg.startswith("--") for arg in cmd[5:])  # traitlets options only
        or cmd[1:4] != ["-m", "ipykernel_launcher", "-f"]
        or not _is_this_python(cmd[0], env.get("PATH"))
    ):
        return f"the kernel {' '.join(cmd[:3])} is not this interpreter's python3"
    return None


def template() -> Template | None:
    """The template of this process (started now if need be), or None when it cannot run."""
    global _template
    with _lock:
        current = _template
        if current is not None and current.failed is None:
            if current.process is None:  # the project's shared template
                if not _alive(current.pid):
                    current = None  # it exited (idle, or replaced): find or start it again
            elif current.owner == os.getpid() and current.process.poll() is not None:
                current.failed = (
                    "a preloaded library started a thread in the kernel template"
                    if current.process.returncode == 3
                    else f"the kernel template exited (code {current.process.returncode})"
                )
            elif current.owner != os.getpid() and not _alive(current.pid):
                current = None  # a forked worker whose parent's template is gone: start ours
        if current is None:
            try:
                try:
                    project = _project or _forked_for()
                    current = SharedTemplate(project) if project else Template()
                except OSError as exc:  # no shared one: this process's own, as usual
                    log.info("the project's kernel template is not available (%s)", exc)
                    current = Template()
                _template = current
                atexit.register(current.stop)
            except OSError as exc:
                _say_once(f"the kernel template could not start ({exc})")
                return None
        if current.failed:
            _say_once(current.failed)
            return None
        return current


def prestart() -> None:
    """Start the template now (without waiting), so processes forked later share it."""
    if why_not_warm([sys.executable, "-m", "ipykernel_launcher", "-f", "x"]) is None:
        template()


def shutdown() -> None:
    """Stop this process's template (also done at exit)."""
    global _template
    with _lock:
        current, _template = _template, None
    if current is not None:
        current.stop()


class WarmProvisioner(LocalProvisioner):
    """``LocalProvisioner`` whose kernel is forked from the warm template when it can be."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        env = dict(kwargs.get("env") or os.environ)
        why = why_not_warm(cmd, env)
        tmpl = None if why else template()
        if why:
            _say_once(why)
        if tmpl is None:
            return await super().launch_kernel(cmd, **kwargs)
        # papermill chdirs this process to the notebook's folder; a Popen'd kernel inherits it
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            kernel = tmpl.fork_kernel(cmd, env, cwd)
        except OSError as exc:
            with _lock:
                tmpl.failed = str(exc)
            _say_once(str(exc))
            return await super().launch_kernel(cmd, **kwargs)
        self.process = kernel
        self.pid = self.pgid = kernel.pid  # the child leads its own session
        self.cwd = cwd
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        """Kill the kernel and wait (at most a second) until it is gone: the kernel manager
        then finds it dead at its first look instead of sleeping its 0.1 s poll interval
        (each step's kernel is killed once papermill has the notebook)."""
        process = self.process
        await super().kill(restart=restart)
        deadline = time.monotonic() + 1.0
        while process is not None and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.005)


if __name__ == "__main__":
    from jupyter_dataops.pipeline.execution.warm_template import serve

    serve(sys.argv[1], float(sys.argv[3]) if sys.argv[2:3] == ["--idle"] else None)
