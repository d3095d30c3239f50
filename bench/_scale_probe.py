"""Measuring aids of bench/fleet_scale.py, imported by its locustfiles (never by loadkit).

- On a master: a greenlet that measures the gevent loop's lag (the overshoot of a 50 ms
  sleep), optionally cProfile (``SCALE_PROFILE=path``) from SIGUSR1 to SIGUSR2 (the bench's
  steady window); at exit both go to ``SCALE_PROBE_OUT`` (JSON) — at exit, so after every
  ``quitting`` listener (reports written).
- On a master with ``SCALE_STATE=1``: the run counts as headless (set at ``init``, before loadkit's
  resume part looks), so the master writes its resume state file beside the JSON report every
  ``--report-interval`` and acks each worker (``loadkit:checkpointed``); the probe times each
  write: the loop's part (taking the state, the acks) and the thread's (encoding, writing).
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
        samples.append((time.time(), (time.perf_counter() - start - LAG_INTERVAL) * 1e3))
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
    lags = sorted(lag for _, lag in PROBE["lag_ms"])
    out = {k: v for k, v in PROBE.items() if k != "lag_ms"}
    out["lag"] = [[round(t, 3), round(lag, 2)] for t, lag in PROBE["lag_ms"]]  # the bench cuts its window
    if lags:
        out["lag_p99_ms"] = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        out["lag_max_ms"] = lags[-1]
    with open(path, "w") as fh:
        json.dump(out, fh)


def _time_state_writes() -> None:
    """Wrap the resume part's state writes: loop CPU (take, acks), thread CPU and wall of each write, file size."""
    from loadkit.fleet import resume

    writes: list[dict[str, float]] = PROBE.setdefault("state_writes", [])
    take, ack, write = resume.Resume._take, resume.Resume._ack, resume._write
    current: dict[str, float] = {}

    def timed_take(self: Any) -> Any:
        start = time.thread_time()
        out = take(self)
        current.update(take_cpu_ms=(time.thread_time() - start) * 1e3, ack_cpu_ms=0.0, acks=0)
        return out

    def timed_ack(self: Any, node_id: str, seq: int) -> None:
        start = time.thread_time()
        ack(self, node_id, seq)
        current["ack_cpu_ms"] = current.get("ack_cpu_ms", 0.0) + (time.thread_time() - start) * 1e3
        current["acks"] = current.get("acks", 0) + 1

    def timed_write(path: Any, state: Any, histograms: Any) -> Any:
        start_cpu, start = time.thread_time(), time.perf_counter()
        error = write(path, state, histograms)
        current.update(
            thread_cpu_ms=(time.thread_time() - start_cpu) * 1e3, write_wall_ms=(time.perf_counter() - start) * 1e3
        )
        current["bytes"] = os.path.getsize(path) if os.path.exists(path) else 0
        return error

    write_once = resume.Resume.write_once

    def timed_write_once(self: Any) -> None:
        current.clear()
        write_once(self)
        if current:
            writes.append(dict(current))

    resume.Resume._take = timed_take  # type: ignore[method-assign]
    resume.Resume._ack = timed_ack  # type: ignore[method-assign]
    resume._write = timed_write
    resume.Resume.write_once = timed_write_once  # type: ignore[method-assign]


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) and os.environ.get("SCALE_STATE"):
        environment.parsed_options.headless = True  # the state file is a headless master's (see above)
        _time_state_writes()
    if isinstance(runner, MasterRunner) and os.environ.get("SCALE_PROBE_OUT"):
        profiler = None
        if os.environ.get("SCALE_PROFILE"):
            import cProfile
            import signal

            profiler = cProfile.Profile()
            gevent.signal_handler(signal.SIGUSR1, profiler.enable)
            gevent.signal_handler(signal.SIGUSR2, profiler.disable)
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
