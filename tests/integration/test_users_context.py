"""``User.context()`` is merged into every loadkit request event, as Locust's own clients do.

A user class overriding ``context()`` and a ``request`` listener reading ``context``: gRPC
(unary and a stream, with its ``grpc-ttfm`` facet), RestUser (a passing and a failing check)
and ``measure()``, against the real bundled targets. The call's own keys win over the
user's (Locust's order: ``{**self.context(), **call_context}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from locust import User
from locust.env import Environment

from loadkit import GrpcUser, RestUser, measure
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc
from tests.support.targets import Target

TAGS = {"tenant": "t-42", "grpc_status": "overridden?"}


class Tagged:
    def context(self) -> dict[str, Any]:
        return dict(TAGS)


class TaggedGrpc(Tagged, GrpcUser):
    abstract = True
    stub_class = demo_pb2_grpc.DemoStub


class TaggedRest(Tagged, RestUser):
    abstract = True


class TaggedPlain(Tagged, User):
    abstract = True


@pytest.fixture
def env() -> Iterator[Environment]:
    environment = Environment(user_classes=[])
    environment.create_local_runner()
    yield environment
    environment.runner.quit()  # type: ignore[union-attr]


@pytest.fixture
def seen(env: Environment) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: events.append(kw))
    return events


def test_grpc_events_carry_the_users_context(env: Environment, seen: list[dict[str, Any]], grpc_target: Target) -> None:
    user = type("U", (TaggedGrpc,), {"host": grpc_target.url})(env)
    try:
        user.stub.GetItem(demo_pb2.GetItemRequest(id="1"), timeout=10)
        list(user.stub.ListItems(demo_pb2.ListItemsRequest(count=2), timeout=10))
    finally:
        user.client.close()
    assert [e["request_type"] for e in seen] == ["grpc", "grpc", "grpc-ttfm"]
    for event in seen:
        assert event["context"]["tenant"] == "t-42", event
        assert event["context"]["grpc_status"] == "OK", "the call's own key must win over the user's"


def test_rest_events_carry_the_users_context(env: Environment, seen: list[dict[str, Any]], http_target: Target) -> None:
    user = type("U", (TaggedRest,), {"host": http_target.url})(env)
    try:
        assert user.rest("GET", "/health").ok
        assert not user.rest("GET", "/health", check=lambda _body: "never good").ok
    finally:
        user.close()
    assert len(seen) == 2 and seen[1]["exception"] is not None
    assert all(e["context"]["tenant"] == "t-42" for e in seen), seen


def test_measure_events_carry_the_users_context(env: Environment, seen: list[dict[str, Any]]) -> None:
    user = type("U", (TaggedPlain,), {"host": "http://127.0.0.1"})(env)
    with measure(user, "db", "query") as m:
        m.context["rows"] = 3
    with measure(env, "db", "no user"):
        pass
    assert seen[0]["context"] == {**TAGS, "rows": 3}
    assert seen[1]["context"] == {}
