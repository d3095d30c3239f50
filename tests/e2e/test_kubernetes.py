"""deploy/kubernetes run for real: rendered by kubectl, played by podman (no cluster here).

The image is built by the Docker engine from this checkout (scripts/container_engine.py, as for
the compose test) and copied into podman (scripts/kube_engine.py). Each test renders a user's
overlay of ``headless`` (its settings merged into the master's ConfigMap), plays it on a podman
network of its own with the one test-only step of :func:`tests.support.kube.for_podman` (Jobs
and single Deployments become Pods named like their Services; nothing in a pod spec changes),
and removes every pod, volume, secret and the network afterwards, failed or not. The only hosts
loaded are the fleet's own target pods. ~3 min for the module on 2 shared cores (171-188 s measured,
an image rebuild of 18 s and its copy into podman of 10 s included).

Without podman or Docker it skips with one line naming what to install, and fails instead under
``LOADKIT_TESTS_STRICT=1`` (.ci/run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import wait_for
from tests.support.compose import HEADLESS_SETTINGS
from tests.support.kube import KubeFleet, need_kube_engine, overlay, render, secret
from tests.support.requirements import need_command

pytestmark = pytest.mark.e2e

#: The master's log line when it hands the users to its workers: the load starts.
RUN_STARTS = "Sending spawn jobs"


@pytest.fixture(scope="module")
def engine() -> None:
    need_command("kubectl", "kubernetes-client")
    need_kube_engine()


@pytest.fixture
def fleet(engine: None, tmp_path: Path) -> Iterator[KubeFleet]:
    KubeFleet.clear_leftovers()
    fleet = KubeFleet(tmp_path)
    fleet.play([secret()])  # what `kubectl create secret generic loadkit-fleet ...` (README) makes
    try:
        yield fleet
    finally:
        print(fleet.dump())  # shown by pytest only when the test fails
        left = fleet.down()
        assert not left, f"pods left behind: {left}"


def grace(docs: list[dict], name: str) -> int:
    """The rendered terminationGracePeriodSeconds of the workload ``name``."""
    (doc,) = [d for d in docs if d["metadata"]["name"] == name and d["kind"] in ("Job", "Deployment")]
    return int(doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])


def report_workers(fleet: KubeFleet) -> set[str]:
    """Pod names of the workers in the master's report (a Locust worker id starts with its hostname)."""
    return {worker_id.split("_")[0] for worker_id in fleet.report()["fleet"]["health"]["workers"]}


def test_headless_fleet_passes_with_both_workers(fleet: KubeFleet, tmp_path: Path) -> None:
    docs = render(overlay(tmp_path / "run", "headless", HEADLESS_SETTINGS))
    started = time.monotonic()
    fleet.play(docs)
    code = fleet.wait("loadkit-master", timeout=180)
    log = fleet.logs("loadkit-master")
    assert code == 0, log[-5000:]
    assert "loadkit: all thresholds passed" in log
    for worker in ("loadkit-worker-0", "loadkit-worker-1"):  # quit by the master: their Job completes
        assert fleet.wait(worker, timeout=30) == 0, fleet.logs(worker)[-3000:]
    assert report_workers(fleet) == {"loadkit-worker-0", "loadkit-worker-1"}
    report = fleet.report()
    assert report["thresholds_passed"] is True
    counts = {e["key"]: e["count"] for e in report["entries"]}
    assert len(counts) >= 2 and all(counts.values()), counts
    print(f"\nkube: play -> master exit 0 in {time.monotonic() - started:.1f} s")


def test_workers_scaled_mid_run_join_and_a_failing_threshold_exits_99(fleet: KubeFleet, tmp_path: Path) -> None:
    settings = {
        **HEADLESS_SETTINGS,
        "LOCUST_RUN_TIME": "25s",
        "LOADKIT_DATA_MODE": "cyclic",  # rows keep coming: every worker's users stay busy all run
        "LOADKIT_THRESHOLD": "count<1",  # fails as soon as one request was made
    }
    fleet.play(render(overlay(tmp_path / "run", "headless", settings)))
    wait_for(lambda: RUN_STARTS in fleet.logs("loadkit-master"), 120, "the run to start", interval=1)
    started = time.monotonic()
    # `kubectl patch job loadkit-worker -p '{"spec":{"parallelism":4}}'`: two more worker pods.
    scaled = render(overlay(tmp_path / "scaled", "headless", settings, workers=4))
    fleet.play(scaled, only={"loadkit-worker-2", "loadkit-worker-3"})
    wait_for(lambda: "4 workers connected" in fleet.logs("loadkit-master"), 60, "4 workers to join", interval=1)
    joined = time.monotonic() - started
    assert fleet.running("loadkit-master"), "the run ended before the new workers joined: raise its run time"

    code = fleet.wait("loadkit-master", timeout=120)
    log = fleet.logs("loadkit-master")
    assert code == 99, log[-5000:]
    assert fleet.report()["thresholds_passed"] is False
    workers = {f"loadkit-worker-{i}" for i in range(4)}
    assert report_workers(fleet) == workers
    for worker in sorted(workers):
        assert fleet.wait(worker, timeout=30) == 0, fleet.logs(worker)[-3000:]
    print(f"\nkube: 2 more workers connected {joined:.1f} s after the run started")


def test_fleet_secret_file_and_every_pod_stops_within_its_grace_period(fleet: KubeFleet, tmp_path: Path) -> None:
    settings = {**HEADLESS_SETTINGS, "LOCUST_RUN_TIME": "3m"}  # stopped long before
    docs = render(overlay(tmp_path / "run", "headless", settings))
    fleet.play(docs)
    wait_for(lambda: RUN_STARTS in fleet.logs("loadkit-master"), 120, "the run to start", interval=1)

    # A worker whose Secret holds another secret: the same pod, its secret volume naming that Secret.
    fleet.play([secret("loadkit-fleet-other", "another-fleet-secret-0123456789")])
    (job,) = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "loadkit-worker"]
    rogue = {**job, "spec": {**job["spec"], "parallelism": 1}, "metadata": {"name": "loadkit-worker-other"}}
    template = rogue["spec"]["template"]
    for volume in template["spec"]["volumes"]:
        if "secret" in volume:
            volume["secret"] = {**volume["secret"], "secretName": "loadkit-fleet-other"}
    fleet.play([*(d for d in docs if d["kind"] == "ConfigMap"), rogue])  # podman resolves them per play
    assert fleet.wait("loadkit-worker-other", timeout=60) == 2
    assert "did not accept this worker's fleet secret" in fleet.logs("loadkit-worker-other")
    fleet.stop("loadkit-worker-other", 1)  # restartPolicy OnFailure: it would keep trying (Kubernetes: 6 times)
    wait_for(lambda: "refused a connection" in fleet.logs("loadkit-master"), 30, "the master's refusal line")

    times: dict[str, tuple[float, int, int]] = {}
    for pod, workload in [
        ("loadkit-worker-0", "loadkit-worker"),  # connected, running users
        ("loadkit-master", "loadkit-master"),  # mid-run, one worker left: quits it, writes its reports
        ("loadkit-target-http", "loadkit-target-http"),
        ("loadkit-target-grpc", "loadkit-target-grpc"),
    ]:
        # podman 4.3 does not read terminationGracePeriodSeconds (its stop timeout stays 10 s):
        # the grace period is given to `podman stop -t`, as the kubelet would apply it.
        limit = grace(docs, workload)
        seconds, code = fleet.stop(pod, limit)
        times[pod] = (seconds, code, limit)
    assert fleet.wait("loadkit-worker-1", timeout=30) == 0  # the master told it to quit
    assert report_workers(fleet) == {"loadkit-worker-0", "loadkit-worker-1"}  # never the other secret's

    print("\n" + "\n".join(f"pod stop {pod}: {s:.2f} s (grace {g} s), exit {c}" for pod, (s, c, g) in times.items()))
    for pod, (seconds, code, limit) in times.items():
        assert seconds < limit, f"{pod}: {seconds:.1f} s to stop, its grace period is {limit} s"
        assert code in ((0, 99) if pod == "loadkit-master" else (0, 143)), f"{pod}: exit {code}"
