"""docker-compose.yml on a real Docker engine: run, kill and resume the master, scale, restart, stop.

The engine and the Dockerfile's base image come from ``scripts/container_engine.py`` (a local
stand-in for ``python:3.11-slim`` where no registry is reachable); the image is built once per
session from the repository's Dockerfile and named by its sources' content (the ``loadkit_image``
fixture, tests/support/image.py), which every service runs (``FLEET_IMAGE``). Each test runs
its own compose project (:mod:`tests.support.compose_engine`): the only hosts loaded are the
project's own target containers on the private network Compose creates. The module on 2 shared
cores: 124 s measured on a quiet machine, 169 s at a load average of 13 (image built).

Where no engine can start the module skips with one line naming what to install, and fails
instead under ``LOADKIT_TESTS_STRICT=1`` (.ci/run).
"""

from __future__ import annotations

import json
import re
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
    GRPC_COUNTERS,
    HTTP_COUNTERS,
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
def compose(loadkit_image: str) -> list[str]:
    """The compose argv (v2 or v1), once the session's image is there."""
    compose_argv: list[str] = need_engine().compose_command()
    return compose_argv


@pytest.fixture
def fleet(compose: list[str], loadkit_image: str, tmp_path: Path) -> Iterator[ComposeFleet]:
    fleet = ComposeFleet(compose, tmp_path, f"lke2e{int(time.time() * 1000) % 10**9}", image=loadkit_image)
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


def checkpoint_start(fleet: ComposeFleet) -> float | None:
    """When the run began, from the master's first checkpoint of its JSON report (None before it)."""
    try:
        return datetime.fromisoformat(fleet.report()["covered"]["from"]).timestamp()
    except (OSError, ValueError, KeyError):
        return None


def served_by_the_fleet(fleet: ComposeFleet) -> int:
    """What the locustfile's users were served: the HTTP target's POSTs, the gRPC target's demo calls
    (not the healthchecks' calls)."""
    http = python_in(fleet, fleet.one("target-http"), HTTP_COUNTERS) or {}
    grpc_calls = (python_in(fleet, fleet.one("target-grpc"), GRPC_COUNTERS) or {}).get("calls", {})
    demo = sum(int(n) for key, n in grpc_calls.items() if key.startswith("/demo.v1.Demo/"))
    return int(http.get("POST /items", 0)) + demo


def test_headless_fleet_resumes_after_docker_kill_of_its_master_and_passes(fleet: ComposeFleet) -> None:
    """A headless run; `docker kill` of the master 8 s in, `docker start` 3 s later: it resumes.

    The state file is fleet.json.state on the reports volume (docker-compose.yml); the workers
    rejoin the master by its service name; the run ends at its planned end, every request once.
    """
    users, run_s, kill_at, away = int(HEADLESS["LOCUST_USERS"]), 25, 8, 3
    fleet.settings = {
        **HEADLESS,
        "LOCUST_RUN_TIME": f"{run_s}s",
        "LOADKIT_REPORT_INTERVAL": "2",  # checkpoints (and the state file) every 2 s
        "LOADKIT_DATA_MODE": "cyclic",  # rows keep coming: the HTTP users stay busy all run
    }
    up = time.time()
    fleet.run("up", "-d")
    master = fleet.one("master")
    start = wait_for(lambda: checkpoint_start(fleet), 120, "the master's first checkpoint", interval=0.5)
    wait_for(lambda: time.time() >= start + kill_at, 60, f"{kill_at} s into the run", interval=0.2)
    docker("kill", master)  # SIGKILL, as the OOM killer
    killed = time.time()
    assert fleet.wait(master, timeout=30) == 137
    assert (fleet.reports / "fleet.json.state").exists(), "no state file on the reports volume"
    wait_for(lambda: time.time() >= killed + away, 10, f"{away} s after the kill", interval=0.1)
    assert not fleet.running(master), "restarted by Docker: docker-compose.yml gives the master no restart policy"
    docker("start", master)

    code = fleet.wait(master, timeout=run_s + 90)  # `up -d` + `docker wait`: the README's CI recipe
    ended = time.time()
    log = fleet.logs(master)
    assert code == 0, log[-5000:]
    assert "resumed the run started at" in log, log[-5000:]
    assert "Got SIGTERM" not in log and log.count("Shutting down") == 1, "the master was cut mid-shutdown"
    workers = fleet.ids("worker")
    assert len(workers) == 2
    for worker in workers:  # told to quit by the resumed master, not left waiting
        assert fleet.wait(worker, timeout=30) == 0, fleet.logs(worker)[-3000:]
        assert fleet.logs(worker).count("loadkit: rejoined the master at") == 1, fleet.logs(worker)[-3000:]

    report = fleet.report()
    served = served_by_the_fleet(fleet)
    gaps = report["master_gaps"]
    print(
        f"\ncompose resume: served {served}, reported {report['total']['count']}, gaps {gaps}, "
        f"run ended {ended - start:.1f} s after its start (planned {run_s} s)"
    )
    assert report["complete"] is True and report["thresholds_passed"] is True, report["thresholds"]
    assert abs(report["total"]["count"] - served) <= users, (report["total"]["count"], served)  # ± in flight
    # From the workers' last heartbeat of the killed master (≤ 1 s before the kill) to the new process.
    assert len(gaps) == 1 and away - 0.5 <= gaps[0]["seconds"] <= away + 1 + 5, gaps
    assert run_s - 1 <= ended - start <= run_s + 15, f"ended {ended - start:.1f} s after its start"
    assert report["covered"]["seconds"] >= run_s - 2, report["covered"]
    assert not (fleet.reports / "fleet.json.state").exists(), "the state file was left behind"
    named = {worker_id.split("_")[0] for worker_id in report["fleet"]["health"]["workers"]}
    assert named == {worker[:12] for worker in workers}, named  # a Locust worker id starts with its hostname
    counts = {e["key"]: e["count"] for e in report["entries"]}
    assert len(counts) >= 2 and all(counts.values()), counts
    agent = report["fleet"]["health"]["agents"]["http://agent:9100"]["latest"]
    assert agent["net_sent_bps"] > 0, agent  # it shares target-http's namespace: the target's traffic

    ramp = first_line(fleet, master, RUN_STARTS)
    assert ramp is not None
    print(f"compose: up -d -> load starts {log_time(ramp) - up:.1f} s; report workers {sorted(named)}")


def test_scaled_mid_run_targets_restarted_and_a_failing_threshold(fleet: ComposeFleet) -> None:
    """4 workers join a running test; both targets restarted mid-run and served again; exit 99.

    The run is long and stopped (`docker stop`: the master ends it, its verdict and reports as at
    its planned end) once all that is seen, not left to run out its time: ~20 s saved.
    """
    run_time = 120
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

    stop_s, code = fleet.stop(master, grace=20)  # 4 workers to quit, reports to write: room on a busy host
    log = fleet.logs(master)
    assert code == 99, log[-5000:]  # thresholds failed, through compose
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
    print(
        f"\ncompose: 4 workers in {joined:.1f} s; targets serving {recovered:.1f} s after the restart; "
        f"master stopped in {stop_s:.1f} s"
    )


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
