"""RestUser vs Locust's FastHttpUser on the same endpoint (GET /health of the bundled HTTP target).

    .venv/bin/python bench/rest_user.py [--users 20] [--seconds 5] [--rounds 3]

Goal (issue 4): RestUser ≥ 0.9x FastHttpUser. RestUser does more per call on purpose
(status check, JSON parse); FastHttpUser here only checks the status, as by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _user_bench import compare, run_locust_users, target

GROUPS = [("GET /health", ["fasthttp", "loadkit"])]


def child(variant: str, address: str, users: int, seconds: float) -> None:
    from loadkit._gevent import init_gevent

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--address")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.address, args.users, args.seconds)
        return
    with target("http") as address:
        compare(__file__, address, GROUPS, args.users, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
