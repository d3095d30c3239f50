"""loadkit.load.node: one node's bookkeeping, its pool users, and the latency correction.

A node with a pool of 0 creates no user, so its bookkeeping (take, begin, still_ours, the
drops counted at the stop) is checked with no greenlet at all; the pool users run on a real
``Environment`` (no runner, no socket) with a user class that counts its tasks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from time import perf_counter
from typing import Any, ClassVar

import gevent
import pytest
from locust import User, task
from locust.env import Environment

from loadkit.load.accounting import LATE_AFTER_S
from loadkit.load.node import LATENESS_MS, NodeScheduler, correct_latency
from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment


class Counted(User):
    """Counts its tasks, and the users created, per class."""

    tasks_run: ClassVar[Counter[str]] = Counter()
    created: ClassVar[Counter[str]] = Counter()

    def on_start(self) -> None:
        Counted.created[type(self).__name__] += 1

    @task
    def work(self) -> None:
        Counted.tasks_run[type(self).__name__] += 1
        gevent.sleep(0.05)  # busy long enough that the pool grows to its size at 200 it/s


class Heavy(Counted):
    weight = 3


class Light(Counted):
    weight = 1


class FailsToStart(User):
    attempts: ClassVar[list[float]] = []

    def on_start(self) -> None:
        FailsToStart.attempts.append(perf_counter())
        raise RuntimeError("login refused")

    @task
    def never(self) -> None:
        raise AssertionError("a user whose on_start failed ran a task")


@pytest.fixture
def env() -> Iterator[Environment]:
    Counted.tasks_run.clear()
    Counted.created.clear()
    yield Environment(user_classes=[Heavy, Light], catch_exceptions=True)


def node_of(
    env: Environment, rate: float, pool: int, epoch: float | None = None, lateness: float = 1.0
) -> NodeScheduler:
    start = time.time() if epoch is None else epoch
    return NodeScheduler(
        env, env.user_classes, "r1", RateProfile.constant(rate), start, Assignment(0, 0, 1), pool, lateness
    )


def stop_counting_untaken(node: NodeScheduler) -> tuple[float, float]:
    """Stop ``node``; the iterations nobody took are due before the stop minus max lateness: their bounds."""
    before = perf_counter() - node.origin - node.max_lateness_s
    node.stop()
    after = perf_counter() - node.origin - node.max_lateness_s
    return before, after


def poll(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        gevent.sleep(0.02)


# --- bookkeeping (no pool user) ---------------------------------------------------------------
def test_an_iteration_starts_counted_or_is_dropped_past_max_lateness(env: Environment) -> None:
    node = node_of(env, rate=10, pool=0)
    assert not node.members and not node.leaving()
    k, at = node.take() or (None, None)
    assert k == 0 and at == pytest.approx(node.origin)
    assert node.begin(perf_counter() + 1.0) == 0.0  # early: no lateness
    late = node.begin(perf_counter() - 0.5)
    assert late is not None and late == pytest.approx(0.5, abs=0.05)
    assert node.begin(perf_counter() - 2.0) is None  # more than max_lateness (1 s) behind
    assert (node.counters.started, node.counters.dropped) == (2, 1)
    assert node.take() == (1, pytest.approx(node.origin + 0.1))


def test_a_resplit_deals_again_the_indices_from_its_start(env: Environment) -> None:
    node = node_of(env, rate=10, pool=0)
    assert [node.take() for _ in range(6)][-1] == (5, pytest.approx(node.origin + 0.5))  # 0..5 held by users
    node.reassign(Assignment(3, 0, 1), 0)
    assert node.generation == 1
    assert node.still_ours(2, 0) and not node.still_ours(4, 0)  # held before the re-split: 3.. are dealt again
    assert node.still_ours(4, 1)  # taken after it
    assert node.take() == (3, pytest.approx(node.origin + 0.3))


def test_the_stop_counts_what_nobody_took_past_max_lateness_as_dropped(env: Environment) -> None:
    node = node_of(env, rate=10, pool=0, epoch=time.time() - 10.0, lateness=1.0)
    before, after = stop_counting_untaken(node)
    assert node.leaving()
    # due in the first ~9 s (10 s ago, minus the 1 s max lateness): ~90 iterations, none started
    assert 10 * before - 1 <= node.counters.dropped <= 10 * after + 1 and node.counters.started == 0


# --- pool users ---------------------------------------------------------------------------------
def test_one_task_per_iteration_on_a_pool_that_grows_on_demand_by_weight(env: Environment) -> None:
    node = node_of(env, rate=200, pool=4)
    try:
        poll(lambda: node.counters.started >= 40)
    finally:
        node.stop()
    assert not node.members
    assert sum(Counted.created.values()) == 4  # never above the pool size
    assert Counted.created == {"Heavy": 3, "Light": 1}  # smooth weighted round robin
    ran = sum(Counted.tasks_run.values())
    assert node.counters.started - 4 <= ran <= node.counters.started  # the stop may cut the last ones


def test_users_that_fail_on_start_leave_and_the_iterations_are_dropped(env: Environment) -> None:
    FailsToStart.attempts.clear()
    env.user_classes = [FailsToStart]
    node = node_of(env, rate=20, pool=2, lateness=0.2)
    poll(lambda: perf_counter() - node.origin > 0.6 and not node.members)  # left: a new one comes 1 s later
    before, after = stop_counting_untaken(node)
    assert node.counters.started == 0 and FailsToStart.attempts
    assert 20 * before - 1 <= node.counters.dropped <= 20 * after + 1  # every iteration due, none lost


# --- latency correction -------------------------------------------------------------------------
def test_requests_of_an_iteration_are_timed_from_its_intended_start() -> None:
    fired: list[dict[str, Any]] = []
    fire = correct_latency(lambda **kw: fired.append(kw))
    event = {"request_type": "GET", "name": "/x", "response_time": 10.0, "exception": None}
    fire(**event)  # outside an iteration: as it came
    me = gevent.getcurrent()
    LATENESS_MS[me] = 5.0  # on time (below LATE_AFTER_S): one event, corrected
    fire(**event)
    LATENESS_MS[me] = LATE_AFTER_S * 1000.0 + 100.0  # late: corrected, and the service time kept apart
    fire(**event)
    fire(**{**event, "request_type": "grpc-ttfm"})  # a facet is part of a request: not re-timed
    del LATENESS_MS[me]
    assert [(e["request_type"], e["response_time"]) for e in fired] == [
        ("GET", 10.0),
        ("GET", 15.0),
        ("GET", 10.0 + LATE_AFTER_S * 1000.0 + 100.0),
        ("GET-service", 10.0),
        ("grpc-ttfm", 10.0),
    ]
