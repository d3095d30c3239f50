"""loadkit's stats in real `locust` processes: exit codes, reports, distributed accuracy."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, import_file

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "stats_files"
LOCUST = [sys.executable, "-m", "locust"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    return {**env, **extra}


def _run(args: list[str], cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOCUST, *args], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


def _local(tmp_path: Path, *args: str, run_time: str = "2s", **env: str) -> subprocess.CompletedProcess[str]:
    lf = str(FILES / "synthetic.py")
    return _run(["-f", lf, "--headless", "-u", "4", "-r", "4", "-t", run_time, *args], tmp_path, **env)


def test_passing_thresholds_exit_0_and_write_reports(tmp_path: Path) -> None:
    proc = _local(
        tmp_path,
        "--threshold",
        "p99<500ms",
        "--threshold",
        "/demo.v1.Demo/GetItem: fail_ratio==0",
        "--report-junit",
        "out/junit.xml",
        "--report-json",
        "out/report.json",
        "--json-file",
        "locust",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loadkit: all thresholds passed" in proc.stdout
    root = ET.parse(tmp_path / "out/junit.xml").getroot()
    assert root.get("tests") == "2" and root.get("failures") == "0"
    report = json.loads((tmp_path / "out/report.json").read_text())
    locust_rows = json.loads((tmp_path / "locust.json").read_text())
    # The same final totals as Locust's own --json-file (which, unlike --csv, is final).
    assert report["total"]["count"] == sum(r["num_requests"] for r in locust_rows) > 0
    assert report["total"]["hdr_count"] == report["total"]["count"]
    [entry] = report["entries"]
    assert entry["key"] == "grpc /demo.v1.Demo/GetItem"
    assert 0.2 <= entry["percentiles_ms"]["p50"] <= 2.01


def test_failing_threshold_exits_99_with_a_table(tmp_path: Path) -> None:
    proc = _local(tmp_path, "--threshold", "p50<0.01ms", "--threshold", "fail_ratio==0", "--report-json", "r.json")
    assert proc.returncode == 99, proc.stderr[-2000:]
    assert "loadkit: THRESHOLDS FAILED" in proc.stdout
    assert any(line.startswith("p50<0.01ms") and line.endswith("FAIL") for line in proc.stdout.splitlines())
    report = json.loads((tmp_path / "r.json").read_text())
    assert [t["passed"] for t in report["thresholds"]] == [False, True]


def _small_files() -> None:
    """In the child: files may not grow past 1 KiB (the JSON report is bigger), as on a full disk."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_report_that_cannot_be_written_keeps_the_verdict_and_the_table(tmp_path: Path) -> None:
    args = ["-f", str(FILES / "synthetic.py"), "--headless", "-u", "2", "-r", "2", "-t", "2s"]
    args += ["--threshold", "p50<0.01ms", "--report-json", "out/r.json"]
    proc = subprocess.run(
        [*LOCUST, *args], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120, preexec_fn=_small_files
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 99, output[-2000:]  # the thresholds' verdict, not a crash's 2
    assert "loadkit: THRESHOLDS FAILED" in proc.stdout
    lines = [line for line in output.splitlines() if "could not write --report-json" in line]
    assert len(lines) == 1 and lines[0].endswith("(File too large): free space or give another path"), output
    assert "Traceback" not in output
    assert list((tmp_path / "out").iterdir()) == [], "a partial or truncated report was left behind"


def test_failures_without_thresholds_keep_locusts_exit_1(tmp_path: Path) -> None:
    assert _local(tmp_path, LK_SYNTH_MODE="fail").returncode == 1
    assert _local(tmp_path, "--threshold", "fail_ratio<0.5", LK_SYNTH_MODE="fail").returncode == 99


def test_abort_on_threshold_stops_the_run_early(tmp_path: Path) -> None:
    args = ["--threshold", "p50<0.01ms", "--abort-on-threshold", "--threshold-grace", "0.5", "--report-json", "r.json"]
    proc = _local(tmp_path, *args, run_time="120s")
    assert proc.returncode == 99, proc.stderr[-2000:]
    assert "threshold failed, aborting the test" in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["run"]["aborted"] is True
    assert report["run"]["duration_s"] < 60  # stopped long before its 120 s run time


def test_bad_expression_exits_2_in_one_line_before_any_load(tmp_path: Path) -> None:
    proc = _local(tmp_path, "--threshold", "p99<5xs", "--report-json", "r.json")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "loadkit: error" in line]
    assert errors == ["loadkit: error: bad threshold 'p99<5xs' at 'xs': unknown unit (use ms, s or us)"]
    assert "Traceback" not in proc.stderr
    assert "Ramping to" not in proc.stderr and not (tmp_path / "r.json").exists()


def test_thresholds_from_env_var_semicolon_separated(tmp_path: Path) -> None:
    proc = _local(tmp_path, LOADKIT_THRESHOLD="count>0; p50<0.01ms")
    assert proc.returncode == 99
    assert "count>0" in proc.stdout and "p50<0.01ms" in proc.stdout


@pytest.fixture
def distributed(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A headless master + 2 workers on 127.0.0.1 running known_latencies.py; all waited for."""
    port = str(free_port())
    lf = str(FILES / "known_latencies.py")
    master = subprocess.Popen(
        [
            *LOCUST,
            "-f",
            lf,
            "--headless",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--expect-workers",
            "2",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "240s",
            "--report-json",
            "report.json",
            "--json-file",
            "locust",
            "--threshold",
            "/items: count>0",
        ],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [*LOCUST, "-f", lf, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        yield master, tmp_path
    finally:
        for proc in [master, *workers]:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if master.stdout is not None:
            master.stdout.close()


def test_merged_percentiles_of_a_million_known_latencies(distributed: tuple[subprocess.Popen[str], Path]) -> None:
    master, tmp_path = distributed
    out, _ = master.communicate(timeout=300)
    assert master.returncode == 0, out[-3000:]
    latencies = import_file(FILES / "known_latencies.py")
    NAMES, TYPES, known_latencies = latencies.NAMES, latencies.TYPES, latencies.known_latencies

    values = known_latencies()
    report = json.loads((tmp_path / "report.json").read_text())
    locust_rows = json.loads((tmp_path / "locust.json").read_text())
    assert report["total"]["count"] == report["total"]["hdr_count"] == len(values)
    assert sum(r["num_requests"] for r in locust_rows) == len(values)
    by_key = {e["key"]: e for e in report["entries"]}
    groups = {"Aggregated": values}
    for k in range(3):
        groups[f"{TYPES[k]} {NAMES[k]}"] = values[k::3]
    for key, group in groups.items():
        row = report["total"] if key == "Aggregated" else by_key[key]
        assert row["hdr_count"] == len(group)
        exact = sorted(round(v * 1000) for v in group)  # µs, as recorded
        for label, pct in [("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9), ("p99.99", 99.99)]:
            want = exact[max(int(pct * len(exact) / 100 + 0.5), 1) - 1]
            got = row["percentiles_ms"][label] * 1000
            # HDR, 3 significant digits: the upper end of the value's bucket, < 0.1 % above it.
            assert want <= got + 1e-6 <= want * 1.001 + 1, (key, label, want, got)
        assert exact[-1] <= row["percentiles_ms"]["max"] * 1000 + 1e-6 <= exact[-1] * 1.001 + 1


def test_distributed_abort_stops_master_and_worker(tmp_path: Path) -> None:
    port = str(free_port())
    lf = str(FILES / "synthetic.py")
    master_args = ["-f", lf, "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--expect-workers", "1", "-u", "2", "-r", "2", "-t", "120s", "--report-json", "r.json"]
    master_args += ["--threshold", "p50<0.01ms", "--abort-on-threshold", "--threshold-grace", "1"]
    master = subprocess.Popen([*LOCUST, *master_args], cwd=tmp_path, env=_env(), stderr=subprocess.DEVNULL)
    worker = subprocess.Popen(
        [*LOCUST, "-f", lf, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
        cwd=tmp_path,
        env=_env(),
        stderr=subprocess.DEVNULL,
    )
    try:
        assert master.wait(timeout=90) == 99
        assert worker.wait(timeout=60) == 0  # told to quit, after sending its final report
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["run"]["aborted"] is True and report["run"]["workers"] == 1
        assert report["total"]["count"] == report["total"]["hdr_count"] > 0
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_locust_json_on_stdout_stays_parseable(tmp_path: Path) -> None:
    proc = _local(tmp_path, "--json", "--threshold", "count>0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert rows[0]["name"] == "/demo.v1.Demo/GetItem"
    assert "loadkit: all thresholds passed" in proc.stderr  # the table moved to stderr
