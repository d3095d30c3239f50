"""loadkit.load.worker: a plan from the master starts, re-assigns and stops this worker's node.

A real ``MasterRunner`` and a real ``WorkerRunner`` in this process, over ZeroMQ on 127.0.0.1
(:func:`tests.support.runners.master_and_worker`):
the plans travel as Locust messages, the worker's status messages come back to the master.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import gevent
import pytest
from locust import User, task
from locust.runners import MasterRunner, WorkerRunner

from loadkit import messages
from loadkit.load.base import REPORT_KEY
from loadkit.load.worker import WorkerModel
from tests.support.runners import master_and_worker


class Tick(User):
    hosts: ClassVar[list[str | None]] = []

    def on_start(self) -> None:
        Tick.hosts.append(self.host)

    @task
    def tick(self) -> None:
        pass


def poll(check: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        gevent.sleep(0.02)


@pytest.fixture
def pair() -> Iterator[tuple[MasterRunner, WorkerRunner]]:
    with master_and_worker([Tick]) as runners:
        yield runners


def plan(run: str, **fields: Any) -> messages.ArrivalPlan:
    base: dict[str, Any] = {"epoch": time.time(), "rate": 100.0, "slot": 0, "slots": 1, "pool": 2}
    return messages.ArrivalPlan(run, True, **{**base, **fields})


def test_a_plan_starts_the_node_its_counts_reach_the_master_and_a_stop_ends_it(
    pair: tuple[MasterRunner, WorkerRunner],
) -> None:
    master, worker = pair
    Tick.hosts.clear()
    model = WorkerModel(worker.environment)
    model.install(check_users=False)
    statuses: list[messages.ArrivalStatus] = []
    messages.register_handler(master, messages.ARRIVAL_STATUS, lambda _env, status, _id: statuses.append(status))
    try:
        messages.send(master, messages.ARRIVAL_PLAN, plan("r1", host="http://127.0.0.1:1"), worker.client_id)
        poll(lambda: any(s.totals.get("started", 0) >= 10 for s in statuses), "no status with started iterations")
        assert model.status_interval_s == 0.5  # the plan's (a big fleet's master widens it)
        assert model.node is not None and model.node.run == "r1" and model.run == "r1"
        assert set(Tick.hosts) == {"http://127.0.0.1:1"}  # the master's --host, before any user existed
        report: dict[str, Any] = {}
        model.on_report_to_master(worker.client_id, report)
        assert report[REPORT_KEY]["run"] == "r1" and report[REPORT_KEY]["totals"]["started"] >= 10

        node = model.node
        messages.send(master, messages.ARRIVAL_PLAN, plan("r1", from_iteration=10**6, pool=1), worker.client_id)
        poll(lambda: node.generation == 1, "the second plan of the same run did not re-assign the node")
        assert model.node is node and node.size == 1

        messages.send(master, messages.ARRIVAL_PLAN, messages.ArrivalPlan("other", False), worker.client_id)
        messages.send(master, messages.ARRIVAL_PLAN, plan("r1", from_iteration=10**6, pool=2), worker.client_id)
        poll(lambda: node.generation == 2, "the third plan did not arrive")  # messages arrive in order
        assert model.node is node  # another run's stop is not ours
        messages.send(master, messages.ARRIVAL_PLAN, messages.ArrivalPlan("r1", False), worker.client_id)
        poll(lambda: model.node is None, "the stop plan did not stop the node")
        final: dict[str, Any] = {}
        model.on_report_to_master(worker.client_id, final)  # the last counts still go to the master
        assert final[REPORT_KEY]["totals"]["started"] == node.counters.started
    finally:
        model.on_test_stop(worker.environment)
    assert model.summary() == {"model": "closed"}  # a worker reports no run of its own


def test_the_worker_sends_its_status_at_the_plans_interval(pair: tuple[MasterRunner, WorkerRunner]) -> None:
    master, worker = pair
    model = WorkerModel(worker.environment)
    model.install(check_users=False)
    arrived: list[float] = []
    messages.register_handler(master, messages.ARRIVAL_STATUS, lambda *_a: arrived.append(time.monotonic()))
    try:
        messages.send(master, messages.ARRIVAL_PLAN, plan("r2", status_interval_s=0.2), worker.client_id)
        poll(lambda: len(arrived) >= 6, "no status at the plan's interval", seconds=10)
        assert model.status_interval_s == 0.2
        messages.send(master, messages.ARRIVAL_PLAN, plan("r2", status_interval_s=5.0), worker.client_id)
        poll(lambda: model.status_interval_s == 5.0, "the second plan did not set the interval")
        gevent.sleep(0.5)  # the status greenlet's current 0.2 s sleep ends, then it sleeps 5 s
        before = len(arrived)
        gevent.sleep(1.5)
        assert len(arrived) - before <= 1, f"{len(arrived) - before} statuses in 1.5 s at a 5 s interval"
    finally:
        model.on_test_stop(worker.environment)
