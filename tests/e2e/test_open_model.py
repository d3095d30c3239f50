"""The open model with real processes: the stall, rate accuracy, stages and re-splits.

- **stall**: the bundled HTTP target frozen (SIGSTOP) for 2 s in the middle of a 14 s run;
  an arrival-rate run (100 it/s, pool of 20) and the closed-model run of the same scenario
  (20 users x ``constant_throughput(5)``) run side by side against it (one freeze, both see it). The open run's p95
  and p99 must be within ±15 % of the open-model truth computed from the intended schedule
  and the measured freeze interval; the closed run's are printed beside them.
- **rate**: 1,000 it/s over master + 2 workers for :data:`RATE_SECONDS`: achieved within
  1 % of the target and every whole second after the first within 5 %.
- **stages and re-splits**: a 3-stage ramp over master + 2 workers, a third worker joining
  mid-run and one killed: each second lands on the profile's rate (5 %), except the seconds
  right after the kill, and the survivors carry the full rate again within 5 s.

Margins: ±15 % and 5 % are the issue's; per-second counts also allow 3 iterations of
slack for starts that straddle a second boundary. Cost: ~20 s (stall), ~30 s (rate),
~30 s (stages) on 2 cores.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Proc, Procs, wait_for
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "open_model_files"
HTTP_USER = str(FILES / "http_user.py")
TICK_USER = str(FILES / "tick_user.py")
RATE_SECONDS = 25
LOCUST = [sys.executable, "-m", "locust", "--headless", "--loglevel", "INFO"]


def report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def entry(document: dict[str, Any], key: str) -> dict[str, Any]:
    return next(e for e in document["entries"] if e["key"] == key)


def nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def finish(proc: Proc, timeout: float = 90) -> int:
    code = proc.wait(timeout)
    assert "Traceback" not in proc.output, proc.output[-3000:]
    return code


# --- the stall ------------------------------------------------------------------------------
def test_stall_open_model_reports_the_truth(procs: Procs, start_target: Any, tmp_path: Path) -> None:
    target: Target = start_target("http")
    common = ["-f", HTTP_USER, "-H", target.url, "-t", "14"]
    opened = procs.start(
        "open",
        [*LOCUST, *common, "--arrival-rate", "100", "--max-users", "20", "--report-json", str(tmp_path / "open.json")],
    )
    closed = procs.start(
        "closed", [*LOCUST, *common, "-u", "20", "-r", "20", "--report-json", str(tmp_path / "c.json")]
    )
    wait_for(lambda: opened.find("loadkit: open model, constant 100 it/s"), 60, "the open-model run to start")
    wait_for(lambda: closed.find("All users spawned"), 60, "the closed-model run to start")
    time.sleep(5)  # mid-run
    frozen_at = time.time()
    target.signal(signal.SIGSTOP)
    try:
        time.sleep(2)
    finally:
        target.signal(signal.SIGCONT)
        thawed_at = time.time()
    assert finish(opened) == 0, opened.output[-3000:]
    assert finish(closed) == 0, closed.output[-3000:]

    open_doc, closed_doc = report(tmp_path / "open.json"), report(tmp_path / "c.json")
    load = open_doc["run"]["load"]
    assert load["model"] == "open" and load["iterations_dropped"] == 0
    # The truth: every iteration intended at t (k / 100 s after the epoch) is answered at
    # max(t, thaw) + its service time: the usual one (the open run's p50) before and after the
    # freeze; for the ones intended during it, what the thawed target took to serve them (the
    # p50 of the late requests' uncorrected times, the "GET-service" entry): a real open-model
    # client population would have queued them all at the frozen target too.
    usual = entry(open_doc, "GET /health")["percentiles_ms"]["p50"]
    thawed = entry(open_doc, "GET-service /health")["percentiles_ms"]["p50"]
    intended = [load["epoch"] + k / 100.0 for k in range(load["iterations_started"] + load["iterations_dropped"])]
    truth = [(thawed_at - t) * 1000.0 + thawed if frozen_at <= t < thawed_at else usual for t in intended]
    got = entry(open_doc, "GET /health")["percentiles_ms"]
    got_closed = entry(closed_doc, "GET /health")["percentiles_ms"]
    lines = [
        f"freeze {thawed_at - frozen_at:.3f} s; {len(intended)} iterations intended; "
        f"service p50 {usual:.1f} ms, {thawed:.1f} ms for the late ones"
    ]
    for pct in ("p95", "p99"):
        want = nearest_rank(truth, float(pct[1:]))
        lines.append(
            f"{pct}: truth {want:7.1f} ms | open model {got[pct]:7.1f} ms ({got[pct] / want - 1:+.1%}) "
            f"| closed model {got_closed[pct]:7.1f} ms ({got_closed[pct] / want - 1:+.1%})"
        )
        assert got[pct] == pytest.approx(want, rel=0.15), "\n".join(lines)
    print("\n".join(lines))
    # 20 closed users lose at most 20 requests to the stall: their p99 may catch those few, p95 cannot
    assert got_closed["p95"] < nearest_rank(truth, 95) / 2, "the closed model should miss the stall"
    assert load["iterations_late"] > 100  # the pool of 20 was exhausted during the freeze


# --- rate accuracy --------------------------------------------------------------------------
def fleet(procs: Procs, locustfile: str, workers: int, *extra: str) -> tuple[Proc, int, list[Proc]]:
    master, port = procs.master(locustfile, workers, *extra)
    nodes = [procs.worker(locustfile, port) for _ in range(workers)]
    return master, port, nodes


def check_seconds(per_second: list[list[int]], expected: Any, skip: set[int], slack: int = 3) -> list[str]:
    """Seconds (after the first, before the partial last) off by more than 5 % (+ slack).

    A CPU hiccup of the shared machine (another process holding both cores for ~0.2 s)
    delays some starts past a second boundary: that second is short and the next one makes
    it up. Such a pair, whose sum is within 1 % of the intended, is caught-up lateness
    (reported as late iterations), not a wrong rate: it is printed, not failed.
    """
    bad = []
    for i in range(1, len(per_second) - 1):
        second, count = per_second[i]
        want = expected(second)
        if second in skip or abs(count - want) <= 0.05 * want + slack:
            continue
        pairs = [per_second[j] for j in (i - 1, i + 1) if per_second[j][0] not in skip]
        if any(abs(count + c - want - expected(s)) <= 0.01 * (want + expected(s)) + slack for s, c in pairs):
            print(f"second {second}: {count} started, {want:.0f} intended, made up by a neighbour (a hiccup)")
            continue
        bad.append(f"second {second}: {count} started, {want:.0f} intended")
    return bad


def test_rate_accuracy_over_a_fleet(procs: Procs, tmp_path: Path) -> None:
    path = tmp_path / "rate.json"
    master, _port, _workers = fleet(
        procs,
        TICK_USER,
        2,
        "--arrival-rate",
        "1000",
        "--max-users",
        "100",
        "-t",
        str(RATE_SECONDS + 1),
        "--report-json",
        str(path),
    )
    assert finish(master) == 0, master.output[-3000:]
    load = report(path)["run"]["load"]
    seconds = load["per_second"]
    print(
        f"achieved {load['achieved_rate']:.1f} it/s over {load['elapsed_s']:.1f} s, late {load['iterations_late']}, "
        f"dropped {load['iterations_dropped']}, max lateness {load['max_lateness_ms']:.1f} ms; per second: {seconds}"
    )
    assert load["iterations_dropped"] == 0
    assert load["workers"] == 2
    assert load["achieved_rate"] == pytest.approx(1000, rel=0.01)
    assert len(seconds) >= RATE_SECONDS
    assert check_seconds(seconds, lambda s: 1000, set()) == []


# --- stages and re-splits -------------------------------------------------------------------
def profile_count(second: int) -> float:
    """Iterations intended in [second, second + 1) of '4s:400,14s:400,4s:100'."""

    def cumulative(t: float) -> float:
        t = min(max(t, 0.0), 22.0)
        if t <= 4:
            return 50.0 * t * t
        if t <= 18:
            return 800 + 400 * (t - 4)
        x = t - 18
        return 800 + 5600 + 400 * x - 37.5 * x * x

    return cumulative(second + 1) - cumulative(second)


def test_stages_join_and_kill(procs: Procs, tmp_path: Path) -> None:
    path = tmp_path / "stages.json"
    master, port, (first, _second) = fleet(
        procs,
        TICK_USER,
        2,
        "--arrival-stages",
        "4s:400,14s:400,4s:100",
        "--max-users",
        "60",
        "--report-json",
        str(path),
    )
    wait_for(lambda: master.find("open model split over 2 worker(s)"), 60, "the first split")
    started = time.monotonic()
    procs.worker(TICK_USER, port)  # joins at ~2-4 s (process start-up)
    joined = wait_for(lambda: master.find("open model split over 3 worker(s)"), 30, "the joiner's split")[0][0]
    time.sleep(max(10 - (time.monotonic() - started), 0))
    first.kill()
    killed, killed_wall = time.monotonic(), time.time()
    resplit_after = wait_for(
        lambda: [t for t, _line in master.find("open model split over 2 worker(s) from iteration") if t > killed],
        15,
        "the re-split after the kill",
    )
    assert finish(master) == 0, master.output[-3000:]

    load = report(path)["run"]["load"]
    seconds = load["per_second"]
    kill_s = killed_wall - load["epoch"]  # in the schedule's time
    kill_second = int(kill_s)
    recovered = [s for s, c in seconds if s > kill_second and abs(c - profile_count(s)) <= 0.05 * profile_count(s) + 3]
    print(
        f"joined {joined - started:.1f} s, killed at {kill_s:.2f} s of the schedule, re-split "
        f"{resplit_after[0] - killed:.2f} s after the kill, full rate again from second {recovered[0]} "
        f"({recovered[0] - kill_s:.2f} s after the kill); per second: {seconds}"
    )
    print("iterations per worker:", load["nodes"])
    assert resplit_after[0] - killed < 5.0
    skip = set(range(kill_second, kill_second + 5))  # the dead worker's share is missing here
    assert check_seconds(seconds, profile_count, skip) == []
    assert recovered[0] - kill_s <= 5.0
    assert [r["workers"] for r in load["resplits"]] == [2, 3, 2]
    assert len(load["nodes"]) == 3 and min(load["nodes"].values()) > 0  # the joiner took a share
    assert load["iterations_started"] == pytest.approx(sum(profile_count(s) for s in range(22)), rel=0.05)


# --- the master's --host reaches the workers' pool users ------------------------------------
def test_workers_pool_users_take_the_masters_host(procs: Procs, start_target: Any, tmp_path: Path) -> None:
    """Pool users exist before Locust's spawn message (which carries --host) reaches a worker.

    Without the host in the plan, a class with a host of its own loaded that host (and one with
    none failed "You must specify the base host", the run passing with 0 requests).
    """
    target: Target = start_target("http")
    target.reset_counters()
    path = tmp_path / "host.json"
    args = ["-H", target.url, "--arrival-rate", "20", "--max-users", "4", "-t", "4", "--report-json", str(path)]
    master, _port, _workers = fleet(procs, str(FILES / "no_host_user.py"), 2, *args)
    assert finish(master) == 0, master.output[-3000:]
    load = report(path)["run"]["load"]
    served = target.counters().get("GET /health", 0)
    print(f"started {load['iterations_started']}, target served {served}")
    assert load["iterations_started"] >= 40 and served >= load["iterations_started"] - 4
    assert report(path)["total"]["failures"] == 0
