"""Local (no workers) runs use the same pool with no messages; the agent serves real samples."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment

import loadkit
from loadkit import config
from loadkit.exceptions import ConfigError, DataError
from loadkit.fleet.agent import start_agent
from loadkit.fleet.health import HEALTH_STATE
from loadkit.run.context import run_context
from loadkit.run.plugin import install

SEEN: list[int] = []


class Taker(User):
    wait_time = constant(0)

    @task
    def take(self) -> None:
        SEEN.append(loadkit.data.next()["id"])


def local_env(**options: Any) -> Environment:
    env = Environment(user_classes=[Taker], parsed_options=config.defaults(**options))
    env.create_local_runner()
    install(env)
    return env


def stop(env: Environment) -> None:
    assert env.runner is not None
    env.runner.quit()
    env.events.quitting.fire(environment=env)


def test_local_run_uses_every_row_once_then_stops_users() -> None:
    SEEN.clear()
    env = local_env(loadkit_data="faker:300:3", loadkit_data_batch=7, loadkit_health_interval=0.2)
    try:
        assert env.runner is not None
        env.runner.start(10, spawn_rate=100)
        deadline = time.monotonic() + 30
        while (len(SEEN) < 300 or env.runner.user_count) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        assert sorted(SEEN) == list(range(1, 301))
        assert env.runner.user_count == 0  # stop-user: every user stopped when the pool ran dry
        health = run_context(env).get(HEALTH_STATE)
        assert health is not None and "local" in health.store.latest
    finally:
        stop(env)


def test_stop_test_policy_stops_the_runner() -> None:
    SEEN.clear()
    env = local_env(loadkit_data="faker:20", loadkit_data_exhausted="stop-test")
    try:
        assert env.runner is not None
        env.runner.start(3, spawn_rate=100)
        deadline = time.monotonic() + 30
        while env.runner.state != "stopped" and time.monotonic() < deadline:
            gevent.sleep(0.05)
        assert env.runner.state == "stopped"
        assert sorted(SEEN) == list(range(1, 21))
    finally:
        stop(env)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"loadkit_data": "/nonexistent/rows.csv"}, DataError),
        ({"loadkit_data": "faker:5", "loadkit_data_mode": "shuffle"}, ConfigError),
        ({"loadkit_data": "faker:5", "loadkit_data_exhausted": "panic"}, ConfigError),
    ],
)
def test_bad_input_raises_before_any_load(options: dict[str, Any], error: type[Exception]) -> None:
    env = Environment(user_classes=[Taker], parsed_options=config.defaults(**options))
    env.create_local_runner()
    with pytest.raises(error):
        install(env)
    assert env.runner is not None and env.runner.user_count == 0
    env.runner.quit()


def test_agent_serves_samples_over_http() -> None:
    agent = start_agent("127.0.0.1", 0, interval=0.1)
    try:
        deadline = time.monotonic() + 10
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{agent.url}/samples", timeout=5) as resp:
                body = json.loads(resp.read())
            if len(body["history"]) >= 3:
                break
            time.sleep(0.1)
        assert len(body["history"]) >= 3
        assert {"cpu_percent", "mem_percent", "net_sent_bps", "time"} <= set(body["latest"])
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{agent.url}/nope", timeout=5)
        info.value.close()
        assert info.value.code == 404
    finally:
        agent.stop()
