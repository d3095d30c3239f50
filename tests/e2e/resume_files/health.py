"""Locustfile of the resume test: each iteration GETs /health from the HTTP target (server-side counters)."""

from __future__ import annotations

from locust import constant_pacing, task

from loadkit import RestUser


class Health(RestUser):
    wait_time = constant_pacing(0.1)

    @task
    def health(self) -> None:
        self.rest("GET", "/health", name="/health")
