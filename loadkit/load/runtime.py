"""The open model at run time: who schedules what, the fleet split, the counts.

One :class:`OpenModel` per environment (:func:`open_model_for`), wired by
:func:`loadkit.run.plugin.install`. Roles:

- **local runner**: at ``test_start`` it runs the whole schedule itself (slot 0 of 1).
- **master**: at ``test_start`` it picks the schedule's epoch (0.5 s ahead, so every plan
  arrives first), splits rate and pool over the live workers (:mod:`loadkit.load.split`)
  and sends each its ``loadkit:arrival_plan``. Every 0.25 s it re-checks who is live — in
  Locust's count (:func:`loadkit._locust.runners.connected_workers`) and heard from (``loadkit:arrival_status``) within
  2 s — and on any change sends new plans that take effect 0.3 s ahead, from one iteration
  index for everyone. Locust itself never moves users to survivors (without
  ``--enable-rebalancing``): this split does not depend on it.
- **worker**: runs its share (:class:`~loadkit.load.node.NodeScheduler`), sends its counts
  every 0.5 s and with each stats report (cumulative, so nothing is lost or counted twice).

Every request fired inside an iteration is re-timed from the iteration's intended start
(:func:`correct_latency`); for a late iteration its uncorrected time is also kept as a
facet entry (``<type>-service``, left out of totals like ``grpc-ttfm``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent import getcurrent
from locust.runners import MasterRunner, WorkerRunner

from loadkit import messages
from loadkit._locust.runners import connected_workers, override_user_count
from loadkit._locust.users import wrap_request_fire
from loadkit.exceptions import EXIT_OK
from loadkit.load.accounting import LATE_AFTER_S, FleetCounters, check_timeline, check_totals
from loadkit.load.node import NodeScheduler
from loadkit.load.pool import LATENESS_MS
from loadkit.load.profile import RateProfile, Stage
from loadkit.load.schedule import Assignment
from loadkit.load.settings import ArrivalSettings, from_options
from loadkit.load.split import Share, split_fleet
from loadkit.run.context import StashKey, run_context
from loadkit.run.stop import end_run
from loadkit.stats.facets import SERVICE_SUFFIX, is_facet

log = logging.getLogger("loadkit.load")

REPORT_KEY = "loadkit_load"
START_LEAD_S = 0.5
LOCAL_LEAD_S = 0.05
RESPLIT_LEAD_S = 0.3
POLL_S = 0.25
STATUS_INTERVAL_S = 0.5
STALE_AFTER_S = 2.0


#: This part's key in the run's stash (:mod:`loadkit.run.context`).
LOAD: StashKey[OpenModel] = StashKey("load")


def open_model_for(environment: Any) -> OpenModel:
    """The environment's open model (in its run's stash under :data:`LOAD`), created on first use."""
    stash = run_context(environment)
    model = stash.get(LOAD)
    if model is None:
        model = stash[LOAD] = OpenModel(environment)
    return model


def correct_latency(fire: Callable[..., None]) -> Callable[..., None]:
    """Wrap ``events.request.fire``: inside an iteration, time requests from its intended start.

    Every request of an iteration gets the iteration's lateness added (wrk2's correction). A
    request of a *late* iteration (more than :data:`LATE_AFTER_S` behind) also fires its
    uncorrected time as the facet ``<type>-service``; for an on-time one the two differ only
    by the scheduler's jitter, and skipping that second event keeps the open model's CPU
    per iteration at the closed model's (``bench/open_model.py``).
    """
    late_after_ms = LATE_AFTER_S * 1000.0
    lateness_of = LATENESS_MS.get

    def fire_corrected(**kwargs: Any) -> None:
        late = lateness_of(getcurrent())
        service = kwargs.get("response_time")
        if late is None or not isinstance(service, int | float):
            fire(**kwargs)
            return
        request_type = kwargs.get("request_type")
        if not isinstance(request_type, str) or is_facet(request_type):
            fire(**kwargs)  # a facet (time to first message) is part of a request: not re-timed
            return
        kwargs["response_time"] = service + late
        fire(**kwargs)
        if late > late_after_ms:
            fire(
                **{**kwargs, "request_type": request_type + SERVICE_SUFFIX, "response_time": service, "exception": None}
            )

    return fire_corrected


class OpenModel:
    """The open-model part of one environment; see the module docstring."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.settings: ArrivalSettings | None = None
        self.fleet = FleetCounters()
        self.node: NodeScheduler | None = None
        self._finished_node: NodeScheduler | None = None  # its last counts still go to the master
        self.run = ""
        self.epoch = 0.0
        self.ended_at: float | None = None
        self.profile: RateProfile | None = None
        self.shares: dict[str, Share] = {}
        self.resplits: list[dict[str, Any]] = []
        self._assigned_at: dict[str, float] = {}
        self._heard: dict[str, float] = {}
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._greenlets: list[gevent.Greenlet] = []

    # --- set-up ----------------------------------------------------------------------
    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    @property
    def is_master(self) -> bool:
        return isinstance(self.environment.runner, MasterRunner)

    @property
    def active(self) -> bool:
        return bool(self.run) and self.ended_at is None

    def install(self, check_users: bool) -> None:
        """Check the options (ConfigError before any load) and wire the messages."""
        env, runner = self.environment, self.environment.runner
        options = env.parsed_options
        if not self.is_worker and options is not None:
            self.settings = from_options(options, check_users=check_users)
            if self.settings is not None and getattr(options, "num_users", None) is None:
                options.num_users = 0  # headless: Locust starts no users of its own
        if runner is None:
            return
        if self.is_worker:
            messages.register_handler(runner, messages.ARRIVAL_PLAN, self._on_plan)
        else:
            override_user_count(runner, lambda n: 0 if self._requested() is not None else n)
            if self.is_master:
                messages.register_handler(runner, messages.ARRIVAL_STATUS, self._on_status)

    def _requested(self) -> ArrivalSettings | None:
        try:
            return from_options(self.environment.parsed_options)
        except Exception as exc:  # the web UI's form: say why and run closed-model instead
            log.error("loadkit: open model not started: %s", exc)
            return None

    # --- events ----------------------------------------------------------------------
    def on_test_start(self, environment: Any, **_kw: Any) -> None:
        if self.is_worker:
            return
        self._stop_all()
        self.settings = self._requested()
        if self.settings is None:
            self.run = ""
            return
        self.fleet.reset()
        self.resplits.clear()
        self._samples.clear()
        self.run, self.ended_at = uuid.uuid4().hex[:12], None
        self.profile = self.settings.profile()
        log.info("loadkit: open model, %s, pool of %d users", self.settings.describe(), self.settings.max_users)
        if self.is_master:
            self.epoch = time.time() + START_LEAD_S
            self.shares, self._assigned_at, self._heard = {}, {}, {}
            self._resplit(self._live_workers(), 0)
        else:
            self.epoch = time.time() + LOCAL_LEAD_S
            self.node = self._scheduler(Assignment(0, 0, 1), self.settings.max_users, self.settings.max_lateness_s)
        self._greenlets.append(gevent.spawn(self._monitor))
        if self.profile.duration != float("inf"):
            self._greenlets.append(gevent.spawn(self._end_after_profile, self.run))

    def on_test_stopping(self, environment: Any, **_kw: Any) -> None:
        """The run is being stopped: the schedule ends now (before any worker is drained)."""
        if self.active:
            self.ended_at = min(time.time(), self.epoch + (self.profile.duration if self.profile else 0.0))
            current = getcurrent()
            for greenlet in self._greenlets:  # the monitor must not re-split while workers leave
                if greenlet is not current:
                    greenlet.kill(block=False)

    def on_test_stop(self, environment: Any, **_kw: Any) -> None:
        self.on_test_stopping(environment)
        if self.is_master and self.run:  # a closed-model run has no schedule (and ArrivalPlan refuses run="")
            stop = messages.ArrivalPlan(self.run, False)
            for worker in self.shares:
                messages.send(self.environment.runner, messages.ARRIVAL_PLAN, stop, worker)
            self.shares = {}
        self._stop_all()

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        node = self.node or self._finished_node
        if node is not None:
            timeline = node.counters.take_timeline()
            data[REPORT_KEY] = {"run": node.run, "totals": node.counters.totals(), "timeline": timeline}

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        part = data.get(REPORT_KEY)
        if part is None or not self.run:
            return
        try:
            if not isinstance(part, dict) or part.get("run") != self.run:
                return  # another schedule's (or not a mapping: checked below)
            self.fleet.update(client_id, check_totals(part.get("totals")), check_timeline(part.get("timeline", {})))
        except (ValueError, TypeError) as exc:
            log.warning("dropped malformed open-model report from worker %s: %s", client_id, exc)

    # --- worker ----------------------------------------------------------------------
    def _on_plan(self, environment: Any, plan: messages.ArrivalPlan, node_id: str) -> None:
        if not plan.active:
            if self.node is not None and self.node.run == plan.run:
                self._stop_all()
            return
        assignment = Assignment(plan.from_iteration, plan.slot if plan.slot >= 0 else None, plan.slots)
        if self.node is not None and self.node.run == plan.run:
            self.node.reassign(assignment, plan.pool)
            return
        self._stop_all()
        if plan.host:  # as Locust's worker applies its spawn message's host, before any user exists
            environment.host = plan.host
            for user_class in environment.user_classes:
                user_class.host = plan.host
        self.run, self.epoch = plan.run, plan.epoch
        stages = tuple(Stage(float(d), float(t)) for d, t in plan.stages)
        self.profile = RateProfile.constant(plan.rate) if plan.rate is not None else RateProfile.ramping(stages)
        self.node = self._scheduler(assignment, plan.pool, plan.max_lateness_s)
        self._greenlets.append(gevent.spawn(self._send_status, plan.run))

    def _send_status(self, run: str) -> None:
        runner = self.environment.runner
        while self.node is not None and self.node.run == run:
            counters = self.node.counters  # a SIGKILL loses at most this interval's starts
            status = messages.ArrivalStatus(run, counters.totals(), counters.take_timeline())
            messages.send(runner, messages.ARRIVAL_STATUS, status)
            gevent.sleep(STATUS_INTERVAL_S)

    # --- master ----------------------------------------------------------------------
    def _on_status(self, environment: Any, status: messages.ArrivalStatus, node_id: str) -> None:
        if status.run != self.run:
            return
        try:
            self.fleet.update(node_id, check_totals(status.totals), check_timeline(status.timeline))
        except ValueError as exc:
            log.warning("dropped malformed open-model status from worker %s: %s", node_id, exc)
            return
        self._heard[node_id] = time.monotonic()

    def _live_workers(self) -> list[str]:
        now = time.monotonic()
        live = []
        for node in connected_workers(self.environment.runner):
            since = self._assigned_at.get(node.id)
            if since is not None and now - max(self._heard.get(node.id, since), since) > STALE_AFTER_S:
                continue  # given a share but silent since: dead or stuck (Locust notices only after ~4 s)
            live.append(node.id)
        return live

    def _resplit(self, live: list[str], from_iteration: int | None = None) -> None:
        assert self.settings is not None and self.profile is not None
        now_s = time.time() - self.epoch
        if from_iteration is None:
            from_iteration = self.profile.first_due_at_or_after(max(now_s + RESPLIT_LEAD_S, 0.0))
        shares = split_fleet(live, self.settings.max_users)
        gone = [w for w in self.shares if w not in shares]
        for worker in gone:
            shares_gone = Share(None, 0, 0)
            self._send_plan(worker, shares_gone, from_iteration)
        for worker, share in shares.items():
            self._send_plan(worker, share, from_iteration)
            self._assigned_at.setdefault(worker, time.monotonic())
        self.shares = shares
        self.resplits.append({"at_s": round(now_s, 3), "workers": len(shares), "from_iteration": from_iteration})
        log.info(
            "loadkit: open model split over %d worker(s) from iteration %d: pools %s",
            len(shares),
            from_iteration,
            sorted(s.pool for s in shares.values()),
        )

    def _send_plan(self, worker: str, share: Share, from_iteration: int) -> None:
        assert self.settings is not None
        settings = self.settings
        plan = messages.ArrivalPlan(
            run=self.run,
            active=True,
            epoch=self.epoch,
            rate=settings.rate,
            stages=[[s.duration, s.target] for s in settings.stages],
            max_lateness_s=settings.max_lateness_s,
            from_iteration=from_iteration,
            slot=-1 if share.slot is None else share.slot,
            slots=share.slots,
            pool=share.pool,
            host=self.environment.host or "",
        )
        messages.send(self.environment.runner, messages.ARRIVAL_PLAN, plan, worker)

    # --- both ------------------------------------------------------------------------
    def _scheduler(self, assignment: Assignment, pool: int, max_lateness_s: float) -> NodeScheduler:
        assert self.profile is not None
        env, profile = self.environment, self.profile
        # Only a node that runs iterations re-times requests: a closed-model run keeps Locust's fire.
        wrap_request_fire(env, correct_latency)
        return NodeScheduler(env, env.user_classes, self.run, profile, self.epoch, assignment, pool, max_lateness_s)

    def _monitor(self) -> None:
        """Sample the fleet's starts (the live achieved rate); on a master, re-split on changes."""
        while self.active:
            self._samples.append((time.monotonic(), self._started()))
            if self.is_master:
                live = self._live_workers()
                if set(live) != set(self.shares):
                    self._resplit(live)
            gevent.sleep(POLL_S)

    def _end_after_profile(self, run: str) -> None:
        assert self.profile is not None
        gevent.sleep(max(self.epoch + self.profile.duration - time.time(), 0.0) + 0.5)
        if self.run != run or self.environment.runner is None:
            return
        # No verdict of its own (Locust's, or the thresholds'); headless quits, the web UI stops.
        end_run(self.environment, EXIT_OK, "loadkit: the last arrival stage ended, stopping the test")

    def _stop_all(self) -> None:
        current = getcurrent()
        for greenlet in self._greenlets:
            if greenlet is not current:
                greenlet.kill(block=False)
        self._greenlets = []
        if self.node is not None:
            node, self.node = self.node, None
            self._finished_node = node
            node.stop()  # first: no iteration starts after the counts below
            if not self.is_master and not self.is_worker:
                self.fleet.update("local", node.counters.totals(), {})
                self._merge_local_timeline(node)

    def _merge_local_timeline(self, node: NodeScheduler) -> None:
        if not self.is_worker:
            for second, count in node.counters.take_timeline().items():
                self.fleet.timeline[int(second)] += count

    def _started(self) -> int:
        if self.node is not None and not self.is_worker and not self.is_master:
            return self.node.counters.started
        return int(sum(t["started"] for t in self.fleet.nodes.values()))

    # --- views -----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The run's model and, for the open model, targets, achieved rate and iteration counts."""
        if not self.run or self.settings is None or self.profile is None:
            return {"model": "closed"}
        if self.node is not None and not self.is_worker and not self.is_master:
            self.fleet.update("local", self.node.counters.totals(), {})
            self._merge_local_timeline(self.node)
        end = self.ended_at if self.ended_at is not None else min(time.time(), self.epoch + self.profile.duration)
        elapsed = max(end - self.epoch, 0.0)
        counts = self.fleet.summary(elapsed if elapsed > 0 else None)
        target = self.profile.cumulative(elapsed)
        now_rate = None
        if len(self._samples) >= 2 and self.active:
            (t0, n0), (t1, n1) = self._samples[max(len(self._samples) - 9, 0)], self._samples[-1]
            now_rate = (n1 - n0) / (t1 - t0) if t1 > t0 else None
        return {
            "model": "open",
            "profile": self.settings.describe(),
            "arrival_rate": self.settings.rate,
            "arrival_stages": [[s.duration, s.target] for s in self.settings.stages],
            "max_users": self.settings.max_users,
            "max_lateness_s": self.settings.max_lateness_s,
            "epoch": self.epoch,
            "elapsed_s": elapsed,
            "target_iterations": target,
            "target_rate": target / elapsed if elapsed > 0 else None,
            "target_rate_now": self.profile.rate_at(time.time() - self.epoch) if self.active else None,
            "achieved_rate_now": now_rate,
            **counts,
            "workers": self.resplits[-1]["workers"] if self.resplits else (None if self.is_master else 1),
            "resplits": list(self.resplits),
            "nodes": {node: int(totals["started"]) for node, totals in self.fleet.nodes.items()},
            "per_second": [[s, n] for s, n in self.fleet.per_second()],
        }
