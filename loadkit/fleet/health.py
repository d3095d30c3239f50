"""Load-generator health on a Locust runner: sampled on workers, kept on the master.

Each worker (or the local process) samples its collectors every ``--loadkit-health-interval``
seconds; a worker sends the sample as ``loadkit:health``. The master's :class:`HealthStore`
keeps the latest sample and a bounded history per worker and logs a warning when a worker
saturates (the rule, start-up samples excluded, is :mod:`loadkit.fleet.saturation`) and stops
counting it at the first sample that is not. It also polls the ``loadkit agent`` URLs given by
``--loadkit-agent``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit import messages
from loadkit.fleet.collectors import WORKER_COLLECTORS, Collector, LoopLag, Requests, Sample, collect_all
from loadkit.fleet.saturation import CONSECUTIVE, WARMUP_SAMPLES, saturation
from loadkit.messages import HEALTH, HealthReport
from loadkit.run.context import StashKey, run_context

log = logging.getLogger("loadkit.fleet")

HISTORY = 1000
LOCAL = "local"


@dataclass
class HealthStore:
    """Latest sample and history per worker; saturation episodes (pure, no I/O)."""

    latest: dict[str, Sample] = field(default_factory=dict)
    history: dict[str, deque[Sample]] = field(default_factory=dict)
    saturated: dict[str, str] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Samples received and saturated samples in a row, per worker (see the module docstring).
    seen: dict[str, int] = field(default_factory=dict)
    streak: dict[str, int] = field(default_factory=dict)

    def add(self, worker: str, sample: Sample) -> None:
        self.latest[worker] = sample
        self.history.setdefault(worker, deque(maxlen=HISTORY)).append(sample)
        self.seen[worker] = seen = self.seen.get(worker, 0) + 1
        reason = saturation(sample) if seen > WARMUP_SAMPLES else None
        if reason is None:
            self.streak[worker] = 0
            self.saturated.pop(worker, None)
            return
        self.streak[worker] = streak = self.streak.get(worker, 0) + 1
        if streak < CONSECUTIVE:
            return
        if worker not in self.saturated:
            log.warning("worker %s is saturated (%s): its response times are inflated, add workers", worker, reason)
            self.warnings.append((worker, reason))
        self.saturated[worker] = reason

    def report(self) -> dict[str, Any]:
        """JSON-ready history for reports."""
        return {
            "workers": {w: list(h) for w, h in self.history.items()},
            "warnings": [{"worker": w, "reason": r} for w, r in self.warnings],
            "agents": self.agents,
        }


@dataclass
class Health:
    """The health state of one run (in its stash under :data:`HEALTH_STATE`)."""

    store: HealthStore
    requests: Requests
    collectors: list[Collector]
    greenlets: list[gevent.Greenlet] = field(default_factory=list)

    def stop(self) -> None:
        """End sampling and polling (at ``quitting``)."""
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        for collector in self.collectors:
            if isinstance(collector, LoopLag):
                collector.stop()


#: This part's key in the run's stash (:mod:`loadkit.run.context`).
HEALTH_STATE: StashKey[Health] = StashKey("health")


def on_quitting(environment: Environment, **_kw: Any) -> None:
    health = run_context(environment).get(HEALTH_STATE)
    if health is not None:
        health.stop()


def install(environment: Environment, counts: Any) -> Health:
    """Start sampling (worker/local), receiving (master) and agent polling (master/local).

    ``counts`` is the run's HDR recorder (requests and failures per second come from it, so
    health adds no request listener of its own); passed in, so fleet never imports stats.
    """
    runner = environment.runner
    options = environment.parsed_options
    interval = float(getattr(options, "loadkit_health_interval", 3.0) or 3.0)
    agents = list(getattr(options, "loadkit_agent", None) or [])
    requests = Requests(counts=counts)
    health = Health(HealthStore(), requests, [])
    run_context(environment)[HEALTH_STATE] = health
    if isinstance(runner, MasterRunner):
        messages.register_handler(runner, HEALTH, lambda _env, rep, node: health.store.add(node, rep.sample))
    else:
        health.collectors = [factory(environment) for factory in WORKER_COLLECTORS] + [requests]
        health.greenlets.append(gevent.spawn(_sample_loop, environment, health, interval))
    if agents and not isinstance(runner, WorkerRunner):
        health.greenlets.append(gevent.spawn(_poll_agents, health.store, agents, interval))
    return health


def _sample_loop(environment: Environment, health: Health, interval: float) -> None:
    runner = environment.runner
    while True:
        gevent.sleep(interval)
        sample = collect_all(health.collectors)
        if isinstance(runner, WorkerRunner):
            messages.send(runner, HEALTH, HealthReport(sample=sample))
        else:
            health.store.add(LOCAL, sample)


def poll_agent(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """One agent's ``/samples`` (latest sample only), or ``{"error": ...}`` if unreachable."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/samples", timeout=timeout) as resp:
            body = json.loads(resp.read())
        return {"latest": body.get("latest", {}), "host": body.get("host", ""), "polled": time.time()}
    except (OSError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "polled": time.time()}


def _poll_agents(store: HealthStore, urls: list[str], interval: float) -> None:
    while True:
        for url in urls:
            store.agents[url] = poll_agent(url)
        gevent.sleep(interval)
