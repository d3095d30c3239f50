"""The pool of user instances an open-model run takes its iterations' users from.

Users are created when an iteration needs one and none is free, up to the node's share
of ``--max-users``; each runs ``on_start`` once, in its own greenlet, then waits for
iterations. An iteration is ONE task of that user (Locust's own selection, weights and
TaskSets; ``wait_time`` does not apply), started at the time the scheduler hands it over.

While an iteration runs, :data:`LATENESS_MS` maps the user's greenlet to how late the
iteration started (ms); :mod:`loadkit.load.runtime` adds that to every request the
iteration fires, so latency counts from the intended start (wrk2's correction).
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group
from gevent.queue import Queue
from locust.exception import StopTest, StopUser

from loadkit._locust import TaskStack, run_one_task

log = logging.getLogger("loadkit.load")

#: Greenlet of a pool user running an iteration -> that iteration's lateness in ms.
LATENESS_MS: dict[Any, float] = {}

#: Called with (lateness_s, started_at_perf) when an iteration starts.
StartHook = Callable[[float, float], None]


class PoolUser:
    """One user instance and its greenlet, which runs the iterations handed to it."""

    __slots__ = ("_inbox", "greenlet", "pool", "tasks", "user")

    def __init__(self, pool: UserPool, user_class: type) -> None:
        self.pool = pool
        self.user = user_class(pool.environment)
        self.tasks = TaskStack(self.user)
        self._inbox: Queue[float] = Queue()
        self.greenlet = pool.group.spawn(self._run)

    def hand(self, intended: float) -> None:
        """Start one iteration intended at ``intended`` (a ``perf_counter`` time)."""
        self._inbox.put(intended)

    def _run(self) -> None:
        env = self.pool.environment
        try:
            try:
                self.user.on_start()
            except (StopUser, StopTest):
                raise
            except Exception as exc:
                log.error("%s\n%s", exc, traceback.format_exc())
                env.events.user_error.fire(user_instance=self.user, exception=exc, tb=exc.__traceback__)
                raise StopUser() from exc
            me = gevent.getcurrent()
            inbox, on_start, release = self._inbox, self.pool.on_start, self.pool.release
            while True:
                intended = inbox.get()
                started = perf_counter()
                lateness = started - intended if started > intended else 0.0
                on_start(lateness, started)
                LATENESS_MS[me] = lateness * 1000.0
                try:
                    run_one_task(self.tasks)
                except (StopUser, StopTest, gevent.GreenletExit):
                    raise
                except Exception as exc:
                    env.events.user_error.fire(user_instance=self.user, exception=exc, tb=exc.__traceback__)
                    if not env.catch_exceptions:
                        raise
                    log.error("%s\n%s", exc, traceback.format_exc())
                finally:
                    LATENESS_MS.pop(me, None)
                if not release(self):
                    self._stop()  # the pool shrank (a re-split)
                    return
        except StopUser:
            self._stop()
            self.pool.retire(self)
        except gevent.GreenletExit:
            self._stop()
            raise

    def _stop(self) -> None:
        try:
            self.user.on_stop()
        except Exception:
            log.error("Uncaught exception in on_stop:\n%s", traceback.format_exc())


class UserPool:
    """Up to ``size`` users of ``user_classes`` (by their ``weight``), created on demand."""

    def __init__(self, environment: Any, user_classes: Sequence[type], size: int, on_start: StartHook) -> None:
        self.environment = environment
        self.size = size
        self.on_start = on_start
        self.group = Group()
        self._classes = list(user_classes)
        self._credit = [0.0] * len(self._classes)
        self._free: deque[PoolUser] = deque()
        self._members: set[PoolUser] = set()
        self._freed = Event()

    @property
    def created(self) -> int:
        return len(self._members)

    @property
    def busy(self) -> int:
        return len(self._members) - len(self._free)

    def acquire(self, deadline: float) -> PoolUser | None:
        """A free user, a new one, or the first freed before ``deadline`` (perf_counter); else None."""
        while True:
            if self._free:
                return self._free.popleft()
            if len(self._members) < self.size:
                return self._create()
            wait = deadline - perf_counter()
            if wait <= 0:
                return None
            self._freed.clear()
            self._freed.wait(wait)

    def release(self, member: PoolUser) -> bool:
        """Take ``member`` back after an iteration; False: the pool shrank, it must stop."""
        if len(self._members) > self.size:
            self._members.discard(member)
            return False
        self._free.append(member)
        self._freed.set()
        return True

    def retire(self, member: PoolUser) -> None:
        """A user raised StopUser: it leaves the pool (a new one may be created in its place)."""
        self._members.discard(member)
        if member in self._free:
            self._free.remove(member)
        self._freed.set()

    def resize(self, size: int) -> None:
        self.size = size
        while len(self._members) > size and self._free:
            member = self._free.pop()
            self._members.discard(member)
            member.greenlet.kill(block=False)
        self._freed.set()

    def close(self, timeout: float | None = None) -> None:
        """Stop every user (running iterations are killed; ``on_stop`` runs)."""
        self.group.kill(block=True, timeout=timeout)
        self._members.clear()
        self._free.clear()

    def _create(self) -> PoolUser:
        member = PoolUser(self, self._next_class())
        self._members.add(member)
        return member

    def _next_class(self) -> type:
        """Smooth weighted round robin over the classes' ``weight`` (as nginx balances upstreams)."""
        weights = [max(float(getattr(cls, "weight", 1) or 0), 0.0) for cls in self._classes]
        total = sum(weights) or float(len(weights))
        best = 0
        for i, weight in enumerate(weights):
            self._credit[i] += weight or (0.0 if sum(weights) else 1.0)
            if self._credit[i] > self._credit[best]:
                best = i
        self._credit[best] -= total
        return self._classes[best]
