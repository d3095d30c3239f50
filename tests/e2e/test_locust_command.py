"""``loadkit locust``: a worker that downloads its locustfile (``-f -``) from a master with a fleet secret.

Plain ``locust --worker -f -`` opens its download socket before any locustfile (and so before
loadkit) is imported: against a secured master it is never answered. ``loadkit locust`` loads
loadkit and the secret first (loadkit.run.launch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support import free_port, wait_for
from tests.support.procs import Procs

pytestmark = pytest.mark.e2e

LOCUSTFILE = str(Path(__file__).parent / "launch_files" / "ticker.py")
SECRET = "launch-test-secret-" + "k" * 20


def test_a_secured_worker_downloads_its_locustfile_from_the_master(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    report, port = tmp_path / "report.json", free_port()
    master_args = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--master", "--master-bind-host", "127.0.0.1"]
    master_args += ["--master-bind-port", str(port), "--expect-workers", "1", "--expect-workers-max-wait", "60"]
    master_args += ["--headless", "-u", "2", "-r", "2", "-t", "4s", "--report-json", str(report)]
    worker_args = [sys.executable, "-m", "loadkit.cli", "locust", "--worker", "-f", "-", "--master-host", "127.0.0.1"]
    worker_args += ["--master-port", str(port), "--fleet-secret-file", str(secret_file)]
    procs = Procs()
    try:
        master = procs.start("master", master_args, {"LOADKIT_FLEET_SECRET_FILE": str(secret_file)})
        worker = procs.start("worker", worker_args)
        assert master.wait(90) == 0, master.output
        wait_for(lambda: worker.popen.poll() is not None, 30, "the worker to quit with its master")
        assert worker.popen.returncode == 0, worker.output
    finally:
        procs.close()
    ticks = [e for e in json.loads(report.read_text())["entries"] if e["name"] == "tick"]
    assert ticks and ticks[0]["count"] > 10, ticks


def test_a_bad_secret_is_one_line_and_exit_2_before_any_socket(tmp_path: Path) -> None:
    procs = Procs()
    try:
        worker = procs.start(
            "worker",
            [sys.executable, "-m", "loadkit.cli", "locust", "--worker", "-f", "-", "--master-port", str(free_port())],
            {"LOADKIT_FLEET_SECRET": "short"},
        )
        assert worker.wait(60) == 2, worker.output
    finally:
        procs.close()
    errors = [line for _, line in worker.lines if "error" in line]
    assert len(errors) == 1 and "fleet secret" in errors[0], worker.output


def test_a_run_lasts_its_run_time_however_long_init_blocked(tmp_path: Path) -> None:
    """``-t 3s`` is 3 s of load even when ``init`` blocked for 2 s (a stale gevent clock ended it after ~0.4 s)."""
    locustfile = str(Path(__file__).parent / "launch_files" / "slow_init.py")
    procs = Procs()
    try:
        args = [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "-u", "1", "-t", "3s"]
        run = procs.start("run", args)
        assert run.wait(60) == 0, run.output
    finally:
        procs.close()
    lasted = [float(line.split()[2]) for _, line in run.lines if line.startswith("ran for ")]
    assert lasted and lasted[0] >= 2.9, run.output
