"""What a headless ``locust`` run prints: one final table (loadkit's), the verdict last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SYNTHETIC = Path(__file__).parent / "stats_files" / "synthetic.py"


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    cmd = [sys.executable, "-m", "locust", "-f", str(SYNTHETIC), "--headless", "-u", "2", "-t", "2s", *args]
    return subprocess.run(
        cmd, env={**base, **env}, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )


def _last_line(out: str) -> str:
    return [line for line in out.splitlines() if line.strip()][-1]


def test_one_final_table_and_the_verdict_last(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--threshold", "p99<500ms")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "percentiles (approximated)" not in proc.stdout
    assert proc.stdout.count("Aggregated") >= 2  # Locust's live table and loadkit's final one
    assert "HDR histogram" in proc.stdout
    assert _last_line(proc.stdout) == "loadkit: PASSED (exit 0): 1 of 1 thresholds passed", proc.stdout[-2000:]


def test_failing_thresholds_and_failures_end_with_their_verdict(tmp_path: Path) -> None:
    failing = _run(tmp_path, "--threshold", "count<1")
    assert failing.returncode == 99
    assert _last_line(failing.stdout) == "loadkit: FAILED (exit 99): 1 of 1 thresholds failed", failing.stdout[-2000:]
    errors = _run(tmp_path, LK_SYNTH_MODE="fail")
    assert errors.returncode == 1
    assert _last_line(errors.stdout).startswith("loadkit: FAILED (exit 1): "), errors.stdout[-2000:]


def test_locusts_own_final_table_behind_a_flag(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--locust-final-table")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "percentiles (approximated)" in proc.stdout
    assert _last_line(proc.stdout).startswith("loadkit: PASSED (exit 0)"), proc.stdout[-2000:]


def test_load_test_prints_progress_while_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """LoadTest (and so `loadkit demo`): a plain line every interval, none after the final table."""
    from loadkit import LoadTest
    from tests.support import import_file

    user = import_file(SYNTHETIC).SyntheticUser
    LoadTest([user], users=2, run_time=2.5, progress=0.5).run()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("loadkit: ") and " reqs  " in line]
    assert len(lines) >= 3, out[-2000:]
    assert all("req/s" in line and "p99" in line and "/2s" in line for line in lines), lines
    assert "\x1b" not in out
    assert out.index(lines[-1]) < out.index("HDR histogram")


def test_open_model_console_has_no_zero_user_noise_and_shows_its_rate(tmp_path: Path) -> None:
    tick = Path(__file__).parent / "open_model_files" / "tick_user.py"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    cmd = [sys.executable, "-m", "locust", "-f", str(tick), "--headless", "-t", "12s", "--arrival-rate", "20"]
    proc = subprocess.run(
        cmd, env=base, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Ramping to 0 users" not in proc.stdout and "(0 total users)" not in proc.stdout, proc.stdout[-3000:]
    live = [line for line in proc.stdout.splitlines() if "open model: target" in line and " reqs  " in line]
    assert live and "late " in live[-1] and "dropped " in live[-1], proc.stdout[-3000:]
    assert "/12s" in live[-1]
