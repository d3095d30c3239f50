"""The Fleet tab's wiring on a real Locust web UI app (Flask test client; no browser here)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from flask import request
from locust import User, constant, task
from locust.argument_parser import parse_options
from locust.env import Environment

import loadkit
from loadkit.run.plugin import install
from tests.support.web_env import web_environment


class Taker(User):
    wait_time = constant(0.01)

    @task
    def take(self) -> None:
        loadkit.data.next()
        self.environment.events.request.fire(
            request_type="data", name="next", response_time=1.0, response_length=0, exception=None, context={}
        )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Environment]:
    yield from web_environment(
        monkeypatch,
        [Taker],
        ["--loadkit-data", "faker:1000", "--loadkit-data-mode", "cyclic", "--loadkit-health-interval", "0.1"],
    )


def test_fleet_tab_is_declared_in_the_page(env: Environment) -> None:
    assert env.web_ui is not None
    tabs = env.web_ui.template_args["extended_tabs"]
    assert {"title": "Fleet", "key": "loadkit-fleet"} in tabs
    keys = [t["key"] for t in env.web_ui.template_args["extended_tables"]]
    assert {"loadkit-fleet", "loadkit-latency"} <= set(keys)


def test_stats_requests_carry_the_fleet_rows_and_json_endpoint_agrees(env: Environment) -> None:
    assert env.runner is not None and env.web_ui is not None
    env.runner.start(3, spawn_rate=100)
    client = env.web_ui.app.test_client()
    deadline = time.monotonic() + 20
    rows: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        extended = {e["key"]: e["data"] for e in client.get("/stats/requests").get_json()["extended_stats"]}
        rows = extended["loadkit-fleet"]
        used = int(rows[0]["rows"].split("/")[1] or 0) if rows and rows[0].get("rows") else 0
        if rows and rows[0]["users"] == "3" and extended["loadkit-latency"] and used > 0:
            break  # rows count as used once the client acks them (a flush): poll for that too
        gevent.sleep(0.1)
    assert rows and rows[0]["node"] == "local" and rows[0]["kind"] == "worker", rows
    leased, used = (int(x) for x in rows[0]["rows"].split("/"))
    assert leased >= used > 0
    assert any(r["name"] == "data next" and r["p50"] for r in extended["loadkit-latency"]), extended
    snapshot = client.get("/loadkit/fleet").get_json()
    assert set(snapshot) == {"fleet", "workers", "agents", "warnings", "data", "latency"}
    assert snapshot["fleet"]["workers"] == 1 and snapshot["fleet"]["saturated"] in (0, 1)
    assert snapshot["data"]["mode"] == "cyclic"
    assert "cpu_percent" in snapshot["workers"]["local"]


def _replace_extended_stats(app: Any) -> None:
    """A locustfile's hook as in Locust's examples/extend_web_ui.py: it *sets* extended_stats."""

    @app.after_request
    def extend_stats_response(response: Any) -> Any:
        if request.path != "/stats/requests":
            return response
        response.set_data(json.dumps({**response.json, "extended_stats": [{"key": "content-length", "data": []}]}))
        return response


@pytest.mark.parametrize("locustfile_hook_first", [True, False])
def test_a_locustfile_that_sets_extended_stats_keeps_loadkits_rows(
    monkeypatch: pytest.MonkeyPatch, locustfile_hook_first: bool
) -> None:
    monkeypatch.setattr(sys, "argv", ["locust"])
    environment = Environment(user_classes=[Taker], parsed_options=parse_options(args=[]))
    environment.create_local_runner()
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    if locustfile_hook_first:
        _replace_extended_stats(web_ui.app)
    install(environment)
    if not locustfile_hook_first:
        _replace_extended_stats(web_ui.app)
    client = web_ui.app.test_client()
    try:
        for _ in range(3):  # Locust caches the response 2 s and hooks edit it in place: no duplicates
            keys = [e["key"] for e in client.get("/stats/requests").get_json()["extended_stats"]]
            assert keys == ["content-length", "loadkit-fleet", "loadkit-latency", "loadkit-load"], keys
    finally:
        assert environment.runner is not None
        environment.runner.quit()
