"""Locustfile feeding 10^6 known latencies through real workers' request events.

Every worker's single user fires its share (value j goes to worker j % WORKERS) into three
entries (by j % 3); the master quits once Locust has counted all of them. The test
recomputes the same values with :func:`known_latencies` and checks the master's merged
HDR percentiles against the exactly sorted values.
"""

from __future__ import annotations

import random
import sys

import gevent
from locust import User, constant, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)

N = 1_000_000
WORKERS = 2
NAMES = ("/demo.v1.Demo/GetItem", "/demo.v1.Demo/ListItems", "/items")
TYPES = ("grpc", "grpc", "GET")


def known_latencies(n: int = N) -> list[float]:
    """Mostly sub-millisecond, a ms body and a long tail up to seconds (ms, with µs digits)."""
    rng = random.Random(20261123)
    values = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            v = rng.uniform(0.02, 1.0)
        elif r < 0.95:
            v = rng.uniform(1.0, 20.0)
        else:
            v = min(rng.lognormvariate(4.0, 1.5), 600_000.0)
        values.append(round(v, 3))
    return values


# Workers generate their values at import, before they connect: generating them later
# blocks the worker's loop for seconds on a loaded machine, it misses heartbeats, and the
# master stops its users as "missing" mid-feed.
_VALUES = known_latencies() if "--worker" in sys.argv else []
_fed = False  # one feed per worker process, whatever the number of users it got


class FeederUser(User):
    wait_time = constant(0)

    @task
    def feed(self) -> None:
        global _fed
        if _fed:
            raise StopUser()
        _fed = True
        index = self.environment.runner.worker_index
        fire = self.environment.events.request.fire
        for j in range(index, N, WORKERS):
            k = j % 3
            fire(request_type=TYPES[k], name=NAMES[k], response_time=_VALUES[j], response_length=0, exception=None)
            if j % 400 < WORKERS:
                gevent.sleep(0)  # let the worker's reporter and heartbeats run
        raise StopUser()


@events.init.add_listener
def _quit_when_all_counted(environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return

    def watch() -> None:
        while runner.stats.total.num_requests < N:
            gevent.sleep(0.2)
        runner.quit()

    gevent.spawn(watch)
