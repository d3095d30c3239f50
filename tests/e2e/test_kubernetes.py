"""deploy/kubernetes run for real: rendered by kubectl, played by podman (no cluster here).

The image is the session's (the ``loadkit_image`` fixture: built once by the Docker engine from
this checkout, named by its sources' content, shared with the compose test), copied into podman
(scripts/kube_engine.py) and set in each overlay with kustomize's ``images:``. Each test renders a user's
overlay of ``headless`` (its settings merged into the master's ConfigMap), plays it on a podman
network of its own with the one test-only step of :func:`tests.support.kube.for_podman` (Jobs
and single Deployments become Pods named like their Services; nothing in a pod spec changes),
and removes every pod, volume, secret and the network afterwards, failed or not. The only hosts
loaded are the fleet's own target pods. The module on 2 shared cores: 96-130 s measured (the
resume run is 70 s: see its docstring; the copy of a new image into podman adds 4-8 s).

Without podman or Docker it skips with one line naming what to install, and fails instead under
``LOADKIT_TESTS_STRICT=1`` (.ci/run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import wait_for
from tests.support.compose import HEADLESS_SETTINGS
from tests.support.compose_engine import GRPC_COUNTERS, HTTP_COUNTERS
from tests.support.kube import KubeFleet, job_retries, need_kube_engine, secret
from tests.support.requirements import need_command

pytestmark = pytest.mark.e2e

#: The master's log line when it hands the users to its workers: the load starts.
RUN_STARTS = "Sending spawn jobs"


@pytest.fixture(scope="module")
def engine(loadkit_image: str) -> str:
    """podman ready, with the session's image; the image's tag."""
    need_command("kubectl", "kubernetes-client")
    need_kube_engine(loadkit_image)
    return loadkit_image


@pytest.fixture
def fleet(engine: str, tmp_path: Path) -> Iterator[KubeFleet]:
    KubeFleet.clear_leftovers()
    fleet = KubeFleet(tmp_path, image=engine)
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


def checkpoint_start(fleet: KubeFleet) -> float | None:
    """When the run began, from the master's first checkpoint of its JSON report (None before it)."""
    try:
        return datetime.fromisoformat(fleet.report()["covered"]["from"]).timestamp()
    except (AssertionError, OSError, ValueError, KeyError):
        return None


def served_by_the_fleet(fleet: KubeFleet) -> int:
    """What the locustfile's users were served: the HTTP target's POSTs, the gRPC target's demo calls
    (not the probes' calls)."""
    http = fleet.python("loadkit-target-http", HTTP_COUNTERS) or {}
    grpc_calls = (fleet.python("loadkit-target-grpc", GRPC_COUNTERS) or {}).get("calls", {})
    demo = sum(int(n) for key, n in grpc_calls.items() if key.startswith("/demo.v1.Demo/"))
    return int(http.get("POST /items", 0)) + demo


def test_killed_headless_master_is_replaced_resumes_takes_more_workers_and_passes(fleet: KubeFleet) -> None:
    """The master SIGKILLed 8 s into a 70 s run and started again (the podFailurePolicy retries a
    kill) resumes from the reports claim; the workers rejoin it by its DNS name, 2 more join the
    resumed run; it ends at its planned end, passing, every request counted once."""
    # 70 s: the workers rejoined the restarted master within 1-3 s in five runs, then ~40 s in four
    # (cause not found; some lookups of its name got EAI_AGAIN from podman's DNS); the run must outlast that.
    users, run_s, kill_at = int(HEADLESS_SETTINGS["LOCUST_USERS"]), 70, 8
    settings = {
        **HEADLESS_SETTINGS,
        "LOCUST_RUN_TIME": f"{run_s}s",
        "LOADKIT_REPORT_INTERVAL": "2",  # checkpoints (and the state file) every 2 s
        "LOADKIT_DATA_MODE": "cyclic",  # rows keep coming: every worker's users stay busy all run
        # A slow rejoin (above) outlasts a user's 30 s wait for a data row: that user's task raises
        # (Locust's "error", exit 1), no request fails. The verdict checked is the report's below.
        "LOCUST_EXIT_CODE_ON_ERROR": "0",
    }
    docs = fleet.render("run", "headless", settings)
    (job,) = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "loadkit-master"]
    assert job_retries(job, 137) and not any(job_retries(job, code) for code in (1, 2, 99))
    played = time.monotonic()
    fleet.play(docs)
    start = wait_for(lambda: checkpoint_start(fleet), 120, "the master's first checkpoint", interval=0.5)
    print(f"\nkube: play -> first checkpoint in {time.monotonic() - played:.1f} s")
    wait_for(lambda: time.time() >= start + kill_at, 60, f"{kill_at} s into the run", interval=0.2)
    assert fleet.kill("loadkit-master") == 137
    assert (fleet.reports_folder() / "fleet.json.state").exists(), "no state file on the reports claim"
    fleet.start_again("loadkit-master")  # the Job's new pod, behind the Service's stable name (start_again)
    wait_for(lambda: "resumed the run started at" in fleet.logs("loadkit-master"), 90, "the new master to resume")

    # `kubectl patch job loadkit-worker -p '{"spec":{"parallelism":4}}'`: two more worker pods.
    scaled = fleet.render("scaled", "headless", settings, workers=4)
    fleet.play(scaled, only={"loadkit-worker-2", "loadkit-worker-3"})
    wait_for(lambda: "4 workers connected" in fleet.logs("loadkit-master"), 60, "4 workers to join", interval=1)
    assert fleet.running("loadkit-master"), "the run ended before the new workers joined: raise its run time"

    code = fleet.wait("loadkit-master", timeout=run_s + 60)
    ended = time.time()
    log = fleet.logs("loadkit-master")
    assert code == 0, log[-5000:]
    assert "loadkit: all thresholds passed" in log
    workers = [f"loadkit-worker-{i}" for i in range(4)]
    for worker in workers:  # quit by the master: their Job completes
        assert fleet.wait(worker, timeout=30) == 0, fleet.logs(worker)[-3000:]
    for worker in workers[:2]:
        assert fleet.logs(worker).count("loadkit: rejoined the master at") == 1, fleet.logs(worker)[-3000:]
    assert report_workers(fleet) == set(workers)
    report = fleet.report()
    served, gaps = served_by_the_fleet(fleet), report["master_gaps"]
    print(
        f"kube resume: served {served}, reported {report['total']['count']}, gaps {gaps}, "
        f"run ended {ended - start:.1f} s after its start (planned {run_s} s)"
    )
    assert report["complete"] is True and report["thresholds_passed"] is True
    assert report["total"]["failures"] == 0, report["total"]
    assert abs(report["total"]["count"] - served) <= users, (report["total"]["count"], served)  # ± in flight
    # The master's own absence (kill -> its container started again: 0.3-1.4 s here), not the workers'
    # time to reconnect (up to ~40 s with podman's DNS, above).
    assert len(gaps) == 1 and 0 < gaps[0]["seconds"] <= 30, gaps
    assert run_s - 1 <= ended - start <= run_s + 15, f"ended {ended - start:.1f} s after its start"
    assert not (fleet.reports_folder() / "fleet.json.state").exists(), "the state file was left behind"
    counts = {e["key"]: e["count"] for e in report["entries"]}
    assert len(counts) >= 2 and all(counts.values()), counts


def test_fleet_secret_file_every_pod_stops_within_its_grace_period_and_exit_99(fleet: KubeFleet) -> None:
    # Stopped long before its end; a threshold that fails once one request was made: exit 99.
    settings = {**HEADLESS_SETTINGS, "LOCUST_RUN_TIME": "3m", "LOADKIT_THRESHOLD": "count<1"}
    docs = fleet.render("run", "headless", settings)
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
        assert code in ((99,) if pod == "loadkit-master" else (0, 143)), f"{pod}: exit {code}"
    assert fleet.report()["thresholds_passed"] is False  # the verdict of the run as far as it went
    (job,) = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "loadkit-master"]
    assert not job_retries(job, 99)  # a verdict: the Job fails, no other pod runs the test again
