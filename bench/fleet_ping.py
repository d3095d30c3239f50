"""Locustfile of bench/fleet_security.py: users GET /health; each worker pings the master.

Every 0.5 s each worker sends ``bench:ping`` with its wall-clock time; the master records
how long it took to arrive (same host, same clock) and prints the distribution at the end:
the latency of a worker->master message through Locust's socket (secured or not), queueing
in the master's loop included.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import gevent
from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

import loadkit.run.plugin  # noqa: F401  (the fleet secret and message checks)

_latencies_ms: list[float] = []


class Api(HttpUser):
    wait_time = constant(0.2)

    @task
    def health(self) -> None:
        self.client.get("/health")


def _ping(runner: WorkerRunner) -> None:
    while True:
        gevent.sleep(0.5)
        runner.send_message("bench:ping", {"sent": time.time()})


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(
            "bench:ping", lambda environment, msg, **kw: _latencies_ms.append((time.time() - msg.data["sent"]) * 1e3)
        )
    elif isinstance(runner, WorkerRunner):
        gevent.spawn(_ping, runner)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kw: Any) -> None:
    if isinstance(environment.runner, MasterRunner) and _latencies_ms:
        q = statistics.quantiles(_latencies_ms, n=20)
        print(f"bench ping: n={len(_latencies_ms)} median={statistics.median(_latencies_ms):.2f} p95={q[18]:.2f} ms")
