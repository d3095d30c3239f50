"""Locustfile for loadkit's stats e2e tests: users fire synthetic request events.

No target needed. ``LK_SYNTH_MODE=fail`` makes every request a failure.
"""

from __future__ import annotations

import os
import random

from locust import User, constant, task

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)

_FAIL = os.environ.get("LK_SYNTH_MODE") == "fail"


class SyntheticUser(User):
    wait_time = constant(0.005)

    @task
    def call(self) -> None:
        self.environment.events.request.fire(
            request_type="grpc",
            name="/demo.v1.Demo/GetItem",
            response_time=random.uniform(0.2, 2.0),
            response_length=10,
            exception=RuntimeError("synthetic failure") if _FAIL else None,
            context={},
        )
