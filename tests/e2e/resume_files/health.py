"""Locustfile of the resume test: each iteration takes a test-data row, then GETs /health from the HTTP
target (server-side counters).

With ``RESUME_HOLDS`` set (a folder), each worker process appends one line per row its users take,
``row worker user time``: a user holds its row until it takes its next one (when it is acknowledged),
so the test can tell which worker held which row when.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from locust import constant_pacing, task

import loadkit
from loadkit import RestUser

HOLDS = os.environ.get("RESUME_HOLDS")


class Health(RestUser):
    wait_time = constant_pacing(0.1)

    @task
    def health(self) -> None:
        if HOLDS:
            row = loadkit.data.next()
            worker = getattr(self.environment.runner, "client_id", "local")
            with (Path(HOLDS) / f"{os.getpid()}.txt").open("a") as out:
                out.write(f"{row['id']} {worker} {id(self)} {time.time():.6f}\n")
        self.rest("GET", "/health", name="/health")
