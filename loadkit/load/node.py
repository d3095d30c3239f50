"""One node's part of the schedule: its iterations, its pool of users, its counts.

Runs on a worker (or a local runner). The schedule's origin is a ``perf_counter`` time,
derived once from the plan's wall-clock epoch, and iteration ``k`` is due at
``origin + profile.due(k)``: absolute times on a monotonic clock, so nothing drifts however
long the run. The pool users (:mod:`loadkit.load.pool`) take the node's iterations in
order and start each at its time, late when none was free, dropped past ``max_lateness``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from loadkit.load.accounting import NodeCounters
from loadkit.load.pool import PoolUser
from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment, NodeSchedule

#: How long iterations in flight when the run stops may take to finish (seconds).
STOP_GRACE_S = 1.0
#: Pause before a pool that lost its last user (``on_start`` or a task raised, or ``StopUser``)
#: gets a new one: the schedule goes on (late iterations start or are dropped and counted)
#: without a hot loop of users that fail at once.
REPLACE_AFTER_S = 1.0
#: At most this many iterations nobody took are counted as dropped when the schedule ends.
_MAX_UNTAKEN = 1_000_000


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
        self.environment = environment
        self.run = run
        self.epoch = epoch
        # perf_counter time of the schedule's t = 0, from the wall-clock epoch, once.
        self.origin = perf_counter() - (time.time() - epoch)
        self.schedule = NodeSchedule(profile, assignment)
        self.counters = NodeCounters()
        self.max_lateness_s = max_lateness_s
        self.size = pool_size
        #: When not None, every start error (s) is appended (bench/open_model.py).
        self.start_errors: list[float] | None = None
        self.members: set[PoolUser] = set()
        self.idle = 0  # users holding a future iteration (or waiting for a re-split)
        self.generation = 0
        self.stopping = False
        self.reassigned = Event()
        self.group = Group()
        self._resplits: list[int] = []  # from-iteration of each re-split, by generation
        self._classes = list(user_classes)
        self._credit = [0.0] * len(self._classes)
        self.add_user()

    @property
    def over(self) -> bool:
        return self.schedule.profile.due(self.schedule.position) is None

    def resplit_from(self, generation: int) -> int:
        """The lowest index dealt again by the re-splits after ``generation``."""
        return min(self._resplits[generation:])

    def reassign(self, assignment: Assignment, pool_size: int) -> None:
        """A re-split: this node's share from ``assignment.start`` on, and its pool size.

        Indices from there on that users already hold are dealt again (each user sees the
        generation change and lets its index go), so none is run twice or missed.
        """
        self.schedule.reassign(assignment)
        self.schedule.rewind(assignment.start)
        self._resplits.append(assignment.start)
        self.generation += 1
        self.size = pool_size
        woken, self.reassigned = self.reassigned, Event()
        woken.set()
        if self.idle == 0:
            self.add_user()

    def add_user(self) -> None:
        """Create a pool user if the pool has room (on demand: a free one holds the next iteration)."""
        if len(self.members) >= self.size:
            return
        member = PoolUser(self, self._next_class())
        self.members.add(member)
        self.group.spawn(member.run)

    def on_member_left(self) -> None:
        """A user left the pool mid-run: with none left, a new one comes after :data:`REPLACE_AFTER_S`."""
        if not self.stopping and not self.members:
            self.group.spawn(self._replace_later)

    def _replace_later(self) -> None:
        gevent.sleep(REPLACE_AFTER_S)
        if not self.stopping and not self.members:
            self.add_user()

    def on_start(self, lateness_s: float, started: float) -> None:
        self.counters.on_start(lateness_s, int(started - self.origin))
        if self.start_errors is not None:
            self.start_errors.append(lateness_s)

    def stop(self) -> None:
        """End the schedule: iterations in flight get :data:`STOP_GRACE_S` to finish, then are killed.

        Users leave through ``on_stop`` either way; a request cut off by the kill is not recorded.
        The node's iterations that no user ever took (every user busy, or none left) and that
        were already more than ``max_lateness`` overdue at the stop are counted as dropped, as a
        user would have dropped them; those less overdue simply had no time left to start.
        """
        stopped_at = perf_counter() - self.origin
        self.stopping = True
        self.reassigned.set()
        self.group.join(timeout=STOP_GRACE_S)
        self.group.kill(block=True, timeout=5)
        self.members.clear()
        self.counters.on_drop(self._untaken_before(stopped_at - self.max_lateness_s))

    def _untaken_before(self, t: float) -> int:
        """How many of this node's iterations due before ``t`` no user took (the schedule advances past them)."""
        count = 0
        while count < _MAX_UNTAKEN:
            nxt = self.schedule.next()
            if nxt is None or nxt[1] >= t:
                break
            count += 1
        return count

    def _next_class(self) -> type:
        """Smooth weighted round robin over the classes' ``weight`` (as nginx balances upstreams)."""
        weights = [max(float(getattr(cls, "weight", 1) or 0), 0.0) for cls in self._classes]
        if not any(weights):
            weights = [1.0] * len(weights)
        best = 0
        for i, weight in enumerate(weights):
            self._credit[i] += weight
            if self._credit[i] > self._credit[best]:
                best = i
        self._credit[best] -= sum(weights)
        return self._classes[best]
