"""One node's part of the schedule: its iterations, its pool of users, its counts.

Runs on a worker (or a local runner). The schedule's origin is a ``perf_counter`` time,
derived once from the plan's wall-clock epoch, and iteration ``k`` is due at
``origin + profile.due(k)``: absolute times on a monotonic clock, so nothing drifts however
long the run.

A :class:`PoolUser` is one instance of a user class (picked by ``weight``) with its own
greenlet. It runs ``on_start`` once, then loops: take the node's next iteration, sleep until
its intended time, run ONE task (Locust's own selection, weights and TaskSets; ``wait_time``
does not apply), take the next. Iterations are dealt in order, so an iteration no free user
could take on time is taken by the first user that frees up — late — and one that would
start more than ``--max-lateness`` late is dropped.

Each user sleeps for its own iteration (as a closed-model user sleeps its ``wait_time``), so
an iteration costs one timer and no hand-over between greenlets: the open model's CPU per
iteration is the closed model's (``bench/open_model.py``). The node keeps one free user
holding the next iteration when it can, creating users on demand up to its pool size.

The bookkeeping is the node's: a pool user only asks it (:meth:`NodeScheduler.take`,
:meth:`~NodeScheduler.wait_until`, :meth:`~NodeScheduler.begin`, :meth:`~NodeScheduler.left`,
...), so who is idle, who is a member and what is counted is decided in one class.

While an iteration runs, :data:`LATENESS_MS` maps the user's greenlet to how late it started
(ms); :func:`correct_latency` adds that to every request the iteration fires, so latency counts
from the intended start (wrk2's correction).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import gevent
from gevent import getcurrent
from gevent.event import Event
from gevent.pool import Group
from locust.exception import StopTest, StopUser

from loadkit._locust.users import TaskStack, run_one_task
from loadkit.load.accounting import LATE_AFTER_S, NodeCounters
from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment, NodeSchedule
from loadkit.stats.facets import SERVICE_SUFFIX, is_facet

log = logging.getLogger("loadkit.load")

#: How long iterations in flight when the run stops may take to finish (seconds).
STOP_GRACE_S = 1.0
#: Pause before a pool that lost its last user (``on_start`` or a task raised, or ``StopUser``)
#: gets a new one: the schedule goes on (late iterations start or are dropped and counted)
#: without a hot loop of users that fail at once.
REPLACE_AFTER_S = 1.0
#: At most this many iterations nobody took are counted as dropped when the schedule ends.
_MAX_UNTAKEN = 1_000_000
#: Longest single sleep of a waiting user: a re-split arriving meanwhile is seen this soon.
_MAX_SLEEP_S = 0.05

#: Greenlet of a pool user running an iteration -> that iteration's lateness in ms.
LATENESS_MS: dict[Any, float] = {}


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
        self._reassigned = Event()
        self._group = Group()
        self._resplits: list[int] = []  # from-iteration of each re-split, by generation
        self._classes = list(user_classes)
        self._credit = [0.0] * len(self._classes)
        self.add_user()

    # --- the master's (or the local role's) side -------------------------------------
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
        woken, self._reassigned = self._reassigned, Event()
        woken.set()
        if self.idle == 0:
            self.add_user()

    def stop(self) -> None:
        """End the schedule: iterations in flight get :data:`STOP_GRACE_S` to finish, then are killed.

        Users leave through ``on_stop`` either way; a request cut off by the kill is not recorded.
        The node's iterations that no user ever took (every user busy, or none left) and that
        were already more than ``max_lateness`` overdue at the stop are counted as dropped, as a
        user would have dropped them; those less overdue simply had no time left to start.
        """
        stopped_at = perf_counter() - self.origin
        self.stopping = True
        self._reassigned.set()
        self._group.join(timeout=STOP_GRACE_S)
        self._group.kill(block=True, timeout=5)
        self.members.clear()
        self.counters.on_drop(self._untaken_before(stopped_at - self.max_lateness_s))

    def add_user(self) -> None:
        """Create a pool user if the pool has room (on demand: a free one holds the next iteration)."""
        if len(self.members) >= self.size:
            return
        member = PoolUser(self, self._next_class())
        self.members.add(member)
        self._group.spawn(member.run)

    # --- what a pool user asks -------------------------------------------------------
    def leaving(self) -> bool:
        """True when a user should leave: the pool shrank (a re-split), or the run ends."""
        return len(self.members) > self.size or self.stopping

    def take(self) -> tuple[int, float] | None:
        """The next iteration of this node: its index and when it is due (``perf_counter`` time)."""
        nxt = self.schedule.next()
        if nxt is None:
            return None
        k, due = nxt
        return k, self.origin + due

    def wait_for_resplit(self) -> bool:
        """Nothing left to take: False when the profile is over, else wait for a re-split (True)."""
        if self.schedule.profile.due(self.schedule.position) is None:
            return False
        self.idle += 1
        try:
            self._reassigned.wait()  # nothing owned until a re-split
        finally:
            self.idle -= 1
        return True

    def wait_until(self, at: float, generation: int) -> bool:
        """Sleep until ``at``, idle meanwhile; a re-split (a new generation) ends the wait early.

        False when the run ends meanwhile: the user leaves without starting its iteration.
        """
        self.idle += 1
        try:
            while (wait := at - perf_counter()) > 0 and generation == self.generation and not self.stopping:
                gevent.sleep(min(wait, _MAX_SLEEP_S))
        finally:
            self.idle -= 1
        return not self.stopping

    def still_ours(self, k: int, generation: int) -> bool:
        """False when a re-split after ``generation`` dealt index ``k`` again (not ours to run)."""
        return generation == self.generation or k < min(self._resplits[generation:])

    def begin(self, at: float) -> float | None:
        """An iteration due at ``at`` starts now: its lateness (s), or None when it is dropped.

        Dropped (and counted) past ``max_lateness``; counted as started otherwise, and with no
        user left holding the next iteration a new one is created (up to the pool size).
        """
        started = perf_counter()
        lateness = started - at if started > at else 0.0
        if lateness > self.max_lateness_s:
            self.counters.on_drop()
            return None
        self.counters.on_start(lateness, int(started - self.origin))
        if self.start_errors is not None:
            self.start_errors.append(lateness)
        if self.idle == 0:
            self.add_user()  # someone must hold the next iteration
        return lateness

    def left(self, member: PoolUser) -> None:
        """``member`` left the pool: with none left mid-run, a new one comes after :data:`REPLACE_AFTER_S`."""
        self.members.discard(member)
        if not self.stopping and not self.members:
            self._group.spawn(self._replace_later)

    # --- inside ----------------------------------------------------------------------
    def _replace_later(self) -> None:
        gevent.sleep(REPLACE_AFTER_S)
        if not self.stopping and not self.members:
            self.add_user()

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


class PoolUser:
    """One user instance and its greenlet; see the module docstring."""

    __slots__ = ("node", "tasks", "user", "user_class")

    def __init__(self, node: NodeScheduler, user_class: type) -> None:
        self.node = node
        self.user_class = user_class
        self.user: Any = None
        self.tasks: TaskStack | None = None

    def run(self) -> None:
        env = self.node.environment
        try:
            # Created in its own greenlet, as Locust creates users: after the runner set
            # the class's host at the start of the run.
            self.user = self.user_class(env)
            self.tasks = TaskStack(self.user)
            try:
                self.user.on_start()
            except (StopUser, StopTest):
                raise
            except Exception as exc:
                log.error("%s\n%s", exc, traceback.format_exc())
                env.events.user_error.fire(user_instance=self.user, exception=exc, tb=exc.__traceback__)
                raise StopUser() from exc
            while self._one(env):
                pass
        except StopUser:
            pass
        finally:
            self.node.left(self)
            try:
                if self.user is not None:
                    self.user.on_stop()
            except Exception:
                log.error("Uncaught exception in on_stop:\n%s", traceback.format_exc())
            _close_http(self.user)

    def _one(self, env: Any) -> bool:
        """Take, wait for and run (or drop) one iteration; False: this user leaves the pool."""
        node = self.node
        if node.leaving():
            return False
        generation = node.generation
        taken = node.take()
        if taken is None:
            return node.wait_for_resplit()
        k, at = taken
        if not node.wait_until(at, generation):
            return False
        if not node.still_ours(k, generation):
            return True  # a re-split dealt this index again: not ours to run
        lateness = node.begin(at)
        if lateness is None:
            return True  # dropped (counted by the node)
        me = gevent.getcurrent()
        LATENESS_MS[me] = lateness * 1000.0
        try:
            run_one_task(self.tasks)  # type: ignore[arg-type]
        except (StopUser, StopTest, gevent.GreenletExit):
            raise
        except Exception as exc:
            env.events.user_error.fire(user_instance=self.user, exception=exc, tb=exc.__traceback__)
            if not env.catch_exceptions:
                raise
            log.error("%s\n%s", exc, traceback.format_exc())
        finally:
            LATENESS_MS.pop(me, None)
        return True


def _close_http(user: Any) -> None:
    """Close a leaving user's HTTP session (``HttpUser``): its pooled sockets go with it."""
    import requests

    client = getattr(user, "client", None)
    if isinstance(client, requests.Session):
        client.close()
