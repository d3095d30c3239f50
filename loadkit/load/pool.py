"""Pool users: the user instances an open-model run starts its iterations on.

A pool user is one instance of a user class (picked by ``weight``) with its own greenlet.
It runs ``on_start`` once, then loops: take the node's next iteration from the schedule,
sleep until its intended time, run ONE task (Locust's own selection, weights and
TaskSets; ``wait_time`` does not apply), take the next. Iterations are dealt in order, so
an iteration no free user could take on time is taken by the first user that frees up —
late — and one that would start more than ``--max-lateness`` late is dropped.

Each user sleeps for its own iteration (as a closed-model user sleeps its ``wait_time``),
so an iteration costs one timer and no hand-over between greenlets: the open model's CPU
per iteration is the closed model's (``bench/open_model.py``). The node keeps one free user
holding the next iteration when it can, creating users on demand up to its pool size.

While an iteration runs, :data:`LATENESS_MS` maps the user's greenlet to how late it
started (ms); :func:`loadkit.load.runtime.correct_latency` adds that to every request the
iteration fires, so latency counts from the intended start (wrk2's correction).
"""

from __future__ import annotations

import logging
import traceback
from time import perf_counter
from typing import TYPE_CHECKING, Any

import gevent
from locust.exception import StopTest, StopUser

from loadkit._locust.users import TaskStack, run_one_task

if TYPE_CHECKING:
    from loadkit.load.node import NodeScheduler

log = logging.getLogger("loadkit.load")

#: Greenlet of a pool user running an iteration -> that iteration's lateness in ms.
LATENESS_MS: dict[Any, float] = {}

#: Longest single sleep: a re-split arriving meanwhile is seen this soon.
_MAX_SLEEP_S = 0.05


class PoolUser:
    """One user instance and its greenlet; see the module docstring."""

    __slots__ = ("node", "tasks", "user", "user_class")

    def __init__(self, node: NodeScheduler, user_class: type) -> None:
        self.node = node
        self.user_class = user_class
        self.user: Any = None
        self.tasks: TaskStack | None = None

    def run(self) -> None:
        node, env = self.node, self.node.environment
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
            while self._one(node, env):
                pass
        except StopUser:
            pass
        finally:
            node.members.discard(self)
            node.on_member_left()
            try:
                if self.user is not None:
                    self.user.on_stop()
            except Exception:
                log.error("Uncaught exception in on_stop:\n%s", traceback.format_exc())
            _close_http(self.user)

    def _one(self, node: NodeScheduler, env: Any) -> bool:
        """Take, wait for and run (or drop) one iteration; False: this user leaves the pool."""
        if len(node.members) > node.size or node.stopping:
            return False  # the pool shrank (a re-split), or the run ends
        generation = node.generation
        nxt = node.schedule.next()
        if nxt is None:
            if node.over:
                return False
            node.idle += 1
            try:
                node.reassigned.wait()  # nothing owned until a re-split
            finally:
                node.idle -= 1
            return True
        k, due = nxt
        at = node.origin + due
        node.idle += 1
        try:
            while (wait := at - perf_counter()) > 0 and generation == node.generation and not node.stopping:
                gevent.sleep(min(wait, _MAX_SLEEP_S))
        finally:
            node.idle -= 1
        if node.stopping:
            return False
        if generation != node.generation and k >= node.resplit_from(generation):
            return True  # a re-split dealt this index again: not ours to run
        started = perf_counter()
        lateness = started - at if started > at else 0.0
        if lateness > node.max_lateness_s:
            node.counters.on_drop()
            return True
        node.on_start(lateness, started)
        if node.idle == 0:
            node.add_user()  # someone must hold the next iteration
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
