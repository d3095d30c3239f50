"""docker-compose.yml on a real Docker engine: build once, run, scale, restart, stop.

The engine and the Dockerfile's base image come from ``scripts/container_engine.py`` (a local
stand-in for ``python:3.11-slim`` where no registry is reachable); the image is built once per
session, by Compose, from the repository's Dockerfile. Each test runs its own compose project
(:mod:`tests.support.compose_engine`): the only hosts loaded are the project's own target containers on the
private network Compose creates. CI time (2 cores): ~3 min for the module, build included.

Where no engine can start the module skips with one line naming what to install, and fails
instead under ``LOADKIT_TESTS_STRICT=1`` (.ci/run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.compose import HEADLESS_SETTINGS
from tests.support.compose_engine import (
    COMPOSE_FILE,
    FLEET_SECRET,
    GRPC_COUNTERS,
    HTTP_COUNTERS,
    ROOT,
    ComposeFleet,
    docker,
    need_engine,
    python_in,
)
from tests.support.procs import free_port, wait_for
from tests.support.targets import DOWN_ERRORS

pytestmark = pytest.mark.e2e

#: A short headless run, as a user would set it in .env.
HEADLESS = HEADLESS_SETTINGS
#: The master's log line when it hands the users to its workers: the load starts.
RUN_STARTS = "Sending spawn jobs"
STOP_LIMIT = 3.0  # seconds from `docker stop` to exited, for every role (the bound)


@pytest.fixture(scope="module")
def built() -> list[str]:
    """Engine up, base image present, loadkit:local built once, by Compose as a user would; the compose argv."""
    module = need_engine()
    compose: list[str] = module.compose_command()
    started = time.monotonic()
    done = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "LOADKIT_FLEET_SECRET": FLEET_SECRET},  # the file refuses to load without one
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    services = re.findall(r"^Building (\S+)$", done.stdout + done.stderr, re.M)
    print(f"\ncompose build: {time.monotonic() - started:.1f} s, services built: {services}")
    return compose


@pytest.fixture
def fleet(built: list[str], tmp_path: Path) -> Iterator[ComposeFleet]:
    fleet = ComposeFleet(built, tmp_path, f"lke2e{int(time.time() * 1000) % 10**9}")
    try:
        yield fleet
    finally:
        print(fleet.dump())  # shown by pytest only when the test fails
        left = fleet.down()
        assert not left, f"containers left behind: {left}"


def log_time(line: str) -> float:
    """Epoch seconds of a `docker logs -t` line (RFC 3339, nanoseconds)."""
    stamp = line.split(" ", 1)[0]
    return datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()


def first_line(fleet: ComposeFleet, container: str, text: str) -> str | None:
    return next((ln for ln in fleet.logs(container, timestamps=True).splitlines() if text in ln), None)


def fetch_json(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def error_report(master_log: str) -> list[str]:
    """The error lines of Locust's final "Error report" table in the master's log."""
    table = master_log.split("Error report", 1)[-1].split("\n\n", 1)[0] if "Error report" in master_log else ""
    return [line for line in table.splitlines()[2:] if line.strip() and not line.startswith("-")]


def served(fleet: ComposeFleet, service: str) -> int:
    """Calls the target in ``service`` has served since it (re)started, from its own counters."""
    if service == "target-http":
        counts = python_in(fleet, fleet.one(service), HTTP_COUNTERS) or {}
        return sum(int(n) for n in counts.values())
    counts = (python_in(fleet, fleet.one(service), GRPC_COUNTERS) or {}).get("calls", {})
    return sum(int(n) for n in counts.values())


def test_headless_fleet_passes_and_reports_both_workers(fleet: ComposeFleet) -> None:
    fleet.settings = dict(HEADLESS)
    up = time.time()
    fleet.run("up", "-d")
    master = fleet.one("master")
    code = fleet.wait(master, timeout=180)  # `up -d` + `docker wait`: the README's CI recipe
    log = fleet.logs(master)
    assert code == 0, log[-5000:]
    assert "Got SIGTERM" not in log and log.count("Shutting down") == 1, "the master was cut mid-shutdown"
    workers = fleet.ids("worker")
    assert len(workers) == 2
    for worker in workers:  # told to quit by the master, not left waiting
        assert fleet.wait(worker, timeout=30) == 0, fleet.logs(worker)[-3000:]

    report = fleet.report()
    assert report["thresholds_passed"] is True, report["thresholds"]
    named = {worker_id.split("_")[0] for worker_id in report["fleet"]["health"]["workers"]}
    assert named == {worker[:12] for worker in workers}, named  # a Locust worker id starts with its hostname
    counts = {e["key"]: e["count"] for e in report["entries"]}
    assert len(counts) >= 2 and all(counts.values()), counts
    agent = report["fleet"]["health"]["agents"]["http://agent:9100"]["latest"]
    assert agent["net_sent_bps"] > 0, agent  # it shares target-http's namespace: the target's traffic

    ramp = first_line(fleet, master, RUN_STARTS)
    assert ramp is not None
    print(f"\ncompose: up -d -> load starts {log_time(ramp) - up:.1f} s; report workers {sorted(named)}")


def test_scaled_mid_run_targets_restarted_and_a_failing_threshold(fleet: ComposeFleet) -> None:
    """4 workers join a running test; both targets restarted mid-run and served again; exit 99."""
    run_time = 40  # the scale and restarts take ~15-20 s after the start, ~2x that under load
    fleet.settings = {
        **HEADLESS,
        "LOCUST_RUN_TIME": f"{run_time}s",
        "LOADKIT_DATA_MODE": "cyclic",  # rows keep coming: the HTTP users stay busy all run
        "LOADKIT_THRESHOLD": "count<1",  # fails as soon as one request was made
    }
    fleet.run("up", "-d")
    master = fleet.one("master")
    wait_for(lambda: first_line(fleet, master, RUN_STARTS), 120, "the run to start", interval=1)
    started = time.monotonic()

    fleet.run("up", "-d", "--no-recreate", "--scale", "worker=4")
    wait_for(lambda: first_line(fleet, master, "4 workers connected"), 60, "4 workers to join", interval=1)
    joined = time.monotonic() - started

    outage = time.monotonic()
    docker("restart", "-t", "3", fleet.one("target-http"), fleet.one("target-grpc"), timeout=60)
    for service in ("target-http", "target-grpc"):  # counters start at 0 in a restarted target
        wait_for(partial(lambda s: served(fleet, s) >= 10, service), 45, f"{service} serving again", interval=1)
    recovered = time.monotonic() - outage
    assert fleet.running(master), "the run ended before the restarts were through: raise run_time"

    code = fleet.wait(master, timeout=run_time + 90)
    ended = time.monotonic() - started
    log = fleet.logs(master)
    assert code == 99, log[-5000:]  # thresholds failed, through compose
    assert ended < run_time + 30, f"the run ended {ended:.0f} s after it started (run time {run_time} s)"
    report = fleet.report()
    assert report["thresholds_passed"] is False
    assert len(report["fleet"]["health"]["workers"]) == 4, sorted(report["fleet"]["health"]["workers"])
    assert report["total"]["failures"] > 0, "no failure while the targets were down"
    errors = error_report(log)  # the fault tests' expectation: failures only of a target that is down
    # `docker restart` stops gracefully (SIGTERM): the HTTP target also closes its kept-alive connections.
    down = [text for texts in DOWN_ERRORS.values() for text in texts] + ["connection closed"]
    assert errors and all(any(text in e for text in down) for e in errors), errors
    for container in [master, *fleet.ids("worker")]:
        assert "Traceback" not in fleet.logs(container), fleet.logs(container)[-3000:]
    print(f"\ncompose: 4 workers in {joined:.1f} s; targets serving {recovered:.1f} s after the restart")


def test_every_role_stops_on_sigterm_within_3s_without_init(fleet: ComposeFleet) -> None:
    """The file's defaults (web UI, on loopback); then `docker stop` of each role in each state."""
    port = free_port()
    fleet.settings = {"WEB_UI_PORT": str(port)}
    fleet.run("up", "-d")
    master = fleet.one("master")
    wait_for(lambda: first_line(fleet, master, "2 workers connected"), 120, "2 workers to connect", interval=1)
    assert docker("port", master, "8089").stdout.split() == [f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}/stats/requests"
    with pytest.raises(urllib.error.HTTPError) as refused:  # its login: the token the master logged
        fetch_json(urllib.request.Request(url))
    refused.value.close()
    assert refused.value.code == 401
    pattern = re.compile(r"web UI login: user \S+ password (\S+) \(")
    login = wait_for(lambda: pattern.search(fleet.logs(master)), 30, "the web UI's login line", interval=0.5)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {login[1]}"})
    stats = wait_for(lambda: fetch_json(request), 30, "the web UI")
    assert stats["worker_count"] == 2 and stats["state"] == "ready", stats

    containers = [c for s in ("agent", "target-http", "target-grpc", "master", "worker") for c in fleet.ids(s)]
    for container in containers:  # what Kubernetes does too: no init as PID 1
        assert docker("inspect", "-f", "{{.HostConfig.Init}}", container).stdout.strip() in ("<nil>", "false")
    worker, other_worker = fleet.ids("worker")
    rss = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", worker).stdout.split("/")[0].strip()

    times: dict[str, tuple[float, int]] = {"worker (connected)": fleet.stop(worker)}
    times["master (web UI, 1 worker)"] = fleet.stop(master)
    assert fleet.wait(other_worker, timeout=30) == 0  # the master told it to quit
    # Started now, these wait for ever: a worker for its master, a headless master for its workers.
    waiting = fleet.run("run", "-d", "--no-deps", "worker").stdout.strip().splitlines()[-1]
    lonely = fleet.run(
        "run", "-d", "--no-deps", "-e", "LOCUST_HEADLESS=true", "-e", "LOCUST_EXPECT_WORKERS=9", "master"
    )
    lonely_master = lonely.stdout.strip().splitlines()[-1]
    wait_for(lambda: "Starting Locust" in fleet.logs(waiting), 60, "the waiting worker to start", interval=0.5)
    wait_for(lambda: "Waiting for workers" in fleet.logs(lonely_master), 60, "the master to wait", interval=0.5)
    times["worker (waiting for its master)"] = fleet.stop(waiting)
    times["master (headless, waiting for workers)"] = fleet.stop(lonely_master)
    for service in ("target-http", "target-grpc", "agent"):
        times[service] = fleet.stop(fleet.one(service))

    print("\n" + "\n".join(f"docker stop {role}: {s:.2f} s, exit {code}" for role, (s, code) in times.items()))
    print(f"worker idle RSS in its container: {rss}")
    for role, (seconds, code) in times.items():
        assert seconds <= STOP_LIMIT, f"{role}: {seconds:.1f} s to stop"
        if role.startswith("master (web UI"):
            # A graceful stop ends with the run's verdict: thresholds over no requests fail (99).
            assert code in (0, 99), f"{role}: exit {code}"
            assert fleet.report()["thresholds_passed"] is (code == 0), "no report from the stopped master"
        else:
            assert code in (0, 143), f"{role}: exit {code} after {seconds:.1f} s"
