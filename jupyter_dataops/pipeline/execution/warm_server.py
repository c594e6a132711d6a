"""The project's kernel template, shared by the commands run in one project one after another.

A per-process template (``warm.Template``) pays its imports (~3.5 CPU-s) once per process:
right for a backfill, the scheduler or a server, but ``dataops run`` once a day would pay it in
every command. ``use_project_server(project)`` makes this process's template the project's:
a template process started on demand by the first command, detached from it, listening on a
Unix socket under the project's ``.dataops/`` folder, and reused by later commands whose
interpreter, ``sys.path`` and installed libraries (and this package's source) are the same -
they are folded into the socket's name, so a changed environment starts its own. It exits
after ``DATAOPS_WARM_IDLE`` seconds (default 600) with no kernel running and no request, or
when its socket is removed or replaced.

Never shared between users or projects: the socket lives in the project (or, when that path is
too long for a Unix socket, in a per-user 0700 folder under the temp dir, named after the
project), is created 0600, and both sides check the other's uid (``SO_PEERCRED``). A socket
nobody answers is stale: it is replaced, under a lock so two commands never start two. Each
step is still a fresh process forked from the template (nothing shared between steps);
timeouts, kills and ``DATAOPS_WARM_KERNELS=0`` work as with a per-process template.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV_IDLE = "DATAOPS_WARM_IDLE"
DEFAULT_IDLE = 600.0
_MAX_PATH = 100  # AF_UNIX paths: 107 bytes on Linux, 103 on macOS
_CRED = struct.Struct("3i")  # pid, uid, gid

#: in a command that a project's template forked (``warm_command``): that project's state
#: folder, whose template the command's kernels fork from too (``warm.template``)
forked_for: Path | None = None


def idle_seconds() -> float:
    """How long a project template waits, idle, before it exits (``DATAOPS_WARM_IDLE``)."""
    raw = os.environ.get(ENV_IDLE, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_IDLE
    except ValueError:
        value = DEFAULT_IDLE
    return value if value > 0 else DEFAULT_IDLE


def supported() -> bool:
    """Whether a shared template can be used here (Linux: ``SO_PEERCRED`` names the peer)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED")


def peer(sock: socket.socket) -> tuple[int, int]:
    """The (pid, uid) of the process at the other end of a Unix socket."""
    pid, uid, _gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid, uid


def _newest_source(package: Path) -> int:
    newest = 0
    for folder, _dirs, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
    return newest


def environment_key(preload: tuple[str, ...]) -> str:
    """A digest of what the template's imports depend on: the interpreter, ``sys.path``, the
    installed version of each preloaded library (its files' place and time), this package's
    source, and the user."""
    import importlib.util

    parts = [
        str(os.getuid()),
        os.path.realpath(sys.executable),
        sys.version,
        os.pathsep.join(sys.path),
        os.environ.get("PYTHONPATH", ""),
    ]
    for top in sorted({name.split(".")[0] for name in preload}):
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None and spec.origin else ""
        with contextlib.suppress(OSError):
            origin += f"@{os.stat(origin).st_mtime_ns}" if origin else ""
        parts.append(f"{top}={origin}")
    parts.append(str(_newest_source(Path(__file__).resolve().parents[2])))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def socket_path(state_dir: Path, key: str) -> str:
    """Where the project's template listens: ``.dataops/warm-<key>.sock`` when it fits a Unix
    socket path, else a per-user private folder under the temp dir."""
    here = str(Path(state_dir).resolve() / f"warm-{key}.sock")
    if len(here) <= _MAX_PATH:
        return here
    private = Path(tempfile.gettempdir()) / f"dataops-warm-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid() or private.stat().st_mode & 0o077:
        raise OSError(f"{private} is not a private folder of this user")
    project = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]
    return str(private / f"{project}-{key}.sock")


def answering(path: str) -> int | None:
    """The pid of our own template listening on ``path``, or None (nothing, or not ours)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        pid, uid = peer(sock)
    except OSError:
        return None
    finally:
        sock.close()
    return pid if uid == os.getuid() else None


def _retire_others(path: str) -> None:
    """Remove this project's sockets of other environments (a library upgraded, the package's
    source edited): their templates see it and exit once their running kernels are done."""
    here = Path(path)
    prefix = here.name.rsplit("-", 1)[0]  # warm | <project digest>
    for other in here.parent.glob(f"{prefix}-*.sock"):
        if other != here:
            with contextlib.suppress(OSError):
                other.unlink()


def ensure_server(path: str, timeout: float) -> int:
    """The pid of the template listening on ``path``, started (detached) if none answers.
    Raises OSError when it cannot start."""
    import fcntl

    pid = answering(path)
    if pid is not None:
        return pid
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)
    try:
        lock = open(f"{path}.lock", "a")  # noqa: SIM115 - held while the template starts
    finally:
        os.umask(old)
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another command may be starting it right now
        pid = answering(path)
        if pid is not None:
            return pid
        _retire_others(path)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_dataops.pipeline.execution.warm",
                path,
                "--idle",
                str(idle_seconds()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,  # outlives this command, deaf to its terminal's Ctrl-C
        )
        deadline = time.monotonic() + timeout
        while True:
            pid = answering(path)
            if pid is not None:
                return pid
            code = process.poll()
            if code is not None:
                raise OSError(
                    "a preloaded library started a thread in the kernel template"
                    if code == 3
                    else f"the kernel template exited (code {code})"
                )
            if time.monotonic() > deadline:
                process.kill()
                raise OSError(f"the kernel template did not start in {timeout:g} s")
            time.sleep(0.02)


def bind(path: str) -> tuple[socket.socket, int]:
    """The template's listening socket at ``path`` (0600; a stale one replaced atomically)
    and its inode (the template exits once ``path`` is another file)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fresh = f"{path}.{os.getpid()}"
    with contextlib.suppress(OSError):
        os.unlink(fresh)
    old = os.umask(0o077)
    try:
        server.bind(fresh)
    finally:
        os.umask(old)
    server.listen(64)
    os.replace(fresh, path)
    return server, os.stat(path).st_ino


def still_ours(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False
