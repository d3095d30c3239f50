"""Locustfile: plain Locust HttpUser against the bundled HTTP target with 5 ms injected.

Each process also appends every response time it measured to a file in
``$LK_SAMPLES_DIR`` (one per process), so the test can compute the exact percentiles
and compare them with the master's merged HDR ones.
"""

from __future__ import annotations

import os
from typing import Any

from locust import HttpUser, constant, events, task

DELAY_MS = 5


class DelayedItemsUser(HttpUser):
    wait_time = constant(0.01)

    @task
    def list_items(self) -> None:
        self.client.get(f"/items?delay_ms={DELAY_MS}", name="/items")


_samples: list[str] = []


@events.request.add_listener
def _keep(response_time: float, **_kw: Any) -> None:
    _samples.append(repr(response_time))


@events.quitting.add_listener
def _dump(**_kw: Any) -> None:
    folder = os.environ.get("LK_SAMPLES_DIR")
    if folder and _samples:
        with open(os.path.join(folder, f"samples-{os.getpid()}.txt"), "w") as fh:
            fh.write("\n".join(_samples))
