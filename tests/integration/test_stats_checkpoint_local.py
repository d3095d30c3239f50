"""A local runner's checkpoints (loadkit.stats.checkpoint via the controller): partial, then complete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment

import loadkit
from loadkit.stats.controller import controller_for


class _FiringUser(User):
    wait_time = constant(0.01)

    @task
    def call(self) -> None:
        self.environment.events.request.fire(
            request_type="GET", name="/items", response_time=1.5, response_length=0, exception=None, context={}
        )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Environment]:
    environment = Environment(user_classes=[_FiringUser])
    runner = environment.create_local_runner()
    loadkit.attach(environment, report_junit=str(tmp_path / "junit.xml"), report_interval=0.2)
    try:
        yield environment
    finally:
        runner.quit()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def test_local_run_checkpoints_then_writes_the_complete_report(env: Environment, tmp_path: Path) -> None:
    report = tmp_path / "junit.json"  # the JSON beside the only configured report
    assert env.runner is not None
    env.runner.start(2, spawn_rate=100)
    partials: list[dict[str, Any]] = []
    with gevent.Timeout(30):
        while len(partials) < 2:
            document = _read(report)
            if document is not None and document["total"]["count"] > 0 and document not in partials:
                partials.append(document)
            gevent.sleep(0.05)
    env.runner.stop()
    controller = controller_for(env)
    controller.finish()
    final = json.loads(report.read_text())
    assert all(d["complete"] is False for d in partials)
    assert partials[0]["covered"]["seconds"] <= partials[1]["covered"]["seconds"]
    assert partials[-1]["total"]["count"] <= final["total"]["count"]
    assert final["complete"] is True and final["total"]["count"] == env.stats.total.num_requests
    assert controller.checkpointer is not None and controller.checkpointer.write_once() is None  # closed
    assert "loadkit.complete" not in (tmp_path / "junit.xml").read_text()
