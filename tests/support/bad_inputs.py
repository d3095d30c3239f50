"""The bad-input table's machinery: run a row's real command, then check how it failed.

A :class:`Row` names a command (a function of :class:`Ctx` returning the finished
:class:`Run` of each process it started), the exit code and the ONE output line expected of
each. :func:`check` asserts, for every row: that exit code (2 where loadkit decides it is a
usage error, Locust's own code where Locust decides — see ``Row.decides``), exactly one line
matching (it names the offending value and the fix), no Python traceback (except where Locust
prints the locustfile's own), no load reached the target (its served-call counters are
unchanged), and nothing left running: each command runs in its own session, and after it exits
no process of that session is alive and the ports it was given do not listen.

The rows themselves live in the test modules, by area: ``tests/e2e/test_bad_inputs_locust.py``
(what a locust command line and its files say) and ``tests/e2e/test_bad_inputs_processes.py``
(ports, pidfiles, workers, the loadkit CLI).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support import ROOT, free_port, wait_for
from tests.support.targets import Target

FILES = ROOT / "tests" / "e2e" / "bad_input_files"
CMD_TIMEOUT = 60.0
LOCUST = [sys.executable, "-m", "locust", "--headless", "-u", "1", "-r", "1", "-t", "5", "--loglevel", "INFO"]
LOADKIT = [sys.executable, "-m", "loadkit.cli"]
OTHER_VERSION = "0.0.0+other"


def listening(port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in psutil.net_connections("tcp")
    )


def session_alive(sid: int) -> list[int]:
    """Pids still alive in session ``sid`` (zombies count as gone)."""
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return alive


@dataclass
class Run:
    """One finished command: exit code, merged output, and its session id (= its pid)."""

    args: list[str]
    code: int
    output: str
    sid: int


class Cmd:
    """A command in its own session; :meth:`finish` waits, :meth:`close` kills the whole session."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def finish(self, timeout: float = CMD_TIMEOUT) -> Run:
        output, _ = self.popen.communicate(timeout=timeout)
        return Run(self.args, self.popen.returncode, output, self.popen.pid)

    def close(self) -> None:
        for pid in session_alive(self.popen.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)


@dataclass
class Ctx:
    """What a row's command needs: a tmp folder, the targets, busy and free ports, cleanup."""

    tmp: Path
    grpc: Target
    http: Target
    start_target: Callable[..., Target]
    cmds: list[Cmd] = field(default_factory=list)
    blockers: list[socket.socket] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)  # ports given to the command: free again after it

    def busy_port(self) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        self.blockers.append(sock)
        return int(sock.getsockname()[1])

    def own_port(self) -> int:
        port = free_port()
        self.ports.append(port)
        return port

    def start(self, args: list[str]) -> Cmd:
        cmd = Cmd(args, self.tmp)
        self.cmds.append(cmd)
        return cmd

    def run(self, args: list[str]) -> Run:
        return self.start(args).finish()

    def close(self) -> None:
        for cmd in self.cmds:
            cmd.close()
        for sock in self.blockers:
            sock.close()


def locust(file: str, *extra: str) -> list[str]:
    return [*LOCUST, "-f", str(FILES / file), *extra]


# --- the rows' shape and the one check ----------------------------------------------------
@dataclass(frozen=True)
class Row:
    """``code``: expected exit code per command; ``line``: a regex one line must match, per command."""

    id: str
    command: Callable[[Ctx], list[Run]]
    codes: tuple[int, ...]
    lines: tuple[str, ...]
    decides: str = "loadkit"
    target: str | None = None  # "grpc"/"http": its counters must not move
    also: tuple[str, ...] = ()  # more regexes the first command's output must match
    traceback_ok: bool = False


def load(target: Target) -> dict[str, int]:
    """Served calls of the service under test (reflection and health lookups are no load)."""
    return {name: n for name, n in target.counters().items() if not name.startswith("/grpc.")}


def check(row: Row, ctx: Ctx) -> None:
    """Run ``row``'s command and assert everything the module docstring promises."""
    target = {"grpc": ctx.grpc, "http": ctx.http}.get(row.target or "")
    before = load(target) if target is not None else None
    runs = row.command(ctx)
    for run, code, line in zip(runs, row.codes, row.lines, strict=True):
        shown = f"{run.args}\n{run.output}"
        assert run.code == code, f"exit {run.code}, expected {code} ({row.decides} decides)\n{shown}"
        matching = [out for out in run.output.splitlines() if re.search(line, out)]
        assert len(matching) == 1, f"expected one line matching {line!r}\n{shown}"
        if not row.traceback_ok:
            assert "Traceback" not in run.output, shown
        wait_for(lambda run=run: not session_alive(run.sid), 10, f"every process of {run.args} to exit")
    for pattern in row.also:
        assert re.search(pattern, runs[0].output), f"expected {pattern!r}\n{runs[0].output}"
    for port in ctx.ports:
        wait_for(lambda port=port: not listening(port), 10, f"port {port} to be free")
    if target is not None:
        assert load(target) == before, "load reached the target"
