"""Run a bundled target in the foreground or as a daemon, and stop or query a daemon.

A daemon holds a *PID lock file*: the file holds its pid and an exclusive ``flock`` that
lives exactly as long as the process. So "is it running?" is "is the file locked?" —
a pidfile left by a killed process is unlocked, detected as stale and replaced, and a
reused pid can never pass for the daemon.

``start_daemon`` detaches with python-daemon's ``DaemonContext`` but first forks a child
that reports back over a pipe, so the command that started the daemon still prints the
ready line (with the real port when ``--port 0``) or the daemon's one-line error, and
exits only once the target serves.

Example::

    port = start_daemon("http", "127.0.0.1", 0, Path("t.pid"), Path("t.log"))
    assert running_pid(Path("t.pid"))
    stop(Path("t.pid"))
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from loadkit.exceptions import TargetError

if TYPE_CHECKING:
    from loadkit.targets.http.http2 import HttpServing

Kind = Literal["grpc", "http"]
KINDS: tuple[Kind, ...] = ("grpc", "http")

#: Seconds ``start_daemon`` waits for the daemon to serve, and ``stop`` for it to exit.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

log = logging.getLogger(__name__)


def ready_line(kind: str, host: str, port: int) -> str:
    """The line printed to stderr once a target serves; tests and scripts parse it."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"loadkit target {kind} listening on {address}"


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve_forever(
    kind: Kind, host: str, port: int, on_ready: Callable[[int], None], serving: HttpServing | None = None
) -> None:
    """Serve the target until SIGTERM/SIGINT; imports the target only here (grpc stays out of the CLI)."""
    if kind == "grpc":
        from loadkit.targets.grpc import server as grpc_server

        grpc_server.run(host, port, on_ready)
    else:
        from loadkit.targets.http import server as http_server

        http_server.run(host, port, on_ready, serving)


def run_foreground(
    kind: Kind, host: str, port: int, pidfile: Path | None = None, serving: HttpServing | None = None
) -> None:
    """Serve in this process, printing the ready line to stderr; holds ``pidfile`` when given."""
    configure_logging()

    def announce(bound: int) -> None:
        print(ready_line(kind, host, bound), file=sys.stderr, flush=True)

    if pidfile is None:
        serve_forever(kind, host, port, announce, serving)
        return
    with PidLock(pidfile):
        serve_forever(kind, host, port, announce, serving)


class PidLock:
    """A pidfile holding this process's pid under an exclusive ``flock``; a context manager.

    Entering raises :class:`TargetError` when a live process holds the file; a stale file
    (its process gone, so unlocked) is taken over. Exiting removes the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> PidLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TargetError(_already_running(self.path, read_pid(self.path))) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def _already_running(pidfile: Path, pid: int | None) -> str:
    return (
        f"a target is already running (pid {pid}) with pidfile {pidfile}: "
        f"stop it with `loadkit target stop --pidfile {pidfile}` or use another --pidfile"
    )


def read_pid(pidfile: Path) -> int | None:
    """The pid written in ``pidfile``, or ``None`` when it is missing or unreadable."""
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(pidfile: Path) -> int | None:
    """The pid of the live process holding ``pidfile``, or ``None`` (missing or stale file)."""
    try:
        fd = os.open(pidfile, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        deadline = time.monotonic() + 2.0  # the holder writes its pid right after locking
        while (pid := read_pid(pidfile)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return pid
    else:
        return None
    finally:
        os.close(fd)


def stop(pidfile: Path, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the daemon holding ``pidfile`` and wait for it to exit; its pid, or ``None`` if none ran.

    A stale pidfile is removed. Raises :class:`TargetError` when the process outlives
    ``timeout`` (it is then killed).
    """
    pid = running_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return None
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, pidfile, timeout):
        return pid
    _signal(pid, signal.SIGKILL)
    _wait_gone(pid, pidfile, 5.0)
    pidfile.unlink(missing_ok=True)
    raise TargetError(f"target pid {pid} did not stop within {timeout:g} s of SIGTERM and was killed; see its log")


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise TargetError(f"not allowed to signal pid {pid}: run `loadkit target stop` as its user") from exc


def _wait_gone(pid: int, pidfile: Path, timeout: float) -> bool:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or running_pid(pidfile) != pid:
            return True
        time.sleep(0.05)
    return False


def start_daemon(
    kind: Kind,
    host: str,
    port: int,
    pidfile: Path,
    logfile: Path | None = None,
    timeout: float = START_TIMEOUT,
    serving: HttpServing | None = None,
) -> tuple[int, int]:
    """Start the target as a detached daemon; return ``(pid, port)`` once it serves.

    ``logfile`` (default: the pidfile with suffix ``.log``) receives the daemon's stderr.
    Raises :class:`TargetError` when a daemon already holds ``pidfile``, the port is in
    use, or the daemon does not report ready within ``timeout``.
    """
    pidfile = pidfile.resolve()
    logfile = (logfile or pidfile.with_suffix(".log")).resolve()
    pid = running_pid(pidfile)
    if pid is not None:
        raise TargetError(_already_running(pidfile, pid))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked process, which never returns
        os.close(read_end)
        code = 1
        try:
            code = _daemon_main(kind, host, port, pidfile, logfile, write_end, serving)
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(child, 0)  # exits as soon as DaemonContext has detached the daemon
    report = _read_report(read_end, timeout)
    status, _, rest = report.partition(" ")
    if status == "ready":
        daemon_pid, daemon_port = (int(x) for x in rest.split())
        return daemon_pid, daemon_port
    if status == "error":
        raise TargetError(rest)
    raise TargetError(f"the {kind} target daemon did not report ready within {timeout:g} s; see {logfile}")


def _read_report(fd: int, timeout: float) -> str:
    """The first line the daemon writes to the pipe (``ready PID PORT`` or ``error MESSAGE``)."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode(errors="replace").partition("\n")[0]


def _daemon_main(
    kind: Kind, host: str, port: int, pidfile: Path, logfile: Path, report_fd: int, serving: HttpServing | None = None
) -> int:
    """Body of the forked child: detach, take the pidfile, serve, and report through ``report_fd``."""
    import daemon

    def report(line: str) -> None:
        try:
            os.write(report_fd, (line + "\n").encode())
            os.close(report_fd)
        except OSError as exc:  # the starting command gave up waiting
            if exc.errno not in (errno.EPIPE, errno.EBADF):
                raise

    try:
        log_stream = open(logfile, "a", buffering=1)  # noqa: SIM115 - handed to DaemonContext
    except OSError as exc:
        report(f"error cannot open logfile {logfile}: {exc.strerror}; pass a writable --logfile")
        return 1
    context = daemon.DaemonContext(
        detach_process=True,
        working_directory="/",
        umask=0o022,
        pidfile=PidLock(pidfile),
        files_preserve=[report_fd],
        stdout=log_stream,
        stderr=log_stream,
        # SIGTERM is left to the target, which stops gracefully (python-daemon would just exit).
        signal_map={signal.SIGTSTP: None, signal.SIGTTIN: None, signal.SIGTTOU: None},
    )
    try:
        context.open()
    except TargetError as exc:
        report(f"error {exc}")
        return 1
    configure_logging()

    def announce(bound: int) -> None:
        line = ready_line(kind, host, bound)
        print(line, file=sys.stderr, flush=True)
        report(f"ready {os.getpid()} {bound}")

    try:
        serve_forever(kind, host, port, announce, serving)
    except TargetError as exc:
        log.error("%s", exc)
        report(f"error {exc}")
        return 1
    except Exception:
        log.exception("target failed")
        report(f"error the {kind} target failed to start; see {logfile}")
        return 1
    finally:
        context.close()
    return 0
