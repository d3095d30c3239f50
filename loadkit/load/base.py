"""What the open model's roles share: a run's state and its end, and the schedule's owner.

:class:`BaseModel` is every role's state for one schedule (``run``): its settings and profile,
the fleet's counts, this process's :class:`~loadkit.load.node.NodeScheduler` if it runs
iterations, the greenlets it started, and the summary the reports and the web UI read.
:class:`LeadModel` adds what the process that owns the schedule does, the local runner and
the master alike: read the options, start a schedule at ``test_start``, sample the achieved
rate, and end the run when the last stage is over. The roles themselves are
:mod:`loadkit.load.local`, :mod:`loadkit.load.master` and :mod:`loadkit.load.worker`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any

import gevent
from gevent import getcurrent

from loadkit._locust.runners import override_user_count
from loadkit._locust.users import wrap_request_fire
from loadkit.exceptions import EXIT_OK
from loadkit.load.accounting import FleetCounters, check_timeline, check_totals
from loadkit.load.node import NodeScheduler, correct_latency
from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment
from loadkit.load.settings import ArrivalSettings, from_options
from loadkit.run.stop import end_run

log = logging.getLogger("loadkit.load")

#: Key of the open model's counts inside Locust's worker ``stats`` report.
REPORT_KEY = "loadkit_load"
#: How often the achieved rate is sampled (and a master re-checks its workers), seconds.
POLL_S = 0.25


class BaseModel:
    """One role's part of an open-model run; the roles subclass it (see :mod:`loadkit.load.runtime`)."""

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
        self.resplits: list[dict[str, Any]] = []
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._greenlets: list[gevent.Greenlet] = []

    @property
    def active(self) -> bool:
        return bool(self.run) and self.ended_at is None

    def busy(self) -> bool:
        """True while this role keeps workers busy with no Locust users (only a master's schedule does)."""
        return False

    def install(self, check_users: bool) -> None:
        """Check the options (ConfigError before any load) and wire the messages."""

    # --- events (every role subscribes the same listeners) ----------------------------
    def on_test_start(self, environment: Any, **_kw: Any) -> None:
        """A test starts: a schedule's owner starts one (:class:`LeadModel`)."""

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
        self._stop_all()

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        """A worker's stats report (only a worker sends one)."""

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        """A worker's stats report arrived (only a master receives one)."""

    # --- shared ----------------------------------------------------------------------
    def _scheduler(self, assignment: Assignment, pool: int, max_lateness_s: float) -> NodeScheduler:
        """This process's node: it runs ``assignment``'s iterations on a pool of up to ``pool`` users."""
        assert self.profile is not None
        env, profile = self.environment, self.profile
        # Only a node that runs iterations re-times requests: a closed-model run keeps Locust's fire.
        wrap_request_fire(env, correct_latency)
        return NodeScheduler(env, env.user_classes, self.run, profile, self.epoch, assignment, pool, max_lateness_s)

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
            self._node_stopped(node)

    def _node_stopped(self, node: NodeScheduler) -> None:
        """This process's node has stopped (its final counts are in ``node.counters``)."""

    def _merge_report(self, node_id: str, totals: Any, timeline: Any, reported: bool = False) -> None:
        """Take a node's cumulative counts (raises ValueError/TypeError on a malformed one).

        ``reported``: from a stats report, else a status message (:mod:`loadkit.load.accounting`).
        """
        self.fleet.update(node_id, check_totals(totals), check_timeline(timeline), reported)

    # --- views -----------------------------------------------------------------------
    def _refresh(self) -> None:
        """Bring :attr:`fleet` up to date before a summary (the local role's own node)."""

    def iterations_started(self) -> int:
        """Iterations started so far, fleet-wide (the achieved rate's samples)."""
        return int(sum(t["started"] for t in self.fleet.nodes.values()))

    def _workers(self) -> int | None:
        """The summary's worker count when there was no split: one process runs it all."""
        return 1

    def summary(self) -> dict[str, Any]:
        """The run's model and, for the open model, targets, achieved rate and iteration counts."""
        if not self.run or self.settings is None or self.profile is None:
            return {"model": "closed"}
        self._refresh()
        end = self.ended_at if self.ended_at is not None else min(time.time(), self.epoch + self.profile.duration)
        elapsed = max(end - self.epoch, 0.0)
        counts = self.fleet.summary(elapsed if elapsed > 0 else None, self._gap_dropped())
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
            "workers": self.resplits[-1]["workers"] if self.resplits else self._workers(),
            "resplits": list(self.resplits),
            "nodes": {node: int(totals["started"]) for node, totals in self.fleet.nodes.items()},
            "per_second": [[s, n] for s, n in self.fleet.per_second()],
            **self._gap_summary(),
        }

    def _gap_dropped(self) -> int:
        """Iterations nobody ran while the master was gone (only a resumed master has any)."""
        return 0

    def _gap_summary(self) -> dict[str, Any]:
        """The summary's ``master_gaps`` (only a resumed master has them)."""
        return {}

    def checkpoint(self) -> dict[str, Any] | None:
        """The schedule for the master's state file (only a master keeps one; :mod:`loadkit.load.restart`)."""
        return None

    def restore(self, data: Any) -> None:
        """Take back the schedule a state file kept (only a master resumes)."""


class LeadModel(BaseModel):
    """The schedule's owner (local runner or master): options, start, live rate, end."""

    def install(self, check_users: bool) -> None:
        options = self.environment.parsed_options
        if options is not None:
            self.settings = from_options(options, check_users=check_users)
            if self.settings is not None and getattr(options, "num_users", None) is None:
                options.num_users = 0  # headless: Locust starts no users of its own
        runner = self.environment.runner
        if runner is not None:
            override_user_count(runner, lambda n: 0 if self._requested() is not None else n)
            self._wire(runner)

    def _wire(self, runner: Any) -> None:
        """Register the role's message handlers on ``runner``."""

    def _requested(self) -> ArrivalSettings | None:
        try:
            return from_options(self.environment.parsed_options)
        except Exception as exc:  # the web UI's form: say why and run closed-model instead
            log.error("loadkit: open model not started: %s", exc)
            return None

    def on_test_start(self, environment: Any, **_kw: Any) -> None:
        self._stop_all()
        self.settings = self._requested()
        if self.settings is None:
            self.run = ""
            return
        self._samples.clear()
        self.run, self.ended_at = self.begin_run(), None
        self.profile = self.settings.profile()
        log.info("loadkit: open model, %s, pool of %d users", self.settings.describe(), self.settings.max_users)
        self._start(self.settings)
        self._greenlets.append(gevent.spawn(self._monitor))
        if self.profile.duration != float("inf"):
            self._greenlets.append(gevent.spawn(self._end_after_profile, self.run))

    def begin_run(self) -> str:
        """The new schedule's ``run`` id; its counts start empty (a resuming master keeps its own)."""
        self.fleet.reset()
        self.resplits.clear()
        return uuid.uuid4().hex[:12]

    def _start(self, settings: ArrivalSettings) -> None:
        """Start the new schedule ``self.run``: set its epoch and give out its iterations."""
        raise NotImplementedError

    def _check_fleet(self) -> None:
        """Called every :data:`POLL_S` while the schedule runs (a master re-splits on a change)."""

    def _monitor(self) -> None:
        """Sample the fleet's starts (the live achieved rate); let the role check its fleet."""
        while self.active:
            self._samples.append((time.monotonic(), self.iterations_started()))
            self._check_fleet()
            gevent.sleep(POLL_S)

    def _end_after_profile(self, run: str) -> None:
        assert self.profile is not None
        gevent.sleep(max(self.epoch + self.profile.duration - time.time(), 0.0) + 0.5)
        if self.run != run or self.environment.runner is None:
            return
        # No verdict of its own (Locust's, or the thresholds'); headless quits, the web UI stops.
        end_run(self.environment, EXIT_OK, "loadkit: the last arrival stage ended, stopping the test")
