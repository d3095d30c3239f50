"""Launch bundled targets as real ``loadkit target`` subprocesses, for tests of every layer.

Import it from any test module (``tests/`` is on ``sys.path`` through the root conftest)::

    from _targets import Target, launch

    target = launch("grpc")            # waits for the ready line, port 0 → a free port
    try:
        ... target.address, target.url, target.counters() ...
    finally:
        target.stop()

Most tests use the fixtures in ``tests/conftest.py`` instead (``grpc_target``,
``http_target``, ``start_target``), which stop what they started.
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
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"loadkit target (?P<kind>grpc|http) listening on (?P<host>\S+):(?P<port>\d+)")
#: Seconds a target gets to print its ready line (generous: the machine is shared).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class TargetExited(RuntimeError):
    """The target process exited (or never got ready); the message carries its log."""


class Target:
    """A running ``loadkit target`` subprocess and what its ready line said.

    Attributes: ``kind`` ("grpc"/"http"), ``host``, ``port``, ``address`` ("127.0.0.1:PORT"),
    ``url`` ("grpc://127.0.0.1:PORT" / "http://127.0.0.1:PORT"), ``process`` (the Popen).
    The target's stderr goes to ``log_path``; :meth:`log` reads it.
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
        """Everything the target wrote to stdout/stderr so far (kept after :meth:`stop`)."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace")

    def ready_lines(self) -> list[re.Match[str]]:
        return list(READY.finditer(self.log()))

    def wait_ready(self, count: int = 1, timeout: float = START_TIMEOUT) -> Target:
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
                raise TargetExited(f"target exited with {self.process.returncode} before ready:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TargetExited(f"target not ready within {timeout:g} s:\n{self.log()}")
            time.sleep(0.05)

    def counters(self) -> dict[str, int]:
        """Served calls per method ("/demo.v1.Demo/GetItem") or route ("GET /items/{item_id}")."""
        if self.kind == "http":
            import httpx

            response = httpx.get(f"{self.url}/counters", timeout=15)
            response.raise_for_status()
            return {str(k): int(v) for k, v in response.json().items()}
        import grpc

        from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            reply = admin_pb2_grpc.AdminStub(channel).GetCounters(admin_pb2.GetCountersRequest(), timeout=15)
        return dict(reply.calls)

    def reset_counters(self) -> None:
        if self.kind == "http":
            import httpx

            httpx.delete(f"{self.url}/counters", timeout=15).raise_for_status()
            return
        import grpc

        from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            admin_pb2_grpc.AdminStub(channel).ResetCounters(admin_pb2.ResetCountersRequest(), timeout=15)

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


def spawn(kind: str, *args: str, env: dict[str, str] | None = None) -> Target:
    """Start ``loadkit target KIND --port 0 ARGS`` without waiting (``--port`` in ARGS wins)."""
    argv = [sys.executable, "-m", "loadkit.cli", "target", kind]
    if "--port" not in args:
        argv += ["--port", "0"]
    argv += list(args)
    fd, name = tempfile.mkstemp(prefix=f"loadkit-target-{kind}-", suffix=".log")
    os.close(fd)
    log_file = open(name, "wb")  # noqa: SIM115 - closed by Target.stop
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=log_file,
        env={**os.environ, **(env or {})},
    )
    return Target(kind, process, Path(name), log_file)


def launch(kind: str, *args: str, env: dict[str, str] | None = None, timeout: float = START_TIMEOUT) -> Target:
    """Start a target and wait for its ready line; stopped again if it does not get ready."""
    target = spawn(kind, *args, env=env)
    try:
        return target.wait_ready(timeout=timeout)
    except BaseException:
        target.stop()
        raise
