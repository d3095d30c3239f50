"""loadkit.load.local: a local runner runs the whole schedule on its own pool, counted as "local".

A real local runner (no socket); the model's listeners are subscribed as loadkit's plugin does.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadkit.load.local import LocalModel


class Tick(User):
    wait_time = constant(60)  # a closed-model user would wait; the open model ignores it

    @task
    def tick(self) -> None:
        pass


def poll(check: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        gevent.sleep(0.02)


def wired(runner: LocalRunner, **options: Any) -> LocalModel:
    base = {"arrival_rate": None, "arrival_stages": None, "max_users": None, "max_lateness": None, "num_users": None}
    runner.environment.parsed_options = argparse.Namespace(**{**base, **options})
    model = LocalModel(runner.environment)
    model.install(check_users=True)
    events = runner.environment.events
    events.test_start.add_listener(model.on_test_start)
    events.test_stopping.add_listener(model.on_test_stopping)
    events.test_stop.add_listener(model.on_test_stop)
    return model


@pytest.fixture
def runner() -> Iterator[LocalRunner]:
    runner = Environment(user_classes=[Tick]).create_local_runner()
    yield runner
    runner.quit()


def test_the_whole_schedule_runs_here_and_is_counted_as_local(runner: LocalRunner) -> None:
    model = wired(runner, arrival_rate="200", max_users="3")
    runner.start(5, 5)  # the web UI's form count: ignored, the pool runs the rate
    poll(lambda: model.node is not None and model.node.counters.started >= 30, "no iterations started")
    assert runner.user_count == 0 and not model.busy()
    live = model.summary()
    assert live["model"] == "open" and live["workers"] == 1 and live["profile"] == "constant 200 it/s"
    runner.stop()
    assert model.node is None
    final = model.summary()
    assert final["nodes"]["local"] == final["iterations_started"] >= 30
    assert sum(n for _s, n in final["per_second"]) == final["iterations_started"]  # the timeline too


def test_a_run_without_a_rate_is_locusts_closed_model(runner: LocalRunner) -> None:
    model = wired(runner)
    runner.start(2, 2)
    poll(lambda: runner.user_count == 2, "Locust's users did not start")
    assert model.node is None and model.summary() == {"model": "closed"}
    runner.stop()
