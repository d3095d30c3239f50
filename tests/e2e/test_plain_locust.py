"""A plain Locust locustfile that imports loadkit runs as under Locust (real ``locust`` processes).

Locust's own users and options only (loadkit.plain): no network check before the run, the
user's log set-up respected (``--skip-log-setup``), every user spawned with ``--processes``,
and no worker process left behind when the master is gone. CI time (2 cores): ~40 s.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.support import free_port, wait_for
from tests.support.procs import Procs

pytestmark = pytest.mark.e2e

PLAIN_HTTP = """
    import loadkit  # noqa: F401  (the one import a Locust user adds)
    from locust import HttpUser, constant, task

    class Web(HttpUser):
        wait_time = constant(0.5)

        @task
        def index(self):
            self.client.get("/")
"""

PLAIN_PRINT = """
    import loadkit  # noqa: F401
    from locust import User, constant, task

    class Quiet(User):
        wait_time = constant(2)

        @task
        def work(self):
            print("running my_task", flush=True)
"""


def locustfile(tmp_path: Path, source: str) -> str:
    path = tmp_path / "locustfile.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_a_plain_run_starts_when_its_host_does_not_answer_yet(tmp_path: Path) -> None:
    """Locust connects to nothing before its users do: a target still starting is the users' failures."""
    closed = f"http://127.0.0.1:{free_port()}"
    done = run(["-f", locustfile(tmp_path, PLAIN_HTTP), "--headless", "-u", "1", "-r", "1", "-t", "2", "-H", closed])
    assert "cannot reach" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr  # Locust's own verdict: requests failed
    assert "ConnectionRefusedError" in done.stderr or "Connection refused" in done.stderr


def test_skip_log_setup_leaves_the_output_to_the_users_logging(tmp_path: Path) -> None:
    args = ["-f", locustfile(tmp_path, PLAIN_PRINT), "--headless", "-u", "1", "-r", "1", "-t", "1"]
    done = run(args)
    assert done.returncode == 0 and "HDR histogram" in done.stdout  # loadkit's table, as usual
    quiet = run([*args, "--skip-log-setup"])
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout + quiet.stderr).strip() == "running my_task"


def forked_workers(marker: str) -> list[psutil.Process]:
    """Live processes whose command line names ``marker`` (the test's own locustfile)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if any(marker in part for part in cmdline) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def no_worker_left(marker: str, timeout: float = 20.0) -> None:
    try:
        wait_for(lambda: not forked_workers(marker), timeout, "every forked worker to exit")
    finally:
        for proc in forked_workers(marker):  # never leave one behind, even when the test fails
            proc.kill()


def test_workers_forked_by_processes_exit_when_their_master_is_killed(tmp_path: Path, procs: Procs) -> None:
    path = locustfile(tmp_path, PLAIN_PRINT)
    port = free_port()
    args = [sys.executable, "-m", "locust", "-f", path, "--processes", "2", "--headless", "-u", "2", "-r", "2"]
    args += ["-t", "60", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--master-port", str(port)]
    master = procs.start("master", args)
    # each worker's user prints once at start (Locust's "All users spawned" may come late on a busy machine)
    wait_for(lambda: len(master.find("running my_task")) >= 2, 60, "both forked workers running their user")
    assert len(forked_workers(path)) == 3  # the master and its two workers
    master.kill()  # no clean-up at all: SIGKILL
    no_worker_left(path)  # Locust's own rule (heartbeats) would wait 60 s


def test_workers_forked_by_processes_exit_when_their_master_refuses_to_start(tmp_path: Path) -> None:
    """A loadkit run (an option) whose host does not answer ends at start-up (exit 2), its workers forked."""
    path = locustfile(tmp_path, PLAIN_HTTP)
    port = free_port()
    closed = f"http://127.0.0.1:{free_port()}"
    args = ["-f", path, "--processes", "2", "--headless", "-u", "2", "-r", "2", "-t", "5", "-H", closed]
    args += ["--threshold", "fail_ratio<1", "--master-bind-host", "127.0.0.1"]
    done = run([*args, "--master-bind-port", str(port), "--master-port", str(port)])
    assert done.returncode == 2 and "cannot reach" in done.stderr, done.stderr
    no_worker_left(path)


PLAIN_SHAPE = """
    import loadkit  # noqa: F401
    from locust import LoadTestShape, User, constant, task

    class Quiet(User):
        wait_time = constant(1)

        @task
        def work(self):
            pass

    class TwoStages(LoadTestShape):
        def tick(self):
            run_time = self.get_run_time()
            return (1, 10) if run_time < 1 else (2, 10) if run_time < 2 else None
"""


def test_a_load_test_shape_runs_its_stages(tmp_path: Path) -> None:
    """Locust starts each stage with runner.start(user_count=..., ...): keywords reach Locust."""
    done = run(["-f", locustfile(tmp_path, PLAIN_SHAPE), "--headless"])
    assert "Traceback" not in done.stderr and "TypeError" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert "Shape test updating to 2 users" in done.stderr, done.stderr
