"""loadkit.load.base: what the roles share (the run's end, the summary) and what a schedule's owner does.

Checked through the local role (:class:`~loadkit.load.local.LocalModel`, the smallest owner)
on a real local runner; the master's own part is tests/unit/test_load_master.py.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from locust import User, task
from locust.env import Environment
from locust.runners import STATE_STOPPED, LocalRunner

from loadkit.load.base import BaseModel
from loadkit.load.local import LocalModel


class Tick(User):
    @task
    def tick(self) -> None:
        pass


def poll(check: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        gevent.sleep(0.02)


@pytest.fixture
def runner() -> Iterator[LocalRunner]:
    runner = Environment(user_classes=[Tick]).create_local_runner()
    yield runner
    runner.quit()


def wired(runner: LocalRunner, **options: Any) -> LocalModel:
    base = {"arrival_rate": None, "arrival_stages": None, "max_users": None, "max_lateness": None, "num_users": None}
    runner.environment.parsed_options = argparse.Namespace(**{**base, **options})
    model = LocalModel(runner.environment)
    model.install(check_users=False)
    events = runner.environment.events
    events.test_start.add_listener(model.on_test_start)
    events.test_stopping.add_listener(model.on_test_stopping)
    events.test_stop.add_listener(model.on_test_stop)
    return model


def test_a_role_with_no_run_reports_the_closed_model() -> None:
    model = BaseModel(Environment())
    assert model.summary() == {"model": "closed"} and not model.busy() and not model.active


def test_a_bad_rate_from_the_web_ui_form_runs_the_closed_model_and_says_why(
    runner: LocalRunner, caplog: pytest.LogCaptureFixture
) -> None:
    model = wired(runner)
    assert runner.environment.parsed_options is not None
    runner.environment.parsed_options.arrival_rate = "fast"  # the form's value, after install checked the options
    with caplog.at_level(logging.ERROR, "loadkit.load"):
        runner.start(2, 2)
        poll(lambda: runner.user_count == 2, "Locust's own users did not start")
    assert model.run == "" and model.summary() == {"model": "closed"}
    lines = {r.getMessage() for r in caplog.records if r.name == "loadkit.load"}
    assert len(lines) == 1 and lines.pop().startswith("loadkit: open model not started: ")
    runner.stop()


def test_the_run_ends_when_the_last_stage_does_and_the_summary_stops_there(runner: LocalRunner) -> None:
    model = wired(runner, arrival_stages="0.3s:50", max_users="2")
    runner.start(1, 1)
    poll(lambda: runner.state == STATE_STOPPED, "the run did not end after its last stage", seconds=10)
    summary = model.summary()
    assert summary["elapsed_s"] == pytest.approx(0.3, abs=0.05)  # the schedule's end, not the stop's
    assert summary["target_iterations"] == pytest.approx(7.5) and summary["target_rate_now"] is None
    assert runner.environment.process_exit_code is None  # no verdict of its own: Locust's rule applies
