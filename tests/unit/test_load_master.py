"""loadkit.load.master: the split over the live workers, re-splits, the workers' counts.

A real ``MasterRunner`` on 127.0.0.1 (port 0); its workers are entries in its own table (as
Locust adds them on ``client_ready``), and what it sends is kept by a fake ``send_message``
on this runner instance (the worker side, over real sockets, is tests/unit/test_load_worker.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from locust import User, task
from locust.env import Environment
from locust.runners import STATE_INIT, MasterRunner, WorkerNode

from loadkit import messages
from loadkit.load.base import REPORT_KEY
from loadkit.load.master import RESPLIT_LEAD_S, STALE_AFTER_S, MasterModel, stale_after, status_interval


class Idle(User):
    @task
    def nothing(self) -> None:
        pass


class Sent:
    """What the master sent: (message name, decoded payload, worker), by this runner only."""

    def __init__(self, runner: MasterRunner) -> None:
        self.items: list[tuple[str, Any, str | None]] = []
        runner.send_message = self.send  # type: ignore[method-assign]

    def send(self, name: str, data: Any, client_id: str | None = None) -> None:
        self.items.append((name, messages.ARRIVAL_PLAN.decode(data), client_id))

    def plans(self) -> dict[str, messages.ArrivalPlan]:
        """The last plan each worker got."""
        return {worker: plan for _name, plan, worker in self.items if worker is not None}


@pytest.fixture
def master() -> Iterator[MasterRunner]:
    env = Environment(user_classes=[Idle], host="http://127.0.0.1:1")
    env.parsed_options = argparse.Namespace(
        arrival_rate="90", arrival_stages=None, max_users="9", max_lateness=None, num_users=None
    )
    runner = env.create_master_runner("127.0.0.1", 0)
    try:
        yield runner
    finally:
        runner.quit()
        runner.server.close(linger=0)
        runner.server.socket.context.term()  # else an "unclosed context" ResourceWarning at some later gc


def add_workers(runner: MasterRunner, *ids: str) -> None:
    for node_id in ids:
        runner.clients[node_id] = WorkerNode(node_id)
        runner.clients[node_id].state = STATE_INIT  # "ready" in Locust's table


def started_model(runner: MasterRunner) -> tuple[MasterModel, Sent]:
    model = MasterModel(runner.environment)
    model.install(check_users=True)
    sent = Sent(runner)
    model.on_test_start(runner.environment)
    return model, sent


def test_the_start_splits_rate_and_pool_over_the_live_workers(master: MasterRunner) -> None:
    add_workers(master, "w1", "w2", "w3")
    model, sent = started_model(master)
    try:
        plans = sent.plans()
        assert sorted(plans) == ["w1", "w2", "w3"]
        assert sorted(p.slot for p in plans.values()) == [0, 1, 2] and {p.slots for p in plans.values()} == {3}
        assert sum(p.pool for p in plans.values()) == 9
        assert {(p.run, p.epoch, p.rate, p.from_iteration, p.host) for p in plans.values()} == {
            (model.run, model.epoch, 90.0, 0, "http://127.0.0.1:1")
        }
        assert model.busy() and model.summary()["workers"] == 3
    finally:
        model.on_test_stop(master.environment)
    stops = [plan for _name, plan, _worker in sent.items[3:]]
    assert len(stops) == 3 and not any(p.active for p in stops)  # every worker told to stop


def test_a_worker_that_leaves_gets_nothing_and_the_others_a_new_split(master: MasterRunner) -> None:
    add_workers(master, "w1", "w2", "w3")
    model, sent = started_model(master)
    try:
        del master.clients["w3"]
        deadline = time.monotonic() + 5
        while len(model.resplits) < 2:  # the monitor re-checks every POLL_S
            assert time.monotonic() < deadline, "no re-split after a worker left"
            gevent.sleep(0.05)
        plans = sent.plans()
        assert plans["w3"].pool == 0 and plans["w3"].slot == -1
        assert sorted(plans[w].slot for w in ("w1", "w2")) == [0, 1] and plans["w1"].slots == 2
        assert plans["w1"].pool + plans["w2"].pool == 9
        assert len({plans[w].from_iteration for w in ("w1", "w2", "w3")}) == 1  # one index for everyone
        assert model.summary()["workers"] == 2
    finally:
        model.on_test_stop(master.environment)


def test_counts_of_this_run_are_merged_and_others_dropped(
    master: MasterRunner, caplog: pytest.LogCaptureFixture
) -> None:
    add_workers(master, "w1")
    model, _sent = started_model(master)
    try:
        totals = {"started": 5, "late": 1, "dropped": 0, "max_lateness_s": 0.2}
        model.on_worker_report("w1", {REPORT_KEY: {"run": model.run, "totals": totals, "timeline": {"0": 5}}})
        model.on_worker_report("w1", {REPORT_KEY: {"run": "another", "totals": {**totals, "started": 50}}})
        with caplog.at_level(logging.WARNING, "loadkit.load"):
            model.on_worker_report("w1", {REPORT_KEY: {"run": model.run, "totals": {"started": -1}}})
        summary = model.summary()
        assert summary["iterations_started"] == 5 and summary["nodes"] == {"w1": 5}
        assert "dropped malformed open-model report from worker w1" in caplog.text
    finally:
        model.on_test_stop(master.environment)


def test_without_a_rate_the_run_is_closed_model_and_users_are_locusts(master: MasterRunner) -> None:
    master.environment.parsed_options = argparse.Namespace(
        arrival_rate=None, arrival_stages=None, max_users=None, max_lateness=None, num_users=None
    )
    add_workers(master, "w1")
    model, sent = started_model(master)
    assert model.summary() == {"model": "closed"} and not model.busy() and sent.items == []


# --- the schedule across a master restart (loadkit.load.restart) --------------------------------
def test_a_restarted_master_continues_the_same_schedule(master: MasterRunner) -> None:
    add_workers(master, "w1", "w2")
    first, _sent = started_model(master)
    try:
        totals = {"started": 7, "late": 0, "dropped": 0, "max_lateness_s": 0.001}
        first._on_status(master.environment, messages.ArrivalStatus(first.run, totals, {"0": 7}), "w1")
        first.on_worker_report("w2", {REPORT_KEY: {"run": first.run, "totals": totals, "timeline": {"0": 7}}})
        kept = json.loads(json.dumps(first.checkpoint()))  # through the state file
    finally:
        first.on_test_stop(master.environment)

    again = MasterModel(master.environment)  # the master that comes back, the same command
    # (not installed: this runner's handler is the first model's; a restarted master is a new process)
    again.restore(kept)
    # a kept report of the run, re-sent before the resumed run starts, is not lost
    late = {"started": 9, "late": 0, "dropped": 0, "max_lateness_s": 0.001}
    again.on_worker_report("w2", {REPORT_KEY: {"run": first.run, "totals": late, "timeline": {"1": 2}}})
    gevent.sleep(0.3)  # the schedule has moved on meanwhile
    sent = Sent(master)
    before = time.time()
    again.on_test_start(master.environment)
    after = time.time()
    try:
        plans = sent.plans()
        assert (again.run, again.epoch) == (first.run, first.epoch)
        assert {(p.run, p.epoch) for p in plans.values()} == {(first.run, first.epoch)}
        # from the first iteration due RESPLIT_LEAD_S after the resume, on the original epoch
        due = again.profile.first_due_at_or_after  # type: ignore[union-attr]
        resumed_from = again.resplits[-1]["from_iteration"]
        assert {p.from_iteration for p in plans.values()} == {resumed_from}
        lead = RESPLIT_LEAD_S - first.epoch
        assert 0 < due(before + lead) <= resumed_from <= due(after + lead)
        summary = again.summary()
        assert summary["nodes"] == {"w1": 7, "w2": 9} and summary["iterations_dropped"] == 0
        assert summary["per_second"] == [[0, 7], [1, 2]]  # the status's 7 and the reports' 7 are one second
        (gap,) = summary["master_gaps"]
        assert gap["carried_on"] == ["w1", "w2"] and gap["not_back"] == [] and gap["iterations_dropped"] == 0
    finally:
        again.on_test_stop(master.environment)


def test_a_share_whose_worker_did_not_come_back_is_counted_as_dropped(master: MasterRunner) -> None:
    add_workers(master, "w1", "w2")
    first, _sent = started_model(master)
    try:
        kept = json.loads(json.dumps(first.checkpoint()))
    finally:
        first.on_test_stop(master.environment)
    del master.clients["w2"]  # died with the master
    again = MasterModel(master.environment)
    again.restore(kept)
    gevent.sleep(0.3)
    Sent(master)
    again.on_test_start(master.environment)
    try:
        (gap,) = again.summary()["master_gaps"]
        resumed_from = again.resplits[-1]["from_iteration"]
        # w2 held the odd iterations and was never heard: from the checkpoint to the resume, nobody ran them
        since = max(math.ceil(kept["written_s"] * 90), 0)  # checkpointed before the epoch here: 0
        assert gap["not_back"] == ["w2"] and gap["carried_on"] == ["w1"]
        assert gap["iterations_dropped"] == len([k for k in range(since, resumed_from) if k % 2 == 1])
        assert again.summary()["iterations_dropped"] == gap["iterations_dropped"] > 0
        # it rejoins later, its counts for the schedule with it: it ran its share after all
        totals = {"started": 30, "late": 0, "dropped": 0, "max_lateness_s": 0.0}
        again._on_status(master.environment, messages.ArrivalStatus(again.run, totals, {}), "w2")
        assert again.summary()["iterations_dropped"] == 0
        assert again.summary()["master_gaps"][0]["carried_on"] == ["w1", "w2"]
        # a second checkpoint keeps the gap's entry for a later restart
        assert json.loads(json.dumps(again.checkpoint()))["gaps"][0]["carried_on"] == ["w1", "w2"]
    finally:
        again.on_test_stop(master.environment)


def test_an_unreadable_schedule_starts_afresh_with_one_line(
    master: MasterRunner, caplog: pytest.LogCaptureFixture
) -> None:
    add_workers(master, "w1")
    model = MasterModel(master.environment)
    model.install(check_users=True)
    with caplog.at_level(logging.WARNING, "loadkit.load"):
        model.restore({"format": 1, "run": "r"})
    assert "the state file's schedule is not taken" in caplog.text and "it starts afresh" in caplog.text
    Sent(master)
    model.on_test_start(master.environment)
    try:
        assert model.run != "r" and "master_gaps" not in model.summary()
    finally:
        model.on_test_stop(master.environment)
    assert MasterModel(master.environment).checkpoint() is None  # no schedule: nothing kept


def test_big_fleets_send_their_status_less_often_and_are_given_longer_to_speak() -> None:
    """200 workers or fewer: every 0.5 s; beyond, 400 status messages a second for the whole fleet."""
    assert status_interval(1) == status_interval(200) == 0.5
    assert status_interval(1000) == 2.5 and status_interval(2000) == 5.0
    assert status_interval(10**6) == 30.0  # bounded
    assert stale_after(0.5) == STALE_AFTER_S and stale_after(2.5) == 10.0


def test_the_plans_carry_the_fleets_status_interval(master: MasterRunner) -> None:
    add_workers(master, *(f"w{i}" for i in range(3)))
    model, sent = started_model(master)
    try:
        assert {p.status_interval_s for p in sent.plans().values()} == {0.5}
        model._resplit([f"w{i}" for i in range(1000)])  # as a re-check finds a grown fleet
        assert {p.status_interval_s for p in sent.plans().values()} == {2.5}
        assert model._silent_s == 10.0
        model._resplit(["w0", "w1"])  # shrunk: workers may still sleep out the 2.5 s interval once
        assert sent.plans()["w0"].status_interval_s == 0.5 and model._silent_s == 10.0
        model._resplit(["w0", "w1"])
        assert model._silent_s == STALE_AFTER_S
    finally:
        model.on_test_stop(master.environment)
