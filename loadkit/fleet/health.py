"""Load-generator health on a Locust runner: sampled on workers, kept on the master.

Each worker (or the local process) samples its collectors every ``--loadkit-health-interval``
seconds; a worker sends its samples in its next stats report (Locust's ``report_to_master``,
every 3 s, under :data:`REPORT_KEY`; at most :data:`MAX_PER_REPORT`, the latest), not as a
message of their own: a message costs the master its fixed price (receive, unpack, check,
dispatch) whatever it carries, and a health message was one in five of what each worker sent
(a heartbeat a second, a stats report and a health sample every 3 s). The master's :class:`HealthStore`
keeps the latest sample and a bounded history per worker and logs a warning when a worker
saturates (the rule, start-up samples excluded, is :mod:`loadkit.fleet.saturation`) and stops
counting it at the first sample that is not. It also polls the ``loadkit agent`` URLs given by
``--loadkit-agent``.

Bounded at 1,000 workers (:mod:`loadkit.fleet.summary`): the history is kept per worker for
the first :data:`HISTORY_WORKERS` workers and for up to as many more that saturated (the
outliers), and for the whole fleet as one aggregate sample (min/p50/p90/max of each
figure) per :data:`FLEET_EVERY_S`. Bounded over a long run too: each history holds at most
:data:`HISTORY` samples spread over the whole run (:class:`~loadkit.fleet.history.Thinned`:
full after 20 minutes at the default 3 s interval, then one sample in 2, 4, … is kept), so
the master's memory stops growing early and the report of a long run covers all of it; the
first :data:`LOGGED_WARNINGS` saturations are logged one line each, later ones are counted and
listed (at most :data:`KEPT_WARNINGS`). A worker that left (quit, or missing: no heartbeat)
loses its latest sample and counters at the next check (every :data:`PRUNE_EVERY_S`), so a
fleet whose workers come and go keeps what its live workers need; a kept history stays (it is
bounded already).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit._locust import runners as locust_runners
from loadkit.fleet.collectors import WORKER_COLLECTORS, Collector, LoopLag, Requests, Sample, collect_all
from loadkit.fleet.history import Thinned
from loadkit.fleet.saturation import CONSECUTIVE, WARMUP_SAMPLES, saturation
from loadkit.fleet.summary import fleet_summary, worst
from loadkit.messages import HealthReport
from loadkit.run.context import StashKey, run_context

log = logging.getLogger("loadkit.fleet")

#: Samples kept per history (each thins itself as it fills: see the module docstring).
HISTORY = 400
#: Workers whose own history is kept (the first to report), and as many again for saturated ones.
HISTORY_WORKERS = 20
#: Seconds between two fleet aggregates in the history.
FLEET_EVERY_S = 3.0
#: Saturation warnings logged one line each; warnings kept for the report.
LOGGED_WARNINGS = 10
KEPT_WARNINGS = 200
LOCAL = "local"
#: Seconds between two checks for workers that left (see the module docstring).
PRUNE_EVERY_S = 30.0
#: Where a worker's samples ride in its stats report, and how many one report carries at most.
REPORT_KEY = "loadkit_health"
MAX_PER_REPORT = 10


@dataclass
class HealthStore:
    """Latest sample and history per worker; saturation episodes (pure, no I/O)."""

    latest: dict[str, Sample] = field(default_factory=dict)
    history: dict[str, Thinned[Sample]] = field(default_factory=dict)
    saturated: dict[str, str] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Samples received and saturated samples in a row, per worker (see the module docstring).
    seen: dict[str, int] = field(default_factory=dict)
    streak: dict[str, int] = field(default_factory=dict)
    #: One aggregate over the fleet's latest samples per :data:`FLEET_EVERY_S` (``time`` + summary).
    fleet: Thinned[dict[str, Any]] = field(default_factory=lambda: Thinned(HISTORY))
    #: When the last aggregate was made (kept or thinned away).
    fleet_at: float = 0.0
    #: Saturation episodes in all (``warnings`` keeps the first :data:`KEPT_WARNINGS`).
    warnings_total: int = 0
    outliers: int = 0

    def add(self, worker: str, sample: Sample) -> None:
        self.latest[worker] = sample
        history = self.history.get(worker)
        if history is None and len(self.history) < HISTORY_WORKERS:
            history = self.history[worker] = Thinned(HISTORY)
        if history is not None:
            history.append(sample)
        now = float(sample.get("time", 0.0)) or time.time()
        if now - self.fleet_at >= FLEET_EVERY_S:
            self.fleet_at = now
            self.fleet.append({"time": now, **fleet_summary(self.latest, self.saturated)})
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
            self._warn(worker, reason)
        self.saturated[worker] = reason

    def _warn(self, worker: str, reason: str) -> None:
        self.warnings_total += 1
        if self.warnings_total <= LOGGED_WARNINGS:
            log.warning("worker %s is saturated (%s): its response times are inflated, add workers", worker, reason)
        elif self.warnings_total == LOGGED_WARNINGS + 1:
            log.warning("more workers are saturated: counted in the Fleet tab and the report, not logged one by one")
        if len(self.warnings) < KEPT_WARNINGS:
            self.warnings.append((worker, reason))
        if worker not in self.history and self.outliers < HISTORY_WORKERS:  # an outlier: keep its history
            self.outliers += 1
            self.history[worker] = Thinned(HISTORY)

    def forget_departed(self, live: Collection[str]) -> list[str]:
        """Drop the latest sample, counters and saturation of workers not in ``live``; the ids dropped."""
        gone = [w for w in self.latest if w not in live]
        for worker in gone:
            del self.latest[worker]
            self.seen.pop(worker, None)
            self.streak.pop(worker, None)
            self.saturated.pop(worker, None)
        return gone

    def summary(self) -> dict[str, Any]:
        """The fleet in a few numbers (:func:`loadkit.fleet.summary.fleet_summary` of the latest samples)."""
        return fleet_summary(self.latest, self.saturated)

    def worst(self, limit: int) -> list[str]:
        """Up to ``limit`` workers, worst first (:func:`loadkit.fleet.summary.worst`)."""
        return worst(self.latest, self.saturated, limit)

    def report(self) -> dict[str, Any]:
        """JSON-ready history for reports: a few workers' own, the fleet's aggregate."""
        return {
            "workers": {w: list(h) for w, h in self.history.items()},
            "fleet": list(self.fleet),
            "summary": self.summary(),
            "warnings": [{"worker": w, "reason": r} for w, r in self.warnings],
            "warnings_total": self.warnings_total,
            "agents": self.agents,
        }


@dataclass
class Health:
    """The health state of one run (in its stash under :data:`HEALTH_STATE`)."""

    store: HealthStore
    requests: Requests
    collectors: list[Collector]
    greenlets: list[gevent.Greenlet] = field(default_factory=list)
    #: A worker's samples not yet sent (the next stats report takes them).
    outbox: list[Sample] = field(default_factory=list)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        """A worker's samples since its last report ride in this one (module docstring)."""
        if self.outbox:
            data[REPORT_KEY], self.outbox = self.outbox, []

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
        environment.events.worker_report.add_listener(_Receiver(runner, health.store).on_worker_report)
    else:
        health.collectors = [factory(environment) for factory in WORKER_COLLECTORS] + [requests]
        health.greenlets.append(gevent.spawn(_sample_loop, environment, health, interval))
        if isinstance(runner, WorkerRunner):
            environment.events.report_to_master.add_listener(health.on_report_to_master)
    if agents and not isinstance(runner, WorkerRunner):
        health.greenlets.append(gevent.spawn(_poll_agents, health.store, agents, interval))
    return health


class _Receiver:
    """The master's side: keeps the samples of each stats report, and forgets departed workers now and then."""

    def __init__(self, runner: MasterRunner, store: HealthStore) -> None:
        self.runner, self.store = runner, store
        self.next_check = time.monotonic() + PRUNE_EVERY_S
        self.warned: set[str] = set()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        samples = data.get(REPORT_KEY)
        if samples is None:
            return
        try:
            if not isinstance(samples, list) or len(samples) > MAX_PER_REPORT:
                raise ValueError(f"expected a list of at most {MAX_PER_REPORT} samples")
            reports = [HealthReport(sample=sample) for sample in samples]  # each checked (hostile input)
        except ValueError as exc:
            if client_id not in self.warned and len(self.warned) < 100:  # one line per worker, bounded
                self.warned.add(client_id)
                log.warning(
                    "loadkit: dropped malformed health samples from worker %s (more are dropped silently): %s",
                    client_id,
                    exc,
                )
            return
        for report in reports:
            self.add(client_id, report.sample)

    def add(self, node: str, sample: Sample) -> None:
        """Keep one checked sample; every :data:`PRUNE_EVERY_S`, forget the workers that left."""
        self.store.add(node, sample)
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + PRUNE_EVERY_S
            self.store.forget_departed(locust_runners.live_workers(self.runner))


def _sample_loop(environment: Environment, health: Health, interval: float) -> None:
    runner = environment.runner
    while True:
        gevent.sleep(interval)
        sample = collect_all(health.collectors)
        if isinstance(runner, WorkerRunner):
            health.outbox = [*health.outbox[1 - MAX_PER_REPORT :], sample]  # the latest, if reports stall
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
