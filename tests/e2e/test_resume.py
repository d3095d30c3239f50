"""A master SIGKILLed mid-run and restarted takes its workers back and finishes the run
(loadkit.fleet.resume, loadkit.fleet.rejoin, loadkit.fleet.ledger), with real processes.

Two workers take a test-data row (unique mode) and GET /health from the bundled HTTP target,
which counts what it served; the users write down which worker took which row when. The master
writes its reports and its state file every 2 s; 12 s into a 40 s run it is SIGKILLed, and 3 s
later started again with the same command on the same port. Each worker uses 20 rows a second;
one leases them 300 at a time (it still holds rows when it rejoins), the other 20 at a time (it
leases between the master's last state write and the kill): a master that leased afresh, or
did not reconcile its ledger with what the workers hold, would give rows to two workers (both
mistakes fail this test).
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Procs, wait_for
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

HEALTH = str(Path(__file__).parent / "resume_files" / "health.py")
USERS = 4
RUN_S = 40
ROWS = 20_000


def holds(folder: Path) -> dict[int, list[tuple[float, float, str]]]:
    """Per row, when each worker held it: from the user taking it to that user taking its next one."""
    taken: dict[str, list[tuple[float, int, str]]] = {}
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            row, worker, user, at = line.split()
            taken.setdefault(f"{worker} {user}", []).append((float(at), int(row), worker))
    held: dict[int, list[tuple[float, float, str]]] = {}
    for rows in taken.values():
        rows.sort()
        ends = [at for at, _, _ in rows[1:]] + [float("inf")]
        for (at, row, worker), end in zip(rows, ends, strict=True):
            held.setdefault(row, []).append((at, end, worker))
    return held


def overlaps(held: dict[int, list[tuple[float, float, str]]]) -> list[tuple[int, Any, Any]]:
    """Rows two workers held at the same moment."""
    out = []
    for row, spans in held.items():
        spans.sort()
        out += [(row, a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1] and a[2] != b[2]]
    return out


def read_report(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def test_a_restarted_master_takes_its_workers_back_and_counts_every_request(
    procs: Procs, start_target: Callable[..., Target], tmp_path: Path
) -> None:
    target = start_target("http")
    report = tmp_path / "out" / "report.json"
    options = ("-u", str(USERS), "-r", str(USERS), "-t", f"{RUN_S}s", "--report-json", str(report))
    options += ("--report-html", str(report.with_suffix(".html")))
    options += ("--report-interval", "2", "--threshold", "fail_ratio<0.01", "--host", target.url)
    options += ("--loadkit-data", f"faker:{ROWS}:1")
    master, port = procs.master(HEALTH, 2, *options)
    (tmp_path / "holds").mkdir()
    env = {"RESUME_HOLDS": str(tmp_path / "holds")}
    workers = [procs.worker(HEALTH, port, env={**env, "LOADKIT_DATA_BATCH": batch}) for batch in ("300", "20")]

    def started_at() -> float | None:
        document = read_report(report)
        return datetime.fromisoformat(document["covered"]["from"]).timestamp() if document else None

    start = wait_for(started_at, 60, "a first checkpoint", interval=0.2)
    wait_for(lambda: time.time() >= start + 12, 30, "12 s into the run", interval=0.2)
    master.popen.send_signal(signal.SIGKILL)
    master.wait(timeout=10)
    killed = time.time()
    wait_for(lambda: time.time() >= killed + 3, 10, "3 s after the kill", interval=0.1)
    again, _ = procs.master(HEALTH, 2, *options, port=port)

    code = again.wait(timeout=RUN_S + 40)
    assert code == 0, again.output[-3000:] + workers[0].output[-3000:]
    ended = time.time()
    for worker in workers:
        worker.wait(timeout=30)
    # The lease ledger: no row out with two workers at once, none used twice (no worker died).
    held = holds(tmp_path / "holds")
    taken = sum(len(spans) for spans in held.values())
    twice = {row: spans for row, spans in held.items() if len(spans) > 1}
    print(
        f"rows taken {taken}, distinct {len(held)}, taken twice {len(twice)}, held by two at once {len(overlaps(held))}"
    )
    assert not overlaps(held), overlaps(held)[:5]
    assert not twice, list(twice.items())[:5]
    served = target.counters().get("GET /health", 0)
    document = json.loads(report.read_text())
    counted = document["total"]["count"]
    gaps = document["master_gaps"]
    print(
        f"\nserved {served}, reported {counted}, gap {gaps}, run ended {ended - start:.1f} s after its start "
        f"(planned {RUN_S} s)"
    )
    assert document["complete"] is True
    # Every request once: what the target served, give or take one in flight per user.
    assert abs(counted - served) <= USERS, (counted, served)
    assert all(r["passed"] for r in document["thresholds"]) and document["thresholds"], document["thresholds"]
    # The report names the gap: from the workers' last heartbeat (at most 1 s before the kill) to the restart.
    assert len(gaps) == 1 and 2.5 <= gaps[0]["seconds"] <= 3 + 1 + 3, gaps
    # The run ends at its planned end (+ the drain of the workers and a loaded machine), not 40 s after the restart.
    assert RUN_S - 1 <= ended - start <= RUN_S + 12, ended - start
    assert document["covered"]["seconds"] >= RUN_S - 2, document["covered"]
    assert "resumed the run started at" in again.output
    # Nothing from a rejoined worker is refused; before it noticed the loss (4 s), its old socket may have
    # reconnected to the new master and delivered heartbeats (and a report, kept and re-sent) it drops.
    refused = [line for _, line in again.find("loadkit: dropped a") if "never registered" not in line]
    assert not refused, refused
    assert not list(report.parent.glob("*.state")), "the state file was left behind"
    # ... because the new master restored it and reconciled it with both workers' declarations.
    assert again.find("restored the test-data ledger"), again.output[-3000:]
    reconciled = again.find("test-data ledger reconciled with 2 rejoined worker(s)")
    assert reconciled, again.output[-3000:]
    print(reconciled[0][1])
    # The report's lease counts: every row taken counted used once, every lease accounted for.
    data = document["fleet"]["data"]
    per_worker = data["workers"].values()
    assert sum(w["used"] for w in per_worker) == taken, data
    assert all(w["leased"] == w["used"] + w["returned"] + w["outstanding"] for w in per_worker), data
    assert data["outstanding"] == 0 and data["available"] == ROWS - taken, data
    # The timeline covers the whole run, the part before the restart too.
    timeline = document["timeline"]
    assert timeline["t"][0] <= start + 2, (timeline["t"][:3], start)
    assert sum(timeline["entries"]["Aggregated"]["count"]) == counted
    # ... with the gap shaded in the HTML report's latency and rate charts.
    assert f"master gone {gaps[0]['seconds']:.1f} s" in report.with_suffix(".html").read_text()
    for worker in workers:
        assert "Traceback" not in worker.output, worker.output[-3000:]
        assert len(worker.find("loadkit: rejoined the master at")) == 1, worker.output[-3000:]


# --- the open model across a restart ---------------------------------------------------------------
TICK = str(Path(__file__).parent / "open_model_files" / "tick_user.py")
RATE = 40
OPEN_RUN_S = 24


def test_a_restarted_master_continues_the_open_models_schedule(procs: Procs, tmp_path: Path) -> None:
    """The same schedule after the restart: same epoch, every iteration of the plan started or dropped.

    The workers run their share of the schedule on their own clock (loadkit.load.restart), so the
    ~7 s the master is away (3 s down, then until the workers notice and rejoin) cost nothing:
    0 dropped, and the fleet's started iterations are the plan's, give or take the iterations in
    flight when the run stops (at most 1 s of the rate: the last plan reaches the workers late
    on a loaded machine).
    """
    report = tmp_path / "out" / "open.json"
    options = ("--arrival-rate", str(RATE), "--max-users", "8", "-t", f"{OPEN_RUN_S}s", "--report-json", str(report))
    options += ("--report-interval", "2")
    master, port = procs.master(TICK, 2, *options)
    workers = [procs.worker(TICK, port), procs.worker(TICK, port)]

    def checkpointed_epoch() -> float | None:
        document = read_report(report)
        load = (document or {}).get("run", {}).get("load", {})
        return load.get("epoch") if load.get("iterations_started") else None

    epoch = wait_for(checkpointed_epoch, 60, "a first checkpoint with iterations", interval=0.2)
    wait_for(lambda: time.time() >= epoch + 8, 30, "8 s into the schedule", interval=0.2)
    master.popen.send_signal(signal.SIGKILL)
    master.wait(timeout=10)
    killed = time.time()
    wait_for(lambda: time.time() >= killed + 3, 10, "3 s after the kill", interval=0.1)
    again, _ = procs.master(TICK, 2, *options, port=port)

    code = again.wait(timeout=OPEN_RUN_S + 40)
    assert code == 0, again.output[-3000:] + workers[0].output[-3000:]
    ended = time.time()
    for worker in workers:
        worker.wait(timeout=30)
    load = json.loads(report.read_text())["run"]["load"]
    gaps = load["master_gaps"]
    started, dropped, elapsed = load["iterations_started"], load["iterations_dropped"], load["elapsed_s"]
    print(
        f"\nstarted {started}, dropped {dropped}, planned {RATE * elapsed:.0f} ({RATE} it/s x {elapsed:.2f} s), "
        f"late {load['iterations_late']}, max lateness {load['max_lateness_ms']:.1f} ms, gap {gaps}, "
        f"run ended {ended - epoch:.1f} s after the epoch (planned {OPEN_RUN_S} s); per second {load['per_second']}"
    )
    # The same schedule: the epoch of the plan before the kill, so every intended time is the original one.
    assert load["epoch"] == epoch
    # It ends at its planned end (the epoch is START_LEAD_S after the run's start), not 24 s after the restart.
    assert OPEN_RUN_S - 1.5 <= elapsed <= OPEN_RUN_S, elapsed
    assert ended - epoch <= OPEN_RUN_S + 12, ended - epoch
    # Both workers carried on through the gap: nothing dropped, every intended iteration started.
    assert len(gaps) == 1 and len(gaps[0]["carried_on"]) == 2 and gaps[0]["not_back"] == [], gaps
    assert gaps[0]["iterations_intended"] >= RATE * 3, gaps  # the window covers at least the 3 s down
    assert dropped == 0 and gaps[0]["iterations_dropped"] == 0, (dropped, gaps)
    assert abs(started + dropped - RATE * elapsed) <= RATE, (started, dropped, elapsed)
    # Nothing ran late all at once: requests stay timed from their intended start, on time.
    assert load["max_lateness_ms"] < 1000, load["max_lateness_ms"]
    # Every start in its second, the gap's too (the workers' re-sent reports carry them): no hole, none twice.
    seconds = load["per_second"]
    assert sum(n for _, n in seconds) == started, seconds
    assert all(n > 0 for _, n in seconds[:-1]), seconds
    assert "open model resumed: schedule" in again.output
    print("progress after the resume:", [line for _, line in again.find("(master gone")][-1:])
    for worker in workers:
        assert "Traceback" not in worker.output, worker.output[-3000:]
        assert len(worker.find("loadkit: rejoined the master at")) == 1, worker.output[-3000:]
