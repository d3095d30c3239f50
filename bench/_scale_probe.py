"""Measuring aids of bench/fleet_scale.py, imported by its locustfiles (never by loadkit).

- On a master: a greenlet that measures the gevent loop's lag (the overshoot of a 50 ms
  sleep), optionally cProfile over the whole run (``SCALE_PROFILE=path``); at exit both go to
  ``SCALE_PROBE_OUT`` (JSON) — at exit, so after every ``quitting`` listener (reports written).
- On any worker, real or simulated: :class:`Tally` wraps the runner's socket ``send`` and
  counts what the worker sent — message types, the requests its stats reports carry, and the
  shape of each type's payload (``SCALE_RECORD=path`` writes a real worker's at exit), so a
  test can hold the simulator's messages against a real worker's.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

LAG_INTERVAL = 0.05
PROBE: dict[str, Any] = {"lag_ms": []}


def shape(value: Any, depth: int = 2) -> Any:
    """A payload's shape: type names, and for a mapping its keys with their values' shapes."""
    if isinstance(value, dict) and depth > 0:
        return {str(k): shape(v, depth - 1) for k, v in value.items()}
    return type(value).__name__


def merge_shapes(into: dict[str, Any], value: Any) -> dict[str, Any]:
    """Union of the keys seen in every payload of one type (one key: the set of shapes it had)."""
    if not isinstance(value, dict):
        into.setdefault("", set()).add(json.dumps(value, sort_keys=True))
        return into
    for key, sub in value.items():
        into.setdefault(key, set()).add(json.dumps(sub, sort_keys=True))
    return into


class Tally:
    """What one worker sent (see the module docstring)."""

    def __init__(self, runner: WorkerRunner, keep_shapes: bool = False) -> None:
        self.types: dict[str, int] = {}
        self.requests = 0
        self.failures = 0
        self.ready_at: float | None = None
        self.spawned_at: float | None = None
        self.shapes: dict[str, dict[str, set[str]]] | None = {} if keep_shapes else None
        self._wrap(runner)

    def _wrap(self, runner: WorkerRunner) -> None:
        client = runner.client
        send = client.send

        def counted(msg: Any) -> None:
            self.see(msg.type, msg.data)
            send(msg)

        client.send = counted  # type: ignore[method-assign]

    def see(self, kind: str, data: Any) -> None:
        self.types[kind] = self.types.get(kind, 0) + 1
        if kind == "stats":
            self.requests += int(data["stats_total"]["num_requests"])
            self.failures += int(data["stats_total"]["num_failures"])
        elif kind == "spawning_complete" and self.spawned_at is None:
            self.spawned_at = time.time()
        if self.shapes is not None:
            merge_shapes(self.shapes.setdefault(kind, {}), shape(data))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"types": self.types, "requests": self.requests, "failures": self.failures}
        out["spawned_at"] = self.spawned_at
        if self.shapes is not None:
            out["shapes"] = {k: {f: sorted(v) for f, v in s.items()} for k, s in self.shapes.items()}
        return out


def _lag_loop() -> None:
    samples = PROBE["lag_ms"]
    while True:
        start = time.perf_counter()
        gevent.sleep(LAG_INTERVAL)
        samples.append((time.perf_counter() - start - LAG_INTERVAL) * 1e3)
        if len(samples) > 200_000:  # bounded: an hour at 20 Hz is 72,000
            del samples[:100_000]


def _time_requests(app: Any) -> None:
    """CPU time (this thread's) each web request takes: a handler runs without yielding, so
    other greenlets' work is not in it, and a shared machine's waits are not either."""
    from flask import g, request

    @app.before_request
    def started() -> None:
        g.scale_cpu = time.thread_time()

    @app.teardown_request
    def ended(_exc: Any) -> None:
        start = g.get("scale_cpu")
        if start is not None:
            PROBE.setdefault("web_cpu_ms", {}).setdefault(request.path, []).append((time.thread_time() - start) * 1e3)


def _write_probe(path: str, profiler: Any) -> None:
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["SCALE_PROFILE"])
    lags = sorted(PROBE["lag_ms"])
    out = {k: v for k, v in PROBE.items() if k != "lag_ms"}
    if lags:
        out["lag_p99_ms"] = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        out["lag_max_ms"] = lags[-1]
    with open(path, "w") as fh:
        json.dump(out, fh)


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) and os.environ.get("SCALE_PROBE_OUT"):
        profiler = None
        if os.environ.get("SCALE_PROFILE"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        gevent.spawn(_lag_loop)
        if environment.web_ui is not None:
            _time_requests(environment.web_ui.app)
        atexit.register(_write_probe, os.environ["SCALE_PROBE_OUT"], profiler)
    elif isinstance(runner, WorkerRunner) and os.environ.get("SCALE_RECORD"):
        tally = Tally(runner, keep_shapes=True)
        path = os.environ["SCALE_RECORD"]

        def write() -> None:
            with open(path, "w") as fh:
                json.dump(tally.summary(), fh)

        atexit.register(write)
