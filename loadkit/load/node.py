"""One node's scheduler: starts its iterations at their intended times on pool users.

Runs on a worker (or a local runner). The schedule's origin is a ``perf_counter`` time,
derived once from the plan's wall-clock epoch, and every iteration ``k`` is due at
``origin + profile.due(k)``: absolute times on a monotonic clock, so nothing drifts however
long the run. When the pool has no free user at that time the iteration waits for the
first one freed and starts late (its requests are timed from the intended start; see
:mod:`loadkit.load.pool`); one that cannot start within ``max_lateness`` is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import gevent
from gevent.event import Event

from loadkit.load.accounting import NodeCounters
from loadkit.load.pool import UserPool
from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment, NodeSchedule

log = logging.getLogger("loadkit.load")

#: Longest single sleep of the scheduler: a re-split arriving meanwhile is seen this soon.
_MAX_SLEEP_S = 0.05


class NodeScheduler:
    """The iterations of one node in one schedule (``run``); :meth:`stop` ends it."""

    def __init__(
        self,
        environment: Any,
        user_classes: Sequence[type],
        run: str,
        profile: RateProfile,
        epoch: float,
        assignment: Assignment,
        pool_size: int,
        max_lateness_s: float,
    ) -> None:
        self.run = run
        self.epoch = epoch
        # perf_counter time of the schedule's t = 0, from the wall-clock epoch, once.
        self.origin = perf_counter() - (time.time() - epoch)
        self.schedule = NodeSchedule(profile, assignment)
        self.counters = NodeCounters()
        self.max_lateness_s = max_lateness_s
        #: When not None, every start error (s) is appended (bench/open_model.py).
        self.start_errors: list[float] | None = None
        self.pool = UserPool(environment, user_classes, pool_size, self._on_start)
        self._generation = 0
        self._wake = Event()
        self._greenlet = gevent.spawn(self._loop)
        self.finished = Event()

    def reassign(self, assignment: Assignment, pool_size: int) -> None:
        """A re-split: this node's share from ``assignment.start`` on, and its pool size."""
        self.schedule.reassign(assignment)
        self.pool.resize(pool_size)
        self._generation += 1
        self._wake.set()

    def stop(self) -> None:
        self._greenlet.kill(block=False)
        self.pool.close(timeout=5)
        self.finished.set()

    def _on_start(self, lateness_s: float, started: float) -> None:
        self.counters.on_start(lateness_s, int(started - self.origin))
        if self.start_errors is not None:
            self.start_errors.append(lateness_s)

    def _loop(self) -> None:
        schedule, pool, origin = self.schedule, self.pool, self.origin
        try:
            while True:
                nxt = schedule.next()
                if nxt is None:
                    if schedule.profile.due(schedule.position) is None:
                        return  # the profile ended
                    self._wake.clear()
                    self._wake.wait()  # nothing owned until a re-split
                    continue
                k, due = nxt
                at = origin + due
                generation = self._generation
                while (wait := at - perf_counter()) > 0 and generation == self._generation:
                    gevent.sleep(min(wait, _MAX_SLEEP_S))
                if generation != self._generation:
                    schedule.rewind(k)  # a re-split came while waiting: is k still ours?
                    continue
                member = pool.acquire(at + self.max_lateness_s)
                if member is None:
                    self.counters.on_drop()
                    continue
                member.hand(at)
        finally:
            self.finished.set()
