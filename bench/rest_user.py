"""RestUser vs Locust's FastHttpUser on the same endpoint (GET /health of the bundled HTTP target).

    .venv/bin/python -m bench.rest_user [--users 20] [--seconds 5] [--rounds 3]

Goal (issue 4): RestUser ≥ 0.9x FastHttpUser. RestUser does more per call on purpose
(status check, JSON parse); FastHttpUser here only checks the status, as by default.
"""

from __future__ import annotations

from bench._user_bench import main as bench_main
from bench._user_bench import run_locust_users

GROUPS = [("GET /health", ["fasthttp", "loadkit"])]


def child(variant: str, address: str, users: int, seconds: float) -> None:
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    from locust import FastHttpUser, constant, task

    from loadkit import RestUser

    calls = [0]

    class Fast(FastHttpUser):
        host = f"http://{address}"
        wait_time = constant(0)

        @task
        def call(self) -> None:
            self.client.get("/health")
            calls[0] += 1

    class Rest(RestUser):
        host = f"http://{address}"
        wait_time = constant(0)

        @task
        def call(self) -> None:
            self.rest("GET", "/health")
            calls[0] += 1

    run_locust_users(Fast if variant == "fasthttp" else Rest, users, seconds, lambda: calls[0])


if __name__ == "__main__":
    bench_main("bench.rest_user", "http", GROUPS, child)
