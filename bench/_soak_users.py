"""Locustfile of bench/soak.py: the users of a soak and its probes (never imported by loadkit).

``SOAK_USERS`` picks the users:

- ``mixed`` (default): ``locustfiles/mixed.py``'s GrpcReader and HttpWriter, unchanged but
  for their wait time: ``constant_throughput(SOAK_RATE)`` per user, so a soak's request rate
  is fixed (users x rate) and it does not peg a shared machine; with ``SOAK_STEADY=1`` its POST
  replaces one item instead of adding one (mixed.py's GET /items lists them all);
- ``burn``: a CPU-bound user, each task a busy loop of ``SOAK_BURN_MS`` without yielding
  (then one ``request`` event, through :func:`loadkit.measure` when ``SOAK_PLAIN`` is unset),
  ``constant_throughput(SOAK_RATE)`` per user: the worker is saturated on purpose;
- ``burn`` with ``SOAK_PLAIN=1``: the same user with no loadkit import at all (plain Locust),
  the baseline.

Probes, each on when its variable is set:

- ``SOAK_TRACEMALLOC=DIR`` (any role): tracemalloc on from import (``SOAK_FRAMES`` frames,
  default 10); a snapshot at ``SOAK_SNAP_FIRST`` seconds after the first user started
  (default 120) goes to ``DIR/<role>-first.snap`` and one every ``SOAK_SNAP_EVERY`` s
  (default 60) overwrites ``DIR/<role>-last.snap``; bench/soak.py compares the two.
- ``SOAK_GC=DIR`` (any role): every ``SOAK_SNAP_EVERY`` s one JSON line to ``DIR/<role>-gc.jsonl``:
  RSS, objects tracked by the garbage collector by type (the top 30), what each generation's
  collections freed since the last line (cyclic garbage made between them), and pymalloc's
  arena count; no ``gc.collect()`` of its own, so garbage waiting for a collection shows.
- ``SOAK_HEARTBEATS=path`` (master): the time of each worker heartbeat the master received
  (Locust's ``heartbeat_sent`` event, fired as the master answers it), written at exit as
  ``{"gaps_ms": [...], "missing": n}``.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant_throughput, events, task
from locust.runners import MasterRunner, WorkerRunner

ROOT = Path(__file__).resolve().parent.parent
KIND = os.environ.get("SOAK_USERS", "mixed")
PLAIN = bool(os.environ.get("SOAK_PLAIN"))
RATE = float(os.environ.get("SOAK_RATE", "20"))
BURN_S = float(os.environ.get("SOAK_BURN_MS", "50")) / 1000
SNAP_DIR = os.environ.get("SOAK_TRACEMALLOC")

if SNAP_DIR:
    tracemalloc.start(int(os.environ.get("SOAK_FRAMES", "10")))
if not PLAIN:
    import loadkit  # in a Locust process: loads loadkit's plugin


def _burn() -> int:
    end, n = time.perf_counter() + BURN_S, 0
    while time.perf_counter() < end:
        n += 1
    return n


if KIND == "burn":

    class Burner(User):
        """A CPU-bound user: ``SOAK_BURN_MS`` of busy loop per task, one request event each."""

        wait_time = constant_throughput(RATE)

        @task
        def burn(self) -> None:
            if PLAIN:
                start = time.perf_counter()
                _burn()
                self.environment.events.request.fire(
                    request_type="cpu",
                    name="burn",
                    response_time=(time.perf_counter() - start) * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )
                return
            with loadkit.measure(self, "cpu", "burn"):
                _burn()

else:
    _spec = importlib.util.spec_from_file_location("soak_mixed", ROOT / "locustfiles" / "mixed.py")
    assert _spec is not None and _spec.loader is not None
    _mixed = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mixed)
    GrpcReader = _mixed.GrpcReader
    HttpWriter = _mixed.HttpWriter
    for _cls in (GrpcReader, HttpWriter):
        _cls.wait_time = constant_throughput(RATE)
    del _cls  # Locust collects every User class in the module's namespace: no second name
    if os.environ.get("SOAK_STEADY"):
        # mixed.py's writer creates a new item per POST and lists them all per GET: the target's
        # store, and so each GET /items response, grows all run long (2.2 MB after 40 min at
        # 200/s). Steady: every POST replaces one item, so the responses keep their size.
        _create = HttpWriter.__dict__["create"]

        def _create_one(self: Any) -> None:
            self.rest("POST", "/items", json={"id": "soak", "name": "mixed"}, expect=201)

        HttpWriter.tasks = [_create_one if t is _create else t for t in HttpWriter.tasks]


# --- probes ------------------------------------------------------------------------------
def _role(environment: Any) -> str:
    runner = environment.runner
    return "master" if isinstance(runner, MasterRunner) else "worker" if isinstance(runner, WorkerRunner) else "local"


def _snapshots(role: str) -> None:
    assert SNAP_DIR is not None
    first = float(os.environ.get("SOAK_SNAP_FIRST", "120"))
    every = float(os.environ.get("SOAK_SNAP_EVERY", "60"))
    gevent.sleep(first)
    for name in ("first", "last"):
        gc.collect()
        tracemalloc.take_snapshot().dump(os.path.join(SNAP_DIR, f"{role}-{name}.snap.tmp"))
        os.replace(os.path.join(SNAP_DIR, f"{role}-{name}.snap.tmp"), os.path.join(SNAP_DIR, f"{role}-{name}.snap"))
    while True:
        gevent.sleep(every)
        gc.collect()
        path = os.path.join(SNAP_DIR, f"{role}-last.snap")
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)


def _gc_lines(role: str) -> None:
    directory = os.environ["SOAK_GC"]
    freed = [0, 0, 0]
    runs = [0, 0, 0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            freed[info["generation"]] += info["collected"]
            runs[info["generation"]] += 1

    gc.callbacks.append(on_gc)
    every = float(os.environ.get("SOAK_SNAP_EVERY", "60"))
    began = time.monotonic()
    while True:
        gevent.sleep(every)
        types: dict[str, int] = {}
        for obj in gc.get_objects():
            name = type(obj).__name__
            types[name] = types.get(name, 0) + 1
        rss = 0.0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        row = {
            "min": round((time.monotonic() - began) / 60, 2),
            "rss_mib": rss,
            "objects": sum(types.values()),
            "top": dict(sorted(types.items(), key=lambda kv: -kv[1])[:30]),
            "gc_freed": list(freed),
            "gc_runs": list(runs),
            "gc_count": list(gc.get_count()),
        }
        freed[:], runs[:] = [0, 0, 0], [0, 0, 0]
        with open(os.path.join(directory, f"{role}-gc.jsonl"), "a") as fh:
            fh.write(json.dumps(row) + "\n")


_started: dict[str, bool] = {}


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kw: Any) -> None:
    role = _role(environment)
    if _started.get(role):
        return
    _started[role] = True
    if SNAP_DIR:
        gevent.spawn(_snapshots, role)
    if os.environ.get("SOAK_GC"):
        gevent.spawn(_gc_lines, role)


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    path = os.environ.get("SOAK_HEARTBEATS")
    if not (path and isinstance(environment.runner, MasterRunner)):
        return
    last: dict[str, float] = {}
    gaps: list[float] = []

    def seen(client_id: str, timestamp: float, **_kw: Any) -> None:
        before = last.get(client_id)
        if before is not None:
            gaps.append((timestamp - before) * 1000)
        last[client_id] = timestamp

    environment.events.heartbeat_sent.add_listener(seen)
    runner = environment.runner

    def write() -> None:
        missing = sum(1 for c in runner.clients.values() if c.state == "missing")
        with open(path, "w") as fh:
            json.dump({"gaps_ms": gaps, "missing_at_exit": missing}, fh)

    atexit.register(write)
