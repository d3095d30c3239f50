"""RestUser against the real bundled HTTP target: JSON calls, checks, failures with reasons, honest counts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from locust import constant, task
from locust.env import Environment

from loadkit import RestError, RestUser
from tests.support.targets import Target


class Api(RestUser):
    abstract = True
    wait_time = constant(0)

    @task
    def crud(self) -> None:
        created = self.rest("POST", "/items", json={"name": "x"}, expect=201)
        self.rest("GET", "/items/{item_id}", item_id=created.data["id"])


@pytest.fixture
def env() -> Iterator[Environment]:
    environment = Environment(user_classes=[])
    environment.create_local_runner()
    yield environment
    environment.runner.quit()  # type: ignore[union-attr]


@pytest.fixture
def make_user(env: Environment) -> Iterator[Callable[[str], RestUser]]:
    made: list[RestUser] = []

    def make(host: str) -> RestUser:
        made.append(type("A", (Api,), {"host": host})(env))
        return made[-1]

    yield make
    for user in made:
        user.close()


def test_rest_returns_parsed_json_under_the_route_template(
    env: Environment, make_user: Callable[[str], RestUser], http_target: Target
) -> None:
    user = make_user(http_target.url)
    created = user.rest("POST", "/items", json={"name": "widget"}, expect=201)
    assert created.ok and created.status == 201
    fetched = user.rest("GET", "/items/{item_id}", item_id=created.data["id"])
    assert fetched.data["name"] == "widget"
    assert env.stats.get("/items/{item_id}", "GET").num_requests == 1
    assert env.stats.get("/items", "POST").num_failures == 0


def test_wrong_status_is_a_failure_with_the_reason(
    env: Environment, make_user: Callable[[str], RestUser], http_target: Target
) -> None:
    user = make_user(http_target.url)
    result = user.rest("GET", "/items/{item_id}", item_id="no-such-id")
    assert not result.ok and result.status == 404
    assert isinstance(result.error, RestError)
    assert "expected status 200, got 404" in str(result.error)
    (error,) = env.stats.errors.values()
    assert error.name == "/items/{item_id}" and "got 404" in str(error.error)


def test_check_and_expect_sets(env: Environment, make_user: Callable[[str], RestUser], http_target: Target) -> None:
    user = make_user(http_target.url)
    assert user.rest("GET", "/health", expect={200, 204}).ok
    failed = user.rest("GET", "/health", check=lambda body: "missing" in body or "no 'missing' key")
    assert not failed.ok and "no 'missing' key" in str(failed.error)
    assert user.rest("GET", "/health", query={"status": "503"}, expect=503).ok
    assert env.stats.get("/health", "GET").num_failures == 1


def test_login_headers_are_sent_with_every_call(
    env: Environment, make_user: Callable[[str], RestUser], http_target: Target
) -> None:
    user = make_user(http_target.url)
    assert user.rest("GET", "/me", expect=401).ok
    token = user.rest("POST", "/login", json={"username": "ann", "password": "pw"}).data["token"]
    user.headers["Authorization"] = f"Bearer {token}"
    assert user.rest("GET", "/me").data == {"username": "ann"}
    assert make_user(http_target.url).headers == {}  # per user, not shared through the class


def test_target_down_is_a_failure_not_a_crash(env: Environment, make_user: Callable[[str], RestUser]) -> None:
    user = make_user("http://127.0.0.1:9")
    result = user.rest("GET", "/items")
    assert not result.ok and result.status == 0
    assert env.stats.get("/items", "GET").num_failures == 1


def test_reported_counts_equal_served_counts(env: Environment, http_target: Target) -> None:
    env.user_classes = [type("A", (Api,), {"host": http_target.url})]
    # Stop gracefully: a user killed mid-request leaves geventhttpclient's checked-out socket
    # to the garbage collector (a ResourceWarning, an error here), with FastHttpUser as with RestUser.
    env.stop_timeout = 30
    http_target.reset_counters()
    errors: list[Any] = []
    env.events.user_error.add_listener(lambda **kw: errors.append(kw))
    assert env.runner is not None
    env.runner.start(4, spawn_rate=4)
    deadline = time.monotonic() + 60
    while env.stats.get("/items/{item_id}", "GET").num_requests < 100 and time.monotonic() < deadline:
        gevent.sleep(0.05)
    env.runner.stop()
    served = http_target.counters()
    for method, route in (("POST", "/items"), ("GET", "/items/{item_id}")):
        reported = env.stats.get(route, method).num_requests
        assert reported >= 100 or method == "POST"
        assert served[f"{method} {route}"] == reported, (method, served, reported)  # graceful stop: none in flight
    assert errors == []
