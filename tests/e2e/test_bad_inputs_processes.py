"""Bad input to processes: busy ports, pidfiles, missing or mismatched workers, the loadkit CLI.

Each row runs the real command; what every row must show (exit code, one line naming the
value and the fix, no load, nothing left running) is :func:`tests.support.bad_inputs.check`.
The one row of the "recovers" kind (a stale pidfile) expects exit 0 after the target started,
replaced the pidfile and was stopped with SIGTERM. Locust command-line rows are in
``test_bad_inputs_locust.py``. CI time (2 cores): ~25 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.support.bad_inputs import FILES, LOADKIT, OTHER_VERSION, Ctx, Row, Run, check, locust
from tests.support.targets import READY

pytestmark = pytest.mark.e2e


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


ROWS = [
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
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, bad_input_ctx: Ctx) -> None:
    check(row, bad_input_ctx)
