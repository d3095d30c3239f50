"""Locustfile of the pictures e2e test: two entries with known shapes, some failures.

No target: users fire request events. ``LK_HOG=1`` makes the worker block its gevent loop
again and again from 2 s to 5 s into the test (a CPU-bound user), so it saturates.
"""

from __future__ import annotations

import os
import random
import time

import gevent
from locust import User, constant, events, task

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)


class PicturesUser(User):
    wait_time = constant(0.01)

    @task
    def call(self) -> None:
        fire = self.environment.events.request.fire
        fire(
            request_type="GET",
            name="/fast",
            response_time=random.uniform(0.2, 2.0),
            response_length=1,
            exception=None,
            context={},
        )
        failed = random.random() < 0.02
        fire(
            request_type="GET",
            name="/slow",
            response_time=random.lognormvariate(3.0, 0.4),
            response_length=1,
            exception=RuntimeError("synthetic") if failed else None,
            context={},
        )


def _hog() -> None:
    gevent.sleep(2.0)
    stop = time.monotonic() + 3.0
    while time.monotonic() < stop:
        end = time.perf_counter() + 0.15
        while time.perf_counter() < end:
            pass
        gevent.sleep(0.01)


@events.test_start.add_listener
def _start_hog(environment: object, **_kw: object) -> None:
    if os.environ.get("LK_HOG") == "1":
        gevent.spawn(_hog)
