"""The simulated fleet (bench/fleet_scale.py) against a real loadkit master.

- its messages are a real worker's: one real ``locust --worker`` and simulated workers on one
  master, each recording what it sends; same message types, same payload fields — in the closed
  model (one user per worker) and in the open model (``--arrival-rate``: each worker runs its
  plan's share of the iterations and sends ``loadkit:arrival_status`` and its counts in ``stats``);
- 200 simulated workers for ~30 s: none declared missing, and the report's merged counts
  equal the sum of what the simulated workers sent (exact), the report's size bounded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import ROOT, Procs, wait_for

pytestmark = pytest.mark.e2e

LOCUSTFILE = str(ROOT / "bench" / "_scale_loadkit.py")
ENV = {"PYTHONPATH": str(ROOT), "SCALE_EVENTS": "20", "SCALE_ENTRIES": "10", "SCALE_LEASE": "1"}


def _sim(procs: Procs, port: int, workers: int, out: Path, *extra: str) -> Any:
    args = [sys.executable, "-m", "bench._scale_sim", "--port", str(port), "--workers", str(workers)]
    args += ["--mode", "loadkit", "--out", str(out), "--deadline", "240", *extra]
    return procs.start(f"sim-{out.stem}", args, env=ENV)


HEX = set("0123456789abcdef")


def _key(key: str) -> str:
    if len(key) == 64 and set(key) <= HEX:
        return "<hash>"
    return "<second>" if key.isdigit() else key


def _fields(shapes: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, set[str]]]:
    """Message type -> payload field -> kinds of value (a mapping by its keys; numbers as one kind)."""
    out: dict[str, dict[str, set[str]]] = {}
    for kind, fields in shapes.items():
        for field, seen in fields.items():
            kinds = out.setdefault(kind, {}).setdefault(field, set())
            for text in seen:
                value = json.loads(text)
                if isinstance(value, dict):  # keys that are data, not shape: Locust's error hashes,
                    # the open model's per-second starts (keyed by the schedule's second)
                    keys = {_key(k) for k in value}
                    kinds.add("mapping:" + ",".join(sorted(keys)))
                else:
                    kinds.add({"int": "number", "float": "number"}.get(value, value))
    return out


#: The master's load options per model: 3 workers, 20 request events a second each (2 bursts of
#: 10 entries) either way — one user each (closed), or 6 iterations a second over the fleet (open).
MODELS = {
    "closed": ("-u", "3", "-r", "3"),
    "open": ("--arrival-rate", "6", "--max-users", "3"),
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_simulated_workers_send_what_a_real_worker_sends(procs: Procs, tmp_path: Path, model: str) -> None:
    master, port = procs.master(
        LOCUSTFILE,
        3,
        *MODELS[model],
        *("-t", "12s", "--loadkit-data", "faker:100000", "--report-json", str(tmp_path / "r.json")),
    )
    real = procs.worker(LOCUSTFILE, port, env={**ENV, "SCALE_RECORD": str(tmp_path / "real.json")})
    _sim(procs, port, 2, tmp_path / "sim.json", "--record")
    assert master.wait(timeout=120) == 1, master.output  # 1: the synthetic users' failures
    assert real.wait(timeout=60) == 0, real.output
    sim = wait_for(
        lambda: (tmp_path / "sim.json").exists() and json.loads((tmp_path / "sim.json").read_text()),
        60,
        "the simulator's record",
    )
    recorded = json.loads((tmp_path / "real.json").read_text())
    # Locust's "logs" (a real worker's captured log lines, every 10 s) is the one message the
    # simulator leaves out: it installs no log capture (bench/_scale_sim.py).
    recorded["types"].pop("logs", None)
    recorded["shapes"].pop("logs", None)
    # The two simulated workers together (one may miss a periodic kind in a short run on a busy machine).
    shapes: dict[str, dict[str, list[str]]] = {}
    for simulated in sim["workers"]:
        for kind, fields in simulated["shapes"].items():
            for name, seen in fields.items():
                shapes.setdefault(kind, {}).setdefault(name, []).extend(seen)
    assert set(shapes) == set(recorded["shapes"]), (sorted(shapes), sorted(recorded["shapes"]))
    assert _fields(shapes) == _fields(recorded["shapes"])
    # every kind a loadkit worker sends in such a run: slots and health in stats, hello, leases
    assert {"loadkit:hello", "loadkit:data_request", "heartbeat", "stats"} <= set(recorded["types"])
    assert "loadkit_timeline" in recorded["shapes"]["stats"]  # the slots: HDR-exact, the whole delta
    assert "loadkit_health" in recorded["shapes"]["stats"] and "loadkit_health" in shapes["stats"]
    if model == "open":  # the open model's status and its counts in each stats report, from both
        assert "loadkit:arrival_status" in recorded["types"] and "loadkit:arrival_status" in shapes
        assert "loadkit_load" in recorded["shapes"]["stats"] and "loadkit_load" in shapes["stats"]
    report = json.loads((tmp_path / "r.json").read_text())
    sent = recorded["requests"] + sum(w["requests"] for w in sim["workers"])
    assert report["total"]["count"] == report["total"]["hdr_count"] == sent
    assert report["run"]["load"]["model"] == model
    if model == "open":  # each worker ran its own share, the two simulated ones on one loop among them
        assert len(report["run"]["load"]["nodes"]) == 3 and all(report["run"]["load"]["nodes"].values())


WORKERS = 200
#: Report bytes per simulated worker (~30 s, 10 entries): the report must not grow with the run's
#: samples per worker beyond this (measured ~1.6 KB per worker; the bound leaves 3x headroom).
REPORT_BYTES_PER_WORKER = 5_000


def test_two_hundred_simulated_workers_none_missing_counts_exact(procs: Procs, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    master, port = procs.master(
        LOCUSTFILE,
        WORKERS,
        *("-u", str(WORKERS), "-r", "100", "-t", "30s", "--report-json", str(report_path)),
        *("--loadkit-data", "faker:1000:1", "--loadkit-data-mode", "cyclic"),  # leases at 200 workers too
        *("--expect-workers-max-wait", "120"),
    )
    outs = [tmp_path / f"sim{i}.json" for i in range(2)]
    for out in outs:
        _sim(procs, port, WORKERS // len(outs), out)
    assert master.wait(timeout=240) == 1, master.output[-3000:]  # 1: the synthetic users' failures
    assert not master.find("setting state to missing"), master.find("setting state to missing")[:3]
    sims = [wait_for(lambda out=out: out.exists() and json.loads(out.read_text()), 90, out.name) for out in outs]
    workers = [w for s in sims for w in s["workers"]]
    assert len(workers) == WORKERS and all(w["spawned_at"] is not None for w in workers)
    sent = sum(w["requests"] for w in workers)
    failed = sum(w["failures"] for w in workers)
    report = json.loads(report_path.read_text())
    assert report["run"]["workers"] == WORKERS
    assert report["total"]["count"] == report["total"]["hdr_count"] == sent > 0
    assert report["total"]["failures"] == failed
    assert report_path.stat().st_size < WORKERS * REPORT_BYTES_PER_WORKER
