"""The open model from Locust's web UI (Flask test client on the real app; no browser).

The start form carries ``arrival_rate`` (a "custom parameter": ``include_in_web_ui``); with
it set, the form's user count is ignored, the run is open-model, and the "Arrival rate" row
on ``/stats/requests`` and ``GET /loadkit/load`` show target vs achieved rate while it runs.
Cost: ~3 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gevent
import pytest
from locust import User, task
from locust.env import Environment

from loadkit import measure
from tests.support.web_env import web_environment


class Tick(User):
    @task
    def tick(self) -> None:
        with measure(self, "noop", "tick"):
            pass


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Environment]:
    yield from web_environment(monkeypatch, [Tick])


def test_start_form_runs_the_open_model_and_shows_the_rates(env: Environment) -> None:
    assert env.web_ui is not None and env.runner is not None
    client = env.web_ui.app.test_client()
    page = client.get("/")
    assert b"arrival_rate" in page.data  # the form's custom parameter
    reply = client.post("/swarm", data={"user_count": "5", "spawn_rate": "5", "host": "", "arrival_rate": "200"})
    assert reply.get_json()["success"], reply.data
    deadline = time.monotonic() + 10
    load: dict[str, object] = {}
    while time.monotonic() < deadline:
        gevent.sleep(0.25)
        load = client.get("/loadkit/load").get_json()
        if load.get("achieved_rate_now"):
            break
    assert load["model"] == "open" and load["target_rate_now"] == 200
    assert load["achieved_rate_now"] == pytest.approx(200, rel=0.25)  # a live sample over ~2 s
    assert env.runner.user_count == 0  # the form's 5 users were not spawned: the pool runs the rate
    rows = {e["key"]: e["data"] for e in client.get("/stats/requests").get_json()["extended_stats"]}
    (row,) = rows["loadkit-load"]
    assert row["model"].startswith("open: constant 200") and row["target_rate_now"] == "200.0"
