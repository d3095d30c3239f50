"""Locustfile of the checkpoint tests: each iteration leases one test-data row and GETs it from the HTTP target.

``$CHECKPOINT_ROWS_LOG`` (optional): each worker appends ``pid row`` lines there, so a test can
tell whether two workers ever held the same row.
"""

from __future__ import annotations

import os

from locust import constant_pacing, task

import loadkit
from loadkit import RestUser

_log = open(os.environ["CHECKPOINT_ROWS_LOG"], "a", buffering=1) if os.environ.get("CHECKPOINT_ROWS_LOG") else None  # noqa: SIM115


class RowReader(RestUser):
    wait_time = constant_pacing(0.1)

    @task
    def read_row(self) -> None:
        row = loadkit.data.next()
        if _log is not None:
            _log.write(f"{os.getpid()} {row.get('id', row)}\n")
        self.rest("GET", "/health", name="/health")
