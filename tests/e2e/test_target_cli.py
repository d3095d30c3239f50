"""``loadkit target``: daemon, status, stop, stale pidfile, double start, port in use, reload.

Every command runs as a real subprocess bounded by a timeout; the ``leftovers`` fixture
kills (and fails the test for) any process still holding the test's tmp folder on its
command line, so nothing is left running.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.procs import wait_for
from tests.support.targets import READY, ROOT, Target
from tests.support.tls import self_signed

pytestmark = pytest.mark.e2e

CMD_TIMEOUT = 90.0


def loadkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadkit.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CMD_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left to an init that does not reap counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ready_port(stderr: str) -> int:
    match = READY.search(stderr)
    assert match, stderr
    return int(match["port"])


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in proc.info["cmdline"] or ()) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[Path]:
    """The test's tmp folder; afterwards no process may mention it (leftovers are killed, then reported)."""
    yield tmp_path
    left = processes_mentioning(str(tmp_path))
    for proc in left:
        proc.kill()
    psutil.wait_procs(left, timeout=10)
    assert not left, f"processes left running: {[p.pid for p in left]}"


@pytest.fixture
def pidfile(leftovers: Path) -> Iterator[Path]:
    path = leftovers / "target.pid"
    yield path
    loadkit("target", "stop", "--pidfile", str(path), "--timeout", "20")


# --- daemon, status, stop ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_daemon_serves_reports_status_and_stops(kind: str, pidfile: Path) -> None:
    started = loadkit("target", kind, "--daemon", "--pidfile", str(pidfile))
    assert started.returncode == 0, started.stderr
    port = ready_port(started.stderr)
    pid = int(pidfile.read_text())
    assert alive(pid)
    if kind == "http":
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json() == {"status": "ok"}
    else:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    status = loadkit("target", "status", "--pidfile", str(pidfile))
    assert status.returncode == 0
    assert f"pid {pid}" in status.stdout

    stopped = loadkit("target", "stop", "--pidfile", str(pidfile))
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped (pid {pid})" in stopped.stdout
    assert not alive(pid)
    assert not pidfile.exists()
    assert loadkit("target", "status", "--pidfile", str(pidfile)).returncode == 3
    log = pidfile.with_suffix(".log").read_text()
    assert f"listening on 127.0.0.1:{port}" in log


def test_status_and_stop_without_a_daemon(pidfile: Path) -> None:
    status = loadkit("target", "status", "--pidfile", str(pidfile))
    assert status.returncode == 3
    assert "not running" in status.stdout
    stop = loadkit("target", "stop", "--pidfile", str(pidfile))
    assert stop.returncode == 0
    assert "not running" in stop.stdout


def test_stale_pidfile_is_detected_and_replaced(pidfile: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    pidfile.write_text(f"{gone.pid}\n")
    assert loadkit("target", "status", "--pidfile", str(pidfile)).returncode == 3

    started = loadkit(
        "target", "http", "--daemon", "--pidfile", str(pidfile), "--logfile", str(pidfile.parent / "x.log")
    )
    assert started.returncode == 0, started.stderr
    pid = int(pidfile.read_text())
    assert pid != gone.pid
    assert alive(pid)
    assert (pidfile.parent / "x.log").exists()


def test_second_daemon_on_a_live_pidfile_refuses(pidfile: Path) -> None:
    first = loadkit("target", "grpc", "--daemon", "--pidfile", str(pidfile))
    assert first.returncode == 0, first.stderr
    pid = int(pidfile.read_text())

    second = loadkit("target", "grpc", "--daemon", "--pidfile", str(pidfile))
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "already running" in lines[0]
    assert f"pid {pid}" in lines[0]
    assert "loadkit target stop --pidfile" in lines[0]
    assert alive(pid)
    assert int(pidfile.read_text()) == pid


def test_stop_kills_a_target_that_ignores_sigterm_and_says_so(pidfile: Path) -> None:
    stubborn_code = (
        "import signal, sys, time\n"
        "from pathlib import Path\n"
        "from loadkit.targets.daemon import PidLock\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "with PidLock(Path(sys.argv[1])):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(120)\n"
    )
    stubborn = subprocess.Popen([sys.executable, "-c", stubborn_code, str(pidfile)], stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline().strip() == "locked"
        result = loadkit("target", "stop", "--pidfile", str(pidfile), "--timeout", "1")
        assert result.returncode == 1
        assert f"pid {stubborn.pid} did not stop within 1 s" in result.stderr
        assert stubborn.wait(30) == -signal.SIGKILL
        assert not pidfile.exists()
    finally:
        stubborn.kill()
        stubborn.wait(30)
        if stubborn.stdout is not None:
            stubborn.stdout.close()


def test_daemon_without_pidfile_is_a_usage_error() -> None:
    result = loadkit("target", "http", "--daemon")
    assert result.returncode == 2
    assert "--pidfile" in result.stderr


# --- health check (compose healthchecks) -------------------------------------------


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_check_is_healthy_while_the_target_serves_and_unhealthy_after(
    kind: str, start_target: Callable[..., Target]
) -> None:
    target = start_target(kind)
    healthy = loadkit("target", "check", kind, target.address)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.strip() == f"loadkit target healthy: {kind} {target.address}"
    target.stop()
    down = loadkit("target", "check", kind, target.address, "--timeout", "1")
    assert down.returncode == 1, down.stdout + down.stderr
    assert down.stdout.startswith("loadkit target unhealthy: ") and target.address in down.stdout
    assert len(down.stdout.strip().splitlines()) == 1 and not down.stderr


def test_check_over_tls_trusts_the_given_ca(tmp_path: Path, start_target: Callable[..., Target]) -> None:
    """A target served with --certfile is probed over TLS with --cafile; plain HTTP to it is unhealthy."""
    cert, key = self_signed(tmp_path)
    target = start_target("http", "--certfile", str(cert), "--keyfile", str(key))
    healthy = loadkit("target", "check", "http", target.address, "--cafile", str(cert))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    plain = loadkit("target", "check", "http", target.address, "--timeout", "2")
    assert plain.returncode == 1, plain.stdout + plain.stderr
    refused = loadkit("target", "check", "grpc", target.address, "--cafile", str(cert))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--cafile" in refused.stderr


def test_check_of_the_wrong_kind_is_unhealthy(grpc_target: Target) -> None:
    """An HTTP probe of a gRPC port fails: the check speaks the target's protocol, not just TCP."""
    result = loadkit("target", "check", "http", grpc_target.address, "--timeout", "2")
    assert result.returncode == 1, result.stdout


# --- port in use ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_port_in_use_is_a_one_line_error(kind: str, start_target: Callable[..., Target]) -> None:
    busy = start_target(kind)
    result = loadkit("target", kind, "--port", str(busy.port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {busy.port}" in lines[0]
    assert "--port" in lines[0]


def test_daemon_on_a_port_in_use_reports_the_error_and_releases_the_pidfile(
    pidfile: Path, start_target: Callable[..., Target]
) -> None:
    busy = start_target("http")
    result = loadkit("target", "http", "--daemon", "--pidfile", str(pidfile), "--port", str(busy.port))
    assert result.returncode == 1
    assert f"port {busy.port}" in result.stderr
    wait_for(lambda: loadkit("target", "status", "--pidfile", str(pidfile)).returncode == 3, 30, "daemon exit")


# --- foreground ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "grpc"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_foreground_stops_cleanly_on_signals(
    kind: str, sig: signal.Signals, start_target: Callable[..., Target]
) -> None:
    target = start_target(kind)
    target.signal(sig)
    assert target.process.wait(30) == 0, target.log()


def test_foreground_with_pidfile_holds_it_while_running(pidfile: Path, start_target: Callable[..., Target]) -> None:
    target = start_target("http", "--pidfile", str(pidfile))
    status = loadkit("target", "status", "--pidfile", str(pidfile))
    assert status.returncode == 0
    assert f"pid {target.pid}" in status.stdout
    assert target.stop() == 0
    assert not pidfile.exists()


# --- reload --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_reload_restarts_the_target_when_a_watched_file_changes(
    kind: str, leftovers: Path, start_target: Callable[..., Target]
) -> None:
    watched = leftovers / "watched"
    watched.mkdir()
    source = watched / "module.py"
    source.write_text("VALUE = 1\n")
    target = start_target(kind, "--reload", env={"LOADKIT_RELOAD_DIR": str(watched)})
    parent = psutil.Process(target.pid)
    wait_for(lambda: len(parent.children()) == 1, 30, "the reloader's child")
    first_child = parent.children()[0].pid

    source.write_text("VALUE = 2\n")
    target.wait_ready(count=2)
    assert not alive(first_child)
    children = parent.children()
    assert len(children) == 1
    assert children[0].pid != first_child
    assert re.search(r"change in .*module\.py", target.log())

    assert target.stop() == 0
    assert not alive(children[0].pid)
