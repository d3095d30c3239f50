"""The bad-input table: each row runs the real command and checks how it fails.

For every row: the exit code (2 where loadkit decides it is a usage error, Locust's own
code where Locust decides — see ``decides``), ONE output line matching ``line`` (it names
the offending value and the fix), no Python traceback (except where Locust prints the
locustfile's own), no load reached the target (its served-call counters are unchanged),
and nothing is left running: each command runs in its own session, and after it exits no
process of that session is alive and the ports it was given do not listen.

The one row of the "recovers" kind (a stale pidfile) expects exit 0 after the target
started, replaced the pidfile and was stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.support.procs import free_port, wait_for
from tests.support.targets import READY, Target

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "bad_input_files"
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


# --- the rows' commands -----------------------------------------------------------------
def syntax_error(ctx: Ctx) -> list[Run]:
    path = ctx.tmp / "syntax_error.py"
    path.write_text("from locust import User\n\n\nclass Broken(User)\n    pass\n")
    return [ctx.run([*LOCUST, "-f", str(path)])]


def no_user_class(ctx: Ctx) -> list[Run]:
    # Written outside the repo too: with no User class Locust collects the file with pytest,
    # whose root would be this repo (its settings make warnings errors) under tests/.
    path = ctx.tmp / "no_user.py"
    path.write_text("import loadkit.plugin  # noqa: F401\n\nPAGES = ['/health']\n")
    return [ctx.run([*LOCUST, "-f", str(path)])]


def unreachable(file: str, scheme: str) -> Callable[[Ctx], list[Run]]:
    def run(ctx: Ctx) -> list[Run]:
        return [ctx.run(locust(file, "-H", f"{scheme}://127.0.0.1:{free_port()}"))]

    return run


def with_host(file: str, kind: str, *extra: str) -> Callable[[Ctx], list[Run]]:
    def run(ctx: Ctx) -> list[Run]:
        target = ctx.grpc if kind == "grpc" else ctx.http
        return [ctx.run(locust(file, "-H", target.url, *extra))]

    return run


def report_under_a_file(ctx: Ctx) -> list[Run]:
    (ctx.tmp / "reports").write_text("a regular file, not a folder\n")
    return [ctx.run(locust("rest_user.py", "-H", ctx.http.url, "--report-json", str(ctx.tmp / "reports" / "r.json")))]


def report_path_node(kind: str) -> Callable[[Ctx], list[Run]]:
    """--report-json naming a FIFO, or a symlink to a character device: refused at the start."""

    def run(ctx: Ctx) -> list[Run]:
        path = ctx.tmp / kind
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/null")
        return [ctx.run(locust("rest_user.py", "-H", ctx.http.url, "--report-json", str(path)))]

    return run


def target_port_busy(kind: str) -> Callable[[Ctx], list[Run]]:
    def run(ctx: Ctx) -> list[Run]:
        return [ctx.run([*LOADKIT, "target", kind, "--port", str(ctx.busy_port())])]

    return run


def master(ctx: Ctx, port: int, *extra: str) -> list[str]:
    args = locust("grpc_user.py", "-H", ctx.grpc.url, "--master", "--master-bind-host", "127.0.0.1")
    return [*args, "--master-bind-port", str(port), *extra]


def master_port_busy(ctx: Ctx) -> list[Run]:
    return [ctx.run(master(ctx, ctx.busy_port(), "--expect-workers", "1"))]


def expect_workers_timeout(ctx: Ctx) -> list[Run]:
    return [ctx.run(master(ctx, ctx.own_port(), "--expect-workers", "2", "--expect-workers-max-wait", "1"))]


def version_mismatch(ctx: Ctx) -> list[Run]:
    port = ctx.own_port()
    # A long wait: a slow worker start on a loaded machine must still reach the master in time.
    boss = ctx.start(master(ctx, port, "--expect-workers", "1", "--expect-workers-max-wait", "15"))
    shim = [sys.executable, str(FILES / "version_shim.py"), OTHER_VERSION, "-f", str(FILES / "grpc_user.py")]
    worker = ctx.run([*shim, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)])
    return [boss.finish(), worker]


def live_pidfile(ctx: Ctx) -> list[Run]:
    pidfile = ctx.tmp / "grpc.pid"
    ctx.start_target("grpc", "--pidfile", str(pidfile))  # holds the pidfile's lock until teardown
    return [ctx.run([*LOADKIT, "target", "grpc", "--port", "0", "--pidfile", str(pidfile)])]


def stale_pidfile(ctx: Ctx) -> list[Run]:
    """The "recovers" row: a pidfile naming a dead process is taken over, the target starts and stops cleanly."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    pidfile = ctx.tmp / "stale.pid"
    pidfile.write_text(f"{dead.pid}\n")
    cmd = ctx.start([*LOADKIT, "target", "grpc", "--port", "0", "--pidfile", str(pidfile)])
    assert cmd.popen.stdout is not None
    lines: list[str] = []
    while not any(READY.search(line) for line in lines):
        line = cmd.popen.stdout.readline()
        assert line, f"the target exited before it was ready:\n{''.join(lines)}"
        lines.append(line)
    assert pidfile.read_text().strip() == str(cmd.popen.pid), "the stale pidfile was not replaced"
    cmd.popen.terminate()
    run = cmd.finish()
    assert not pidfile.exists(), "the target left its pidfile behind"
    return [Run(run.args, run.code, "".join(lines) + run.output, run.sid)]


def open_model(ctx: Ctx, *extra: str, users: bool = False) -> list[Run]:
    """An arrival-rate run of the REST user against the HTTP target (no -u unless ``users``)."""
    base = LOCUST if users else [*LOCUST[: LOCUST.index("-u")], *LOCUST[LOCUST.index("-u") + 2 :]]
    return [ctx.run([*base, "-f", str(FILES / "rest_user.py"), "-H", ctx.http.url, *extra])]


# --- the table ---------------------------------------------------------------------------
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


FIX_HOST = r"start the target or fix --host"
ROWS = [
    Row(
        "locustfile-syntax-error",
        syntax_error,
        (1,),
        (r"File \".*syntax_error\.py\", line 4",),
        decides="Locust (imports the locustfile before any plugin; prints its traceback)",
        traceback_ok=True,
    ),
    Row(
        "locustfile-without-user",
        no_user_class,
        (1,),
        (r"ERROR/locust\.main: No User class found!",),
        decides="Locust",
    ),
    Row(
        "rest-host-ftp-scheme",
        lambda ctx: [ctx.run(locust("rest_user.py", "-H", "ftp://127.0.0.1:21"))],
        (2,),
        (r"^loadkit: error: Api host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use http://HOST\[:PORT\] or https://",),
    ),
    Row(
        "grpc-host-ftp-scheme",
        lambda ctx: [ctx.run(locust("grpc_user.py", "-H", "ftp://127.0.0.1:21"))],
        (2,),
        (r"^loadkit: error: GrpcUser host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use grpc://HOST:PORT",),
    ),
    Row(
        "rest-host-unreachable",
        unreachable("rest_user.py", "http"),
        (2,),
        (rf"^loadkit: error: cannot reach http://127\.0\.0\.1:\d+ for Api \(connection refused\): {FIX_HOST}",),
    ),
    Row(
        "grpc-host-unreachable",
        unreachable("grpc_user.py", "grpc"),
        (2,),
        (rf"^loadkit: error: cannot reach grpc://127\.0\.0\.1:\d+ for Demo \(connection refused\): {FIX_HOST}",),
    ),
    Row(
        "proto-malformed",
        with_host("bad_proto_user.py", "grpc"),
        (2,),
        (r"^loadkit: error: protoc could not compile \S+/broken\.proto .*: fix the file",),
        target="grpc",
    ),
    Row(
        "reflection-unknown-service",
        with_host("reflection_service.py", "grpc"),
        (2,),
        (r"^loadkit: error: service 'demo\.v1\.Nope' not found in the server's reflection: set service to",),
        target="grpc",
    ),
    Row(
        "reflection-unknown-method",
        with_host("reflection_method.py", "grpc"),
        (2,),
        (r"loadkit: error: service demo\.v1\.Demo has no method 'GetIten': call one of \[.*'GetItem'",),
        target="grpc",
    ),
    Row(
        "reflection-host-is-not-grpc",
        lambda ctx: [ctx.run(locust("reflection_method.py", "-H", f"grpc://{ctx.http.address}"))],
        (2,),
        (
            r"^loadkit: error: cannot look up service 'demo\.v1\.Demo' via the server's reflection "
            r"\(UNAVAILABLE: .*\): check that the host is a gRPC server with reflection on",
        ),
        target="http",
    ),
    Row(
        "data-file-missing",
        with_host("rest_user.py", "http", "--loadkit-data", "no/such/users.csv"),
        (2,),
        (r"^loadkit: error: test-data file 'no/such/users\.csv' does not exist: give an existing",),
        target="http",
    ),
    Row(
        "data-file-empty",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "empty.csv")),
        (2,),
        (r"^loadkit: error: test-data file '\S+empty\.csv' holds no rows: add at least one row",),
        target="http",
    ),
    Row(
        "data-file-broken-csv",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "broken.csv")),
        (2,),
        (r"^loadkit: error: \S+broken\.csv:2: 3 value\(s\) for 2 column\(s\).*: fix that line",),
        target="http",
    ),
    Row(
        "data-file-broken-jsonl",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "broken.jsonl")),
        (2,),
        (r"^loadkit: error: \S+broken\.jsonl:2: bad JSON .*: fix that line",),
        target="http",
    ),
    Row(
        "data-file-bom-and-repeated-column",  # the BOM is stripped: the column is named 'id', not '\ufeffid'
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "bom_repeated.csv")),
        (2,),
        (r"^loadkit: error: \S+bom_repeated\.csv:1: column 'id' appears 2 times in the header.*: rename or remove",),
        target="http",
    ),
    Row(
        "data-faker-count-too-large",
        with_host("rest_user.py", "http", "--loadkit-data", "faker:10000000"),
        (2,),
        (r"^loadkit: error: bad generator spec 'faker:10000000': COUNT 10,000,000 is more than 1,000,000: use faker:",),
        target="http",
    ),
    Row(
        "health-interval-negative",
        with_host("rest_user.py", "http", "--loadkit-health-interval", "-1"),
        (2,),
        (r"^loadkit: error: --loadkit-health-interval -1 is out of range: give a number from 0\.1 to 3600",),
        target="http",
    ),
    Row(
        "grpc-host-bad-port",
        lambda ctx: [ctx.run(locust("grpc_user.py", "-H", "grpc://[::1]:99999"))],
        (2,),
        (r"^loadkit: error: Demo host 'grpc://\[::1\]:99999' has a bad port 99999 \(1-65535\): use e\.g\. grpc://",),
    ),
    Row(
        "threshold-infinite",
        with_host("rest_user.py", "http", "--threshold", "p95<1e999ms"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95<1e999ms' at '1e999': not a finite number",),
        target="http",
    ),
    Row(
        "threshold-look-alike-characters",
        with_host("rest_user.py", "http", "--threshold", "p95\u203950\u00b5s"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95\u203950\u00b5s'.*did you mean 'p95<50us'\?$",),
        target="http",
    ),
    Row(
        "report-path-fifo",
        report_path_node("fifo"),
        (2,),
        (r"^loadkit: error: --report-json '\S+/fifo' is a FIFO, not a regular file: give a file path",),
        target="http",
    ),
    Row(
        "report-path-link-to-device",
        report_path_node("link"),
        (2,),
        (r"^loadkit: error: --report-json '\S+/link' \(a link to /dev/null\) is a character device, not a regular",),
        target="http",
    ),
    Row(
        "data-next-without-data",  # every user hits it: the run stops once, with one line
        lambda ctx: [ctx.run(locust("data_without_option.py", "-u", "5", "-r", "5", "-H", ctx.http.url))],
        (2,),
        (
            r"loadkit: error: loadkit\.data\.next\(\) has no test data: "
            r"run locust with --loadkit-data FILE .*'import loadkit'",
        ),
        target="http",
    ),
    Row(
        "agent-port-out-of-range",
        lambda ctx: [ctx.run([*LOADKIT, "agent", "--port", "99999"])],
        (2,),
        (r"^loadkit: error: --port 99999 is not a port: use 1-65535, or 0 to pick a free one$",),
    ),
    Row(
        "demo-users-zero",  # refused before the demo starts its targets
        lambda ctx: [ctx.run([*LOADKIT, "demo", "--users", "0"])],
        (2,),
        (r"^loadkit: error: --users 0 is out of range: give at least 1$",),
    ),
    Row(
        "threshold-expression",
        with_host("rest_user.py", "http", "--threshold", "p95<<50ms"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95<<50ms'.*expected METRIC OP NUMBER \(e\.g\. 'p95<50ms'",),
        target="http",
    ),
    Row(
        "report-path-not-writable",
        report_under_a_file,
        (2,),
        (r"^loadkit: error: --report-json '\S+/reports/r\.json': \S+/reports is not a folder: give a path under",),
        target="http",
    ),
    Row(
        "target-grpc-port-in-use",
        target_port_busy("grpc"),
        (1,),
        (r"^loadkit: error: cannot listen on 127\.0\.0\.1:(\d+): port \1 is in use.*pass another --port",),
    ),
    Row(
        "target-http-port-in-use",
        target_port_busy("http"),
        (1,),
        (r"^loadkit: error: cannot listen on 127\.0\.0\.1:(\d+): .*stop what listens on port \1 or pass another",),
    ),
    Row(
        "master-port-in-use",
        master_port_busy,
        (1,),
        (r"^loadkit: error: the master cannot listen on --master-bind-port \d+ \(Address already in use\): stop",),
        decides="Locust's exit code (1, as a target's busy port); loadkit's line",
        target="grpc",
    ),
    Row(
        "pidfile-live",
        live_pidfile,
        (1,),
        (r"^loadkit: error: a target is already running \(pid \d+\) with pidfile \S+grpc\.pid: stop it with",),
    ),
    Row(
        "pidfile-stale-recovers",
        stale_pidfile,
        (0,),
        (r"loadkit target grpc listening on 127\.0\.0\.1:\d+",),
    ),
    Row(
        "expect-workers-never-reached",
        expect_workers_timeout,
        (1,),
        (
            r"Gave up waiting for workers to connect: 0 of --expect-workers 2 ready "
            r"within --expect-workers-max-wait 1s: start the missing workers",
        ),
        decides="Locust's exit code and give-up line; loadkit completes the line",
        target="grpc",
    ),
    Row(
        "worker-other-loadkit-version",
        version_mismatch,
        (1, 2),  # the master gives up waiting (its worker was refused); the refused worker exits 2
        (
            rf"loadkit: error: worker \S+ runs loadkit {re.escape(OTHER_VERSION)}, master runs \S+: install the same",
            rf"loadkit: error: worker \S+ runs loadkit {re.escape(OTHER_VERSION)}, master runs \S+: install the same",
        ),
        target="grpc",
        also=(r"Gave up waiting for workers to connect: 0 of --expect-workers 1 ready",),  # not counted
    ),
    Row(
        "arrival-rate-zero",
        lambda ctx: open_model(ctx, "--arrival-rate", "0"),
        (2,),
        (r"^loadkit: error: --arrival-rate '0' must be a number > 0 \(iterations per second\), e\.g\. 100$",),
        target="http",
    ),
    Row(
        "arrival-rate-negative",
        lambda ctx: open_model(ctx, "--arrival-rate=-5"),
        (2,),
        (r"^loadkit: error: --arrival-rate '-5' must be a number > 0 \(iterations per second\), e\.g\. 100$",),
        target="http",
    ),
    Row(
        "arrival-stages-malformed",
        lambda ctx: open_model(ctx, "--arrival-stages", "30s:100,2m"),
        (2,),
        (r"^loadkit: error: --arrival-stages '30s:100,2m' at '2m': missing ':' \(write DURATION:RATE pairs, e\.g\. ",),
        target="http",
    ),
    Row(
        "arrival-rate-with-users",
        lambda ctx: open_model(ctx, "--arrival-rate", "10", users=True),
        (2,),
        (r"^loadkit: error: --arrival-rate 10 with -u/--users 1: an arrival-rate run takes its users from a pool",),
        target="http",
    ),
    Row(
        "arrival-pool-zero",
        lambda ctx: open_model(ctx, "--arrival-rate", "10", "--max-users", "0"),
        (2,),
        (r"^loadkit: error: --max-users 0 must be a whole number >= 1 \(the pool of users iterations run on\)$",),
        target="http",
    ),
]


def load(target: Target) -> dict[str, int]:
    """Served calls of the service under test (reflection and health lookups are no load)."""
    return {name: n for name, n in target.counters().items() if not name.startswith("/grpc.")}


@pytest.fixture
def ctx(tmp_path: Path, grpc_target: Target, http_target: Target, start_target: Callable[..., Target]) -> Iterator[Ctx]:
    context = Ctx(tmp_path, grpc_target, http_target, start_target)
    try:
        yield context
    finally:
        context.close()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, ctx: Ctx) -> None:
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
