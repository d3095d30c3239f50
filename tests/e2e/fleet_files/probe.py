"""Locustfile of the fleet cluster tests: users take rows; env vars make a worker misbehave.

FLEET_PROBE_BUSY=1: each task spins the CPU for 0.3 s (a saturated worker).
FLEET_PROBE_BAD=1: at test start the worker sends a malformed and an unknown loadkit message.
"""

from __future__ import annotations

import os
import time
from typing import Any

from locust import User, constant, events, task
from locust.runners import WorkerRunner

import loadkit


class Prober(User):
    wait_time = constant(0.05)

    @task
    def take_a_row(self) -> None:
        start = time.perf_counter()
        loadkit.data.next()
        if os.environ.get("FLEET_PROBE_BUSY"):
            end = time.perf_counter() + 0.3
            while time.perf_counter() < end:  # starve the gevent hub on purpose
                pass
        self.environment.events.request.fire(
            request_type="probe",
            name="row",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=None,
            context={},
        )


@events.test_start.add_listener
def _send_bad_messages(environment: Any, **_kw: Any) -> None:
    if os.environ.get("FLEET_PROBE_BAD") and isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("loadkit:data_request", {"want": "not a number"})
        environment.runner.send_message("loadkit:nope", {"x": 1})
