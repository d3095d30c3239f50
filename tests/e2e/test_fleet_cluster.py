"""A real master + 3 workers (one busy, one sending bad messages) and a loadkit agent.

Checks worker health reaching the master, the saturation warning, bad loadkit messages
being dropped while the run goes on, agent polling, ``GET /loadkit/fleet`` and the Fleet
tab in a real headless Chromium.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Proc, Procs, free_port, get_json, wait_for

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "fleet_files"
LOCUSTFILE = str(FILES / "probe.py")
FIELDS = ("cpu_percent", "rss_mb", "net_sent_bps", "loop_lag_ms", "users", "connections", "rps")


@dataclass
class Cluster:
    master: Proc
    web: str
    agent: str
    procs: Procs
    port: int

    def fleet(self) -> dict[str, Any]:
        return get_json(f"{self.web}/loadkit/fleet")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    procs = Procs()
    try:
        agent = procs.agent()
        web_port = free_port()
        master, port = procs.master(
            LOCUSTFILE,
            3,
            *("--autostart", "-u", "6", "-r", "6", "-t", "180s"),
            *("--web-host", "127.0.0.1", "--web-port", str(web_port)),
            *("--loadkit-data", "faker:100:1", "--loadkit-data-mode", "cyclic"),
            *("--loadkit-health-interval", "0.5", "--loadkit-agent", agent),
            headless=False,
        )
        procs.worker(LOCUSTFILE, port, env={"FLEET_PROBE_BUSY": "1"})
        procs.worker(LOCUSTFILE, port, env={"FLEET_PROBE_BAD": "1"})
        procs.worker(LOCUSTFILE, port)
        web = f"http://127.0.0.1:{web_port}"
        wait_for(lambda: master.find("All users spawned"), 90, "the master to start 6 users", interval=0.2)
        yield Cluster(master, web, agent, procs, port)
    finally:
        procs.close()


def test_health_of_every_worker_reaches_the_master(cluster: Cluster) -> None:
    workers = wait_for(lambda: len(w := cluster.fleet()["workers"]) == 3 and w, 30, "health from 3 workers")
    for sample in workers.values():
        assert set(FIELDS) <= set(sample), sample
        assert sample["rss_mb"] > 1


def test_a_busy_worker_raises_the_saturation_warning(cluster: Cluster) -> None:
    line = wait_for(lambda: cluster.master.find("is saturated"), 60, "a saturation warning")[0][1]
    assert "WARNING" in line and ("loop lag" in line or "CPU" in line), line
    assert cluster.fleet()["warnings"]


def test_bad_loadkit_messages_are_dropped_and_the_run_goes_on(cluster: Cluster) -> None:
    wait_for(lambda: cluster.master.find("dropped a malformed loadkit:data_request message"), 30, "the drop log")
    before = {w: s["time"] for w, s in cluster.fleet()["workers"].items()}
    assert len(before) == 3

    def all_newer() -> bool:
        now = cluster.fleet()["workers"]
        return all(now[w]["time"] > t for w, t in before.items())

    wait_for(all_newer, 30, "fresh health from every worker after the bad messages")
    # The same worker's unknown 'loadkit:nope' (sent right after) is dropped too, without a second
    # line: one per offender (Locust used to warn once per message).
    assert not cluster.master.find("loadkit:nope") and len(cluster.master.find("dropped silently")) == 1
    assert cluster.master.popen.poll() is None


def test_agent_samples_and_data_figures_are_in_the_json(cluster: Cluster) -> None:
    agent = wait_for(lambda: cluster.fleet()["agents"].get(cluster.agent, {}).get("latest"), 30, "an agent sample")
    assert {"cpu_percent", "mem_percent", "net_recv_bps"} <= set(agent)
    data = cluster.fleet()["data"]
    assert data["mode"] == "cyclic"
    assert len(data["workers"]) == 3
    assert all(w["leased"] > 0 for w in data["workers"].values())


@pytest.mark.browser
def test_fleet_tab_shows_workers_and_agent_live_in_chromium(cluster: Cluster) -> None:
    wait_for(lambda: len(cluster.fleet()["workers"]) == 3, 30, "health from 3 workers")
    out = subprocess.run(
        [sys.executable, str(FILES / "browse_fleet.py"), cluster.web], capture_output=True, text=True, timeout=150
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    print("\nFleet tab:", json.dumps(seen["later"]))
    assert "Rows leased/used" in seen["headers"] and "Loop lag ms" in seen["headers"], seen
    workers = [r for r in seen["first"] if "worker" in r]
    assert len(workers) == 3, seen
    assert any("agent" in r for r in seen["first"]), seen
    assert seen["later"] != seen["first"], "the tab did not refresh by itself"
    probe = next(r for r in seen["latency"] if "probe row" in r)
    assert all(cell for cell in probe), seen["latency"]  # HDR percentiles from loadkit.stats


def test_a_late_worker_gets_rows_too(cluster: Cluster) -> None:
    """Runs last: it changes the number of workers the other tests expect."""
    cluster.procs.worker(LOCUSTFILE, cluster.port)

    def four_leasing() -> bool:
        workers = cluster.fleet()["data"]["workers"]
        return len(workers) == 4 and all(w["leased"] > 0 for w in workers.values())

    wait_for(four_leasing, 60, "rows leased to the late worker")
