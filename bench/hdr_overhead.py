"""What does loadkit's HDR recording cost? Requests/s with and without it, in one run.

One process, one Locust local runner, the same users all along; rounds alternate between
HDR recording on and off (loadkit's ``request`` listener subscribed or not), so both see the same machine
state. Prints each round and the median on/off ratio; the goal is a drop below 3 %. On a
shared machine the rounds are noisy, so it also measures the listener's own CPU cost per
request event (fired in a tight loop, with and without it) and prints it as a share of
the runner time per request: the noise-free estimate of the drop.

    .venv/bin/python -m bench.hdr_overhead                 # FastHttpUser vs the bundled HTTP target
    .venv/bin/python -m bench.hdr_overhead --mode events   # worst case: users only fire events

``--mode http`` starts ``loadkit target http`` on 127.0.0.1 (a free port) and stops it at
the end. ``--mode events`` has no I/O at all, so recording is the largest possible share
of each request's cost: an upper bound, not what a real test sees.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from loadkit._gevent import init_gevent

init_gevent()

import gevent  # noqa: E402
from locust import User, constant, task  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402
from locust.env import Environment  # noqa: E402

import loadkit  # noqa: E402
from loadkit.stats.controller import controller_for  # noqa: E402
from loadkit.targets.launcher import launch  # noqa: E402


class EventsUser(User):
    wait_time = constant(0)

    @task
    def fire(self) -> None:
        for i in range(100):
            self.environment.events.request.fire(
                request_type="grpc", name="/bench", response_time=0.25 + i / 400, response_length=0, exception=None
            )
        gevent.sleep(0)


class ItemsUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/health", name="/health")


@contextmanager
def http_target() -> Iterator[str]:
    with launch("http") as running:
        yield running.url


def measure(env: Environment, recording: bool, seconds: float) -> float:
    listener = controller_for(env).on_request
    with suppress(ValueError):  # not subscribed after an "off" round
        env.events.request.remove_listener(listener)
    if recording:
        env.events.request.add_listener(listener)
    stats = env.runner.stats  # type: ignore[union-attr]
    before, start = stats.total.num_requests, time.perf_counter()
    gevent.sleep(seconds)
    return (stats.total.num_requests - before) / (time.perf_counter() - start)


def run(user: type[User], host: str | None, users: int, rounds: int, seconds: float) -> list[tuple[float, float]]:
    env = Environment(user_classes=[user], host=host)
    runner = env.create_local_runner()
    loadkit.attach(env)
    runner.start(users, spawn_rate=users)
    try:
        gevent.sleep(2.0)  # warm-up: connections, caches
        pairs = []
        for i in range(rounds):
            order = (True, False) if i % 2 == 0 else (False, True)  # cancel drift within a pair
            result = {rec: measure(env, rec, seconds) for rec in order}
            pairs.append((result[True], result[False]))
            print(
                f"round {i + 1:2d}: with HDR {result[True]:9.0f} req/s   without {result[False]:9.0f} req/s", flush=True
            )
        return pairs
    finally:
        runner.quit()


def listener_cost_us(samples: int = 200_000) -> float:
    """CPU µs that loadkit's request listener adds to one request event (fired in a loop)."""
    env = Environment(user_classes=[EventsUser])
    env.create_local_runner()
    loadkit.attach(env)
    listener = controller_for(env).on_request
    fire = env.events.request.fire
    timings = {}
    for recording in (False, True, False, True):
        with suppress(ValueError):
            env.events.request.remove_listener(listener)
        if recording:
            env.events.request.add_listener(listener)
        start = time.perf_counter()
        for i in range(samples):
            fire(
                request_type="GET", name="/b", response_time=0.25 + (i % 1000) / 100, response_length=0, exception=None
            )
        timings.setdefault(recording, []).append((time.perf_counter() - start) / samples * 1e6)
    env.runner.quit()  # type: ignore[union-attr]
    return min(timings[True]) - min(timings[False])


def main() -> int:
    parser = argparse.ArgumentParser(description="RPS with and without loadkit's HDR recording.")
    parser.add_argument("--mode", choices=["http", "events"], default="http")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each half-round")
    args = parser.parse_args()
    if args.mode == "events":
        pairs = run(EventsUser, None, args.users, args.rounds, args.seconds)
    else:
        with http_target() as url:
            pairs = run(ItemsUser, url, args.users, args.rounds, args.seconds)
    ratio = statistics.median(on / off for on, off in pairs)
    cost = listener_cost_us()
    per_request_us = 1e6 / statistics.median(off for _, off in pairs)  # one process: runner time per request
    print(
        f"listener cost {cost:.2f} µs per request = {100 * cost / per_request_us:.2f} % of a request's "
        f"{per_request_us:.0f} µs of runner time (the noise-free estimate of the drop)"
    )
    verdict = "within" if ratio >= 0.97 else "ABOVE"
    drop = 100 * (1 - ratio)
    print(f"{args.mode}: median RPS with/without HDR = {ratio:.3f} (drop {drop:.1f} %, {verdict} the 3 % goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
