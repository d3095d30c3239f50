"""Library mode: LoadTest (local and master + worker processes), attach(), the example script."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from locust import User, task

from loadkit import ConfigError, LoadTest
from tests.support import free_port, import_file

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "stats_files"
REPO = Path(__file__).resolve().parents[2]
SyntheticUser = import_file(FILES / "synthetic.py").SyntheticUser
_http_delay = import_file(FILES / "http_delay.py")
DelayedItemsUser, DELAY_MS = _http_delay.DelayedItemsUser, _http_delay.DELAY_MS


def test_local_run_returns_percentiles_and_threshold_results(tmp_path: Path) -> None:
    result = LoadTest(
        [SyntheticUser],
        users=3,
        run_time=1.5,
        thresholds=["p99<500ms", "/demo.v1.Demo/GetItem: count>0"],
        report_junit=str(tmp_path / "junit.xml"),
    ).run()
    assert result.passed and result.exit_code == 0
    assert result.requests > 0 and result.failures == 0
    pct = result.percentiles["grpc /demo.v1.Demo/GetItem"]
    assert 0.2 <= pct["p50"] <= pct["p99"] <= pct["max"] <= 2.01
    assert result.total.percentiles.count == result.requests
    assert [r.passed for r in result.thresholds] == [True, True]
    assert ET.parse(result.reports["junit"]).getroot().get("tests") == "2"


def test_failing_threshold_gives_99_and_abort_ends_early() -> None:
    result = LoadTest(
        [SyntheticUser],
        users=2,
        run_time=60,
        thresholds=["p50<0.01ms"],
        abort_on_threshold=True,
        threshold_grace=0.3,
    ).run()
    assert result.exit_code == 99 and not result.passed and not result.thresholds_passed
    assert result.abort_reason is not None and "p50<0.01ms" in result.abort_reason
    assert result.snapshot.meta["duration_s"] < 30


def test_bad_arguments_fail_before_any_load() -> None:
    with pytest.raises(ConfigError, match="at 'xs'"):
        LoadTest([SyntheticUser], thresholds=["p99<1xs"])
    with pytest.raises(ConfigError, match="run_time"):
        LoadTest([SyntheticUser], run_time="soon")
    with pytest.raises(ConfigError, match="unknown loadkit option"):
        LoadTest([SyntheticUser], options={"no_such_option": 1})


def test_workers_need_user_classes_from_a_file() -> None:
    class InlineUser(User):
        @task
        def noop(self) -> None:
            pass

    with pytest.raises(ConfigError, match="InlineUser is not defined at the top level"):
        LoadTest([InlineUser], workers=1)
    LoadTest([InlineUser], workers=0)  # a local run imports nothing: fine


def _exact(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[max(int(pct * len(ordered) / 100 + 0.5), 1) - 1]


def test_distributed_run_against_the_http_target(
    http_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Master here + 2 worker processes; merged HDR p50/p99 vs every raw sample, ±1 ms."""
    monkeypatch.setenv("LK_SAMPLES_DIR", str(tmp_path))
    result = LoadTest(
        [DelayedItemsUser],
        host=http_target.url,
        users=4,
        run_time=4,
        workers=2,
        thresholds=["/items: fail_ratio==0", f"/items: p50>={DELAY_MS}ms"],
        report_json=str(tmp_path / "report.json"),
    ).run()
    assert result.passed, [r.as_dict() for r in result.thresholds]
    samples = [float(x) for f in tmp_path.glob("samples-*.txt") for x in f.read_text().split()]
    assert len(list(tmp_path.glob("samples-*.txt"))) == 2  # both workers did requests
    assert len(samples) == result.requests > 0  # the final numbers hold every request
    pct = result.percentiles["GET /items"]
    for label, p in (("p50", 50.0), ("p99", 99.0)):
        assert math.isclose(pct[label], _exact(samples, p), abs_tol=1.0), (label, pct[label], _exact(samples, p))
    assert pct["p50"] >= DELAY_MS  # the injected latency is seen, never less
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["run"]["workers"] == 2 and report["total"]["count"] == len(samples)


def test_library_mode_example_script(http_target: Any, tmp_path: Path) -> None:
    """locustfiles/library_mode.py: a hand-written Environment script with loadkit.attach()."""
    script = REPO / "locustfiles" / "library_mode.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    args = [sys.executable, str(script), http_target.url, "--users", "2", "--run-time", "2"]
    args += ["--threshold", "fail_ratio==0", "--report-json", str(tmp_path / "r.json")]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "loadkit: all thresholds passed" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["total"]["count"] > 0 and report["entries"][0]["key"] == "GET /items", report
    failing = subprocess.run(
        [*args[:-4], "--threshold", "p50<0.001ms"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert failing.returncode == 99, (failing.stdout[-3000:], failing.stderr[-3000:])


def test_web_port_serves_the_running_test(tmp_path: Path) -> None:
    import gevent
    import requests

    port = free_port()
    seen: list[dict[str, Any]] = []

    def poll() -> None:
        while not seen:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/stats/requests", timeout=5)
                if resp.ok and resp.json()["stats"][0]["num_requests"] > 0:
                    seen.append(resp.json())
            except (requests.ConnectionError, IndexError, KeyError):
                pass
            gevent.sleep(0.1)

    poller = gevent.spawn(poll)
    try:
        result = LoadTest([SyntheticUser], users=2, run_time=3, web_port=port).run()
    finally:
        poller.kill()
    assert result.passed and seen
    with pytest.raises(requests.ConnectionError):  # stopped with the run
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)


def test_distributed_grpc_run_against_the_grpc_target(
    grpc_target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GrpcUser in 2 worker processes: GetItem p50/p99 vs every raw sample ±1 ms; ttfm entries."""
    grpc_delay = import_file(FILES / "grpc_delay.py")
    DELAY_MS, GET_ITEM, DelayedGrpcUser = grpc_delay.DELAY_MS, grpc_delay.GET_ITEM, grpc_delay.DelayedGrpcUser

    monkeypatch.setenv("LK_SAMPLES_DIR", str(tmp_path))
    result = LoadTest(
        [DelayedGrpcUser],
        host=grpc_target.url,
        users=4,
        run_time=4,
        workers=2,
        thresholds=[f"{GET_ITEM}: fail_ratio==0", f"{GET_ITEM}: p50>={DELAY_MS}ms"],
    ).run()
    assert result.thresholds_passed, [r.as_dict() for r in result.thresholds]
    samples = [float(x) for f in tmp_path.glob("grpc-samples-*.txt") for x in f.read_text().split()]
    pct = result.percentiles[f"grpc {GET_ITEM}"]
    rows = {row.key: row for row in result.snapshot.entries}
    assert len(samples) == rows[f"grpc {GET_ITEM}"].count > 0  # final numbers: every call
    for label, p in (("p50", 50.0), ("p99", 99.0)):
        assert math.isclose(pct[label], _exact(samples, p), abs_tol=1.0), (label, pct[label], _exact(samples, p))
    assert pct["p50"] >= DELAY_MS
    assert "grpc-ttfm /demo.v1.Demo/ListItems" in result.percentiles  # streams: time to first message
