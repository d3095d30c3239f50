"""Locustfile of bench/fleet_scale.py, plain Locust: one synthetic user per worker.

Each user fires ``SCALE_EVENTS`` request events a second (default 100) over
``SCALE_ENTRIES`` entries (default 10), 1 % of them failures, with log-normal response
times — no network: the cost measured is the master's, per worker. A process's first event is
a failure too, so every worker's reports carry an error entry, not only by chance (at 1 %, a
short run of tests/e2e/test_fleet_scale.py sometimes had none and its message shapes differed).
The simulated workers (bench/_scale_sim.py) import the same class, so master and workers agree
on it. In loadkit's open model (``bench/fleet_scale.py --open``) one iteration is one ``burst``
(``wait_time`` does not apply): the master's arrival rate sets how many bursts a worker runs.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any, ClassVar

from locust import User, constant, task

from bench import _scale_probe  # noqa: F401  (master: loop lag and profile; worker: message record)

ENTRIES = int(os.environ.get("SCALE_ENTRIES", "10"))
EVENTS = float(os.environ.get("SCALE_EVENTS", "100"))
NAMES = [f"/e{i}" for i in range(ENTRIES)]
FAILURE = RuntimeError("synthetic failure")


class Synthetic(User):
    wait_time = constant(ENTRIES / EVENTS)
    #: The loadkit locustfile sets this: take a leased row each burst (``SCALE_LEASE=1``).
    take_row: ClassVar[Callable[[Any], Any] | None] = None
    #: Set once this process has fired its first event (a failure, whatever the dice say).
    failed_once: ClassVar[bool] = False

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def burst(self) -> None:
        if Synthetic.take_row is not None:
            Synthetic.take_row(self.environment)
        fire, rng = self.environment.events.request.fire, self.rng
        for name in NAMES:
            failed = not Synthetic.failed_once or rng.random() < 0.01
            Synthetic.failed_once = True
            fire(
                request_type="SIM",
                name=name,
                response_time=rng.lognormvariate(3.0, 0.6),
                response_length=100,
                exception=FAILURE if failed else None,
                context={},
            )
