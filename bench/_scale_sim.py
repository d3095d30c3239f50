"""One process of bench/fleet_scale.py's simulated fleet: K real Locust workers on one gevent loop.

Each simulated worker is a real ``WorkerRunner`` with its own ``Environment``, its own
ZeroMQ DEALER socket and identity (CURVE when ``LOADKIT_FLEET_SECRET`` is set), and — with
``--mode loadkit`` — loadkit's plugin installed on it by :func:`loadkit.run.plugin.install`, as
``locust --worker`` does at ``init``. So every message (client_ready, hello, heartbeats,
stats with HDR deltas and timeline slots, health, data-lease requests, open-model status,
quit) is made by the code a real worker runs, never by a copy of the formats. Open-model status
is sent when the master runs the open model (``--arrival-rate``; ``bench/fleet_scale.py --open``):
each worker's own ``WorkerModel`` (in its ``Environment``'s run stash) takes its plan and runs its
share on its own ``NodeScheduler``. The one module-level table of the worker-side open model,
``loadkit.load.node.LATENESS_MS``, is keyed by the pool user's greenlet, and a greenlet belongs
to one worker's node, so many workers on one loop keep their iterations and lateness apart.

Two departures, for the process's sake. Locust's worker rebuilds its whole argument parser
once per option on every ``spawn`` message (``argument_parser.default_args_dict()`` inside a
comprehension: ~8 ms x ~100 options, so ~0.8 s of a real worker's loop per spawn message);
K workers on one loop would stall K times as long, so here it is computed once (same value).
And the health collectors that measure the *process*
(CPU, memory, network, loop lag, connections) exist once per simulator process and are
shared, each worker's sample still made by ``collect_all`` with its own ``Users`` and
``Requests`` collectors. (1,000 loop-lag greenlets at 20 Hz would measure themselves.)

    python -m bench._scale_sim --port 5557 --workers 250 --mode loadkit --out /tmp/sim0.json
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import os
import sys
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.event import Events

from bench._scale_probe import Tally

PROCESS_WIDE = ("ProcessCpu", "ProcessMemory", "NetworkRate", "LoopLag", "ProcessConnections")


class _Shared:
    """The process-wide collectors, sampled at most once a second for every worker."""

    def __init__(self, collectors: list[Any]) -> None:
        self.collectors = collectors
        self.at = 0.0
        self.sample: dict[str, float] = {}

    def collect(self) -> dict[str, float]:
        from loadkit.fleet.collectors import collect_all

        now = time.monotonic()
        if now - self.at >= 1.0:
            self.sample, self.at = collect_all(self.collectors), now
        return dict(self.sample)


def _share_health(environment: Environment, shared: _Shared | None) -> _Shared:
    from loadkit.fleet.collectors import LoopLag
    from loadkit.fleet.health import HEALTH_STATE
    from loadkit.run.context import run_context

    health = run_context(environment).get(HEALTH_STATE)
    assert health is not None
    mine = [c for c in health.collectors if type(c).__name__ not in PROCESS_WIDE]
    if shared is None:
        shared = _Shared([c for c in health.collectors if type(c).__name__ in PROCESS_WIDE])
    else:
        for c in health.collectors:
            if isinstance(c, LoopLag):
                c.stop()
    health.collectors = [shared, *mine]
    return shared


def start_worker(
    module: Any, options: Any, port: int, loadkit: bool, shared: Any, record: bool = False
) -> tuple[Environment, Tally, Any]:
    """One simulated worker: what ``locust --worker`` does up to its ``init`` event."""
    environment = Environment(
        user_classes=[module.Synthetic], parsed_options=copy.copy(options), events=Events(), host="http://127.0.0.1"
    )
    runner = environment.create_worker_runner("127.0.0.1", port)
    tally = Tally(runner, keep_shapes=record)
    if loadkit:
        from loadkit.run import plugin

        plugin.install(environment)
        shared = _share_health(environment, shared)
    return environment, tally, shared


def _cache_default_args() -> None:
    from locust import argument_parser

    defaults = argument_parser.default_args_dict()
    argument_parser.default_args_dict = lambda: dict(defaults)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--mode", choices=("plain", "loadkit"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--record", action="store_true", help="keep each message type's payload shape")
    parser.add_argument("--deadline", type=float, default=3600.0, help="seconds before giving up on the master")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _cache_default_args()
    module = importlib.import_module("bench._scale_loadkit" if args.mode == "loadkit" else "bench._scale_users")
    from locust.argument_parser import get_parser

    options = get_parser().parse_args(["-f", module.__file__, "--worker", "--master-port", str(args.port)])
    workers: list[tuple[Environment, Tally]] = []
    shared = None
    started = time.time()
    for _ in range(args.workers):
        environment, tally, shared = start_worker(
            module, options, args.port, args.mode == "loadkit", shared, args.record
        )
        workers.append((environment, tally))
    connected = time.time()
    deadline = time.monotonic() + args.deadline
    while time.monotonic() < deadline and any(len(env.runner.greenlet) for env, _ in workers):  # type: ignore[union-attr]
        gevent.sleep(0.5)  # each runner's greenlets end at the master's quit
    for environment, _ in workers:
        environment.events.quitting.fire(environment=environment, reverse=True)  # as locust's shutdown does
    gevent.sleep(1.0)  # let the sockets flush the last messages
    summaries = [tally.summary() for _, tally in workers]
    partial = f"{args.out}.partial"
    with open(partial, "w") as fh:
        json.dump({"started": started, "connected": connected, "workers": summaries}, fh)
    os.replace(partial, args.out)  # whole or absent: a reader polls for it
    for environment, _ in workers:
        environment.runner.client.close(linger=1000)  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main())
