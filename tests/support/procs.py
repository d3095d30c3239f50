"""Processes of the end-to-end tests and benches: a loadkit agent, locust masters and workers.

Every process started here is terminated and waited by :meth:`Procs.close` (a fixture's
finally); output is collected line by line in a thread, so tests poll it with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tests.support import ROOT, free_port, get_json, wait_for

__all__ = ["ROOT", "Proc", "Procs", "free_port", "get_json", "wait_for"]


class Proc:
    """A subprocess whose merged output lines are kept with their arrival time."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.lines: list[tuple[float, str]] = []
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def find(self, text: str) -> list[tuple[float, str]]:
        return [(t, line) for t, line in list(self.lines) if text in line]

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._reader.join(timeout=5)


class Procs:
    """Starts agents and locust nodes; :meth:`close` stops them all."""

    def __init__(self) -> None:
        self.all: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, args, env)
        self.all.append(proc)
        return proc

    def agent(self) -> str:
        proc = self.start("agent", [sys.executable, "-m", "loadkit.cli", "agent", "--port", "0", "--interval", "0.5"])
        line = wait_for(lambda: proc.find("loadkit agent serving"), 30, "the agent")[0][1]
        return line.split()[-1].removesuffix("/samples")

    def master(
        self, locustfile: str, workers: int, *extra: str, headless: bool = True, port: int | None = None
    ) -> tuple[Proc, int]:
        port = port or free_port()
        args = [sys.executable, "-m", "locust", "-f", locustfile, "--master", "--master-bind-host", "127.0.0.1"]
        args += ["--master-bind-port", str(port), "--expect-workers", str(workers)]
        args += ["--expect-workers-max-wait", "60", "--loglevel", "INFO", *extra]
        if headless:
            args.append("--headless")
        return self.start("master", args), port

    def worker(
        self, locustfile: str, master_port: int, env: dict[str, str] | None = None, loglevel: str = "INFO"
    ) -> Proc:
        args = [sys.executable, "-m", "locust", "-f", locustfile, "--worker", "--master-host", "127.0.0.1"]
        args += ["--master-port", str(master_port), "--loglevel", loglevel]
        return self.start(f"worker{len(self.all)}", args, env)

    def close(self) -> None:
        for proc in reversed(self.all):
            proc.stop()
