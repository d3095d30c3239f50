"""Start bundled targets as their own processes and wait until they serve.

The demo, benchmarks and tests all run targets this way: a grpcio server inside a
gevent-patched (Locust) process serves nothing, so a target is always a separate
``loadkit target KIND`` process. It prints one ready line on stderr, which :data:`READY`
parses; with ``--port 0`` that line is the only way to learn the port::

    from loadkit.targets.launcher import launch

    with launch("grpc") as target:       # waits for the ready line
        print(target.url)                # grpc://127.0.0.1:PORT
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar, overload

from loadkit.exceptions import TargetError

READY = re.compile(r"loadkit target (?P<kind>grpc|http) listening on (?P<host>\S+):(?P<port>\d+)")
#: Seconds a target gets to print its ready line (generous: load generators share the machine).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

T = TypeVar("T", bound="TargetProcess")


class TargetExited(TargetError):
    """The target process exited (or never got ready); the message carries its log."""


class TargetProcess:
    """A running ``loadkit target`` subprocess and what its ready line said.

    ``address`` is "HOST:PORT", ``url`` "grpc://HOST:PORT" or "http://HOST:PORT". The
    process's stdout and stderr go to ``log_path``; :meth:`log` reads them (kept after
    :meth:`stop`). A context manager: leaving the ``with`` block stops the process.
    """

    def __init__(self, kind: str, process: subprocess.Popen[bytes], log_path: Path, log_file: IO[bytes]) -> None:
        self.kind = kind
        self.process = process
        self.log_path = log_path
        self._log_file = log_file
        self.host = "127.0.0.1"
        self.port = 0
        self._final_log: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.kind}://{self.address}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace")

    def ready_lines(self) -> list[re.Match[str]]:
        return list(READY.finditer(self.log()))

    def wait_ready(self: T, count: int = 1, timeout: float = START_TIMEOUT) -> T:
        """Wait until the log holds ``count`` ready lines; take host/port from the last one.

        ``count > 1`` waits for restarts (``--reload``). Raises :class:`TargetExited` when the
        process exits first or the deadline passes.
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = self.ready_lines()
            if len(lines) >= count:
                self.host, self.port = lines[-1]["host"], int(lines[-1]["port"])
                return self
            if self.process.poll() is not None:
                raise TargetExited(f"target {self.kind} exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TargetExited(f"target {self.kind} not ready within {timeout:g} s:\n{self.log()}")
            time.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait (SIGKILL after ``timeout``); returns the exit code. Idempotent."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
            return self.process.returncode
        finally:
            if self._final_log is None:
                self._log_file.close()
                self._final_log = self.log()
                self.log_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL and wait: the abrupt death a test of failure handling wants."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT)
        self.stop()  # closes the log; the process is already gone

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


@overload
def spawn(kind: str, *args: str, env: dict[str, str] | None = ..., cwd: Path | None = ...) -> TargetProcess: ...
@overload
def spawn(kind: str, *args: str, env: dict[str, str] | None = ..., cwd: Path | None = ..., cls: type[T]) -> T: ...
def spawn(
    kind: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    cls: type[TargetProcess] = TargetProcess,
) -> TargetProcess:
    """Start ``loadkit target KIND --port 0 ARGS`` without waiting (``--port`` in ARGS wins)."""
    argv = [sys.executable, "-m", "loadkit.cli", "target", kind]
    if "--port" not in args:
        argv += ["--port", "0"]
    argv += list(args)
    fd, name = tempfile.mkstemp(prefix=f"loadkit-target-{kind}-", suffix=".log")
    os.close(fd)
    log_file = open(name, "wb")  # noqa: SIM115 - closed by TargetProcess.stop
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=log_file,
        env={**os.environ, **(env or {})},
    )
    return cls(kind, process, Path(name), log_file)


@overload
def launch(
    kind: str, *args: str, env: dict[str, str] | None = ..., cwd: Path | None = ..., timeout: float = ...
) -> TargetProcess: ...
@overload
def launch(
    kind: str, *args: str, env: dict[str, str] | None = ..., cwd: Path | None = ..., timeout: float = ..., cls: type[T]
) -> T: ...
def launch(
    kind: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = START_TIMEOUT,
    cls: type[TargetProcess] = TargetProcess,
) -> TargetProcess:
    """Start a target and wait for its ready line; stopped again if it does not get ready."""
    target = spawn(kind, *args, env=env, cwd=cwd, cls=cls)
    try:
        return target.wait_ready(timeout=timeout)
    except BaseException:
        target.stop()
        raise
