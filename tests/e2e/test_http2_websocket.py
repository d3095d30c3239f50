"""Http2User and WebSocketUser in real locust processes: a fleet, a silent server, the open model.

(The README's "HTTP/2 and WebSocket" recipe runs in tests/e2e/test_readme_recipes.py.)

- **fleet**: master + 1 worker, closed model, thresholds and the HTML report, the WebSocket
  route closing every session with 1011 after 25 messages: the report's counts equal the
  target's (HTTP/2 requests, on one connection per user; WebSocket sessions and messages) and
  every WebSocket failure is named after 1011.
- **silent server**: replies never come; every request is a timeout failure and the run ends.
- **open model**: both users from an arrival rate, counts equal the target's, no failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Procs
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
USERS = str(Path(__file__).parent / "h2ws_files" / "both_users.py")
LOCUST = [sys.executable, "-m", "locust"]


def entry(document: dict[str, Any], request_type: str, name: str) -> dict[str, Any]:
    return next(e for e in document["entries"] if (e["type"], e["name"]) == (request_type, name))


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def test_fleet_counts_equal_the_targets_and_1011_closes_are_named(
    procs: Procs, http2_target: Target, tmp_path: Path
) -> None:
    http2_target.reset_counters()
    report, html = tmp_path / "report.json", tmp_path / "report.html"
    common = ["-H", http2_target.url, "-u", "4", "-r", "4", "-t", "4s", "--stop-timeout", "5"]
    thresholds = ["--threshold", "GET /health: fail_ratio==0", "--threshold", "ws-ttfm /ws/echo: p99<5s"]
    master, port = procs.master(
        USERS, 1, *common, *thresholds, "--report-json", str(report), "--report-html", str(html)
    )
    procs.worker(USERS, port, env={"WS_PATH": "/ws/echo?close_after=25&close_code=1011"})
    assert master.wait(120) == 1, master.output[-3000:]  # requests failed (the closes); thresholds passed
    document = json.loads(report.read_text())
    assert document["thresholds_passed"] is True
    counters, protocols = http2_target.counters(), http2_target.protocols()
    print(counters, protocols)
    health = entry(document, "GET", "/health")
    assert health["count"] == counters["GET /health"] and health["failures"] == 0
    assert protocols["requests"] == {"2": health["count"]}
    assert protocols["connections"] == {"2": 2}  # one per HTTP/2 user
    sessions = entry(document, "ws", "connect /ws/echo")
    messages = entry(document, "ws", "/ws/echo")
    assert sessions["count"] == counters["WS /ws/echo"] == protocols["websockets"]
    assert messages["count"] == counters["WS /ws/echo message"]
    closed = messages["failures"]
    assert closed >= 1 and sessions["count"] - 2 <= closed <= sessions["count"]  # the 25th message of each session
    assert entry(document, "ws-ttfm", "/ws/echo")["count"] == sessions["count"]
    facet_free = sum(e["count"] for e in document["entries"] if e["type"] != "ws-ttfm")
    assert document["total"]["count"] == facet_free  # the facet is no request
    assert "closed by server: 1011 (internal error): injected close" in master.output
    page = html.read_text()
    assert "ws-ttfm" in page and "connect /ws/echo" in page


@pytest.mark.timeout(180)
def test_a_silent_server_gives_timeout_failures_and_the_run_ends(http2_target: Target, tmp_path: Path) -> None:
    report = tmp_path / "silent.json"
    args = [*LOCUST, "-f", USERS, "--headless", "-H", http2_target.url, "-u", "4", "-r", "4", "-t", "4s"]
    env = {"WS_PATH": "/ws/echo?silent=1", "WS_TIMEOUT": "1"}
    done = run([*args, "--report-json", str(report)], env, timeout=120)
    assert done.returncode == 1, done.stderr[-3000:]
    document = json.loads(report.read_text())
    messages = entry(document, "ws", "/ws/echo")
    assert messages["count"] >= 2 and messages["failures"] == messages["count"]
    assert "timeout: no matching message within 1 s" in done.stdout + done.stderr
    assert entry(document, "GET", "/health")["failures"] == 0


def test_open_model_counts_equal_the_targets(http2_target: Target, tmp_path: Path) -> None:
    http2_target.reset_counters()
    report = tmp_path / "open.json"
    args = [*LOCUST, "-f", USERS, "--headless", "-H", http2_target.url, "--arrival-rate", "40", "--max-users", "4"]
    done = run([*args, "-t", "3", "--report-json", str(report)], {}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(report.read_text())
    counters = http2_target.counters()
    assert document["run"]["load"]["iterations_started"] > 0
    # An iteration still running when the schedule ends is stopped: the server may have counted
    # its request without the report having it (at most one per pool user), never the other way.
    health, echo = entry(document, "GET", "/health")["count"], entry(document, "ws", "/ws/echo")["count"]
    assert 0 <= counters["GET /health"] - health <= 4 and health > 0
    assert 0 <= counters["WS /ws/echo message"] - echo <= 4 and echo > 0
    assert document["total"]["failures"] == 0
    assert set(http2_target.protocols()["requests"]) == {"2"}
