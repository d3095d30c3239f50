"""loadkit's options as a Locust user meets them: `locust --help`, env var names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadkit import config

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = REPO / "tests" / "e2e" / "stats_files" / "synthetic.py"


def _locust(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    return subprocess.run(
        [sys.executable, "-m", "locust", *args],
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_locust_help_with_a_locustfile_lists_loadkits_groups() -> None:
    proc = _locust("-f", "locustfiles/grpc_demo.py", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for group in {o.group for o in config.OPTIONS}:
        assert f"\n{group}:\n" in proc.stdout, group
    assert "--arrival-rate" in proc.stdout and "--fleet-secret-file" in proc.stdout


def test_locust_threshold_is_refused_like_a_bad_loadkit_threshold() -> None:
    """Both spellings of a bad gate end the run before any load, one line, exit 2."""
    run = ["-f", str(SYNTHETIC), "--headless", "-u", "1", "-t", "1s"]
    locust_name = _locust(*run, LOCUST_THRESHOLD="p95<<50")
    assert locust_name.returncode == 2, locust_name.stderr[-2000:]
    assert "LOCUST_THRESHOLD is set" in locust_name.stderr and "LOADKIT_THRESHOLD" in locust_name.stderr
    loadkit_name = _locust(*run, LOADKIT_THRESHOLD="p95<<50")
    assert loadkit_name.returncode == 2, loadkit_name.stderr[-2000:]


def test_an_old_variable_name_still_gates_with_one_warning() -> None:
    proc = _locust("-f", str(SYNTHETIC), "--headless", "-u", "2", "-t", "2s", LOADKIT_THRESHOLDS="count<1")
    assert proc.returncode == 99, proc.stderr[-2000:]
    assert proc.stderr.count("LOADKIT_THRESHOLDS is deprecated") == 1, proc.stderr[-3000:]
