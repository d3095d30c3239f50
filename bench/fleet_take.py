"""Locustfile of bench.fleet_leasing: users only take rows (no network), as fast as they can."""

from __future__ import annotations

import time

from locust import User, constant, task

import loadkit
import loadkit.run.plugin  # loadkit's options and wiring


class Taker(User):
    wait_time = constant(0)

    @task
    def take(self) -> None:
        start = time.perf_counter()
        loadkit.data.next()
        self.environment.events.request.fire(
            request_type="data",
            name="next",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=None,
            context={},
        )
