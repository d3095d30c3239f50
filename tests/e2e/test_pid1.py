"""A ``locust`` process that is PID 1 (a container without an init) still ends on SIGTERM.

Without a container engine: ``unshare --pid --fork`` makes the worker PID 1 of a new PID
namespace, where the kernel ignores a signal that has no handler, as in a container.
tests/e2e/test_compose_engine.py checks the same with ``docker stop`` on a real engine.
Needs root (CAP_SYS_ADMIN); skipped, with the reason, where the namespace cannot be made.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadkit._locust import pid1
from tests.support.procs import ROOT, Procs, free_port, wait_for
from tests.support.requirements import require

pytestmark = pytest.mark.e2e

LOCUSTFILE = ROOT / "locustfiles" / "fleet.py"


def test_nothing_is_installed_outside_pid_1() -> None:
    assert not pid1.install()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def pid_namespaces_permitted() -> str | None:
    if shutil.which("unshare") is None:
        return "needs the `unshare` command: apt-get install util-linux"
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"needs root for a PID namespace ({probe.stderr.strip()}): run as root (CI does)"
    return None


def pid_in_namespace(pid: int) -> int:
    """The process's PID in its own (innermost) PID namespace."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[-1])


def test_worker_waiting_for_its_master_as_pid_1_ends_on_sigterm(procs: Procs, tmp_path: Path) -> None:
    require(pid_namespaces_permitted())
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    nowhere = ["--master-host", "127.0.0.1", "--master-port", str(free_port())]  # nothing listens there
    wrapper = procs.start("worker-pid1", ["unshare", "--pid", "--fork", "--kill-child", *locust, *nowhere])
    worker = wait_for(lambda: psutil.Process(wrapper.popen.pid).children(), 30, "the worker in its namespace")[0]
    assert pid_in_namespace(worker.pid) == 1
    wait_for(lambda: wrapper.find("Starting Locust"), 60, "the worker to start")
    time.sleep(1)  # inside the runner's constructor now: it waits for a master that never answers

    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = wrapper.wait(timeout=10)
    took = time.monotonic() - sent
    assert code == 143, wrapper.output[-3000:]
    assert took < 3, f"{took:.1f} s"
    assert wrapper.find("loadkit: SIGTERM before Locust's own handler"), wrapper.output[-3000:]
