"""Trace context on the wire: what GrpcUser, RestUser and measure() send is what the real targets receive.

Each test starts its own target (its trace log starts empty) and calls a user directly in this
process; the target's log (``Admin/GetTraces``, ``GET /traces``) is compared with the trace ids in
the request events' context.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from locust.env import Environment

from loadkit import GrpcUser, RestUser, config, measure
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2
from loadkit.users.tracing import is_sampled
from tests.support.targets import Target


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


def environment(seen: list[dict[str, Any]], **options: Any) -> Environment:
    env = Environment(user_classes=[], parsed_options=config.defaults(**{"trace_context": True, **options}))
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    return env


@pytest.fixture
def grpc_user(seen: list[dict[str, Any]], start_target: Callable[..., Target]) -> Iterator[tuple[GrpcUser, Target]]:
    target = start_target("grpc")
    env = environment(seen, trace_sample_ratio=0.5, trace_state="loadkit=test")
    user = type("U", (GrpcUser,), {"host": target.url, "stub_class": demo_pb2_grpc.DemoStub})(env)
    try:
        yield user, target
    finally:
        user.client.close()


def test_every_grpc_kind_carries_a_traceparent_the_target_sees(
    grpc_user: tuple[GrpcUser, Target], seen: list[dict[str, Any]]
) -> None:
    user, target = grpc_user
    rounds = 60
    for i in range(rounds):
        user.stub.GetItem(demo_pb2.GetItemRequest(id=str(i)), metadata=[("x-delay-ms", "1")])
        user.client.call("GetItem", {"id": "d"})  # by name, from a dict
        list(user.stub.ListItems(demo_pb2.ListItemsRequest(count=2)))
        user.stub.PutItems(types_pb2.Item(id=str(n)) for n in range(2))
        list(user.client.call("Chat", [{"text": "a"}, {"text": "b"}]))
    calls = [e for e in seen if e["request_type"] == "grpc"]
    assert len(calls) == 5 * rounds
    sent = [e["context"]["trace_id"] for e in calls]
    assert len(set(sent)) == len(sent)  # a fresh trace per call
    traces = target.traces()
    assert traces["requests"] == traces["valid"] == len(sent) and traces["missing"] == traces["invalid"] == 0
    received = {r["trace_id"]: r for r in traces["recent"]}
    assert received.keys() == set(sent)
    for event in calls:
        record = received[event["context"]["trace_id"]]
        assert record["route"] == event["name"]
        assert record["sampled"] == is_sampled(record["trace_id"], 0.5)  # OpenTelemetry's ratio rule
        assert record["latency_ms"] <= event["response_time"]  # the server's part of the client's time
    # the sampled share is the ratio's, within 5 standard deviations of a binomial draw
    n = len(sent)
    assert abs(traces["sampled"] - n * 0.5) <= 5 * math.sqrt(n * 0.25)


def test_ttfm_entries_share_the_calls_trace_id(grpc_user: tuple[GrpcUser, Target], seen: list[dict[str, Any]]) -> None:
    user, _target = grpc_user
    list(user.stub.ListItems(demo_pb2.ListItemsRequest(count=2)))
    call, ttfm = seen
    assert ttfm["request_type"] == "grpc-ttfm" and ttfm["context"]["trace_id"] == call["context"]["trace_id"]


def test_rest_and_measure_carry_a_traceparent(seen: list[dict[str, Any]], start_target: Callable[..., Target]) -> None:
    target = start_target("http")
    env = environment(seen, trace_sample_ratio=1.0)
    user = type("Api", (RestUser,), {"host": target.url})(env)
    try:
        assert user.rest("GET", "/health").ok
        assert user.rest("GET", "/items/{item_id}", item_id="none", expect=404).ok
        own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        assert user.rest("GET", "/health", headers={"traceparent": own}).ok  # the caller's own context wins
        with measure(user, "httpx", "health") as m:
            httpx.get(f"{target.url}/health", headers=m.headers, timeout=15)
    finally:
        user.close()
    sent = [e["context"]["trace_id"] for e in seen]
    assert sent[2] == "0af7651916cd43dd8448eb211c80319c" and None not in sent
    traces = target.traces()
    assert traces["requests"] == traces["valid"] == traces["sampled"] == 4
    assert [r["trace_id"] for r in traces["recent"]] == sent
    assert [r["route"] for r in traces["recent"]][:2] == ["GET /health", "GET /items/{item_id}"]


def test_off_sends_nothing(seen: list[dict[str, Any]], start_target: Callable[..., Target]) -> None:
    target = start_target("http")
    user = type("Api", (RestUser,), {"host": target.url})(environment(seen, trace_context=False))
    try:
        assert user.rest("GET", "/health").ok
    finally:
        user.close()
    assert seen[0]["context"]["trace_id"] is None
    traces = target.traces()
    assert traces["requests"] == traces["missing"] == 1 and traces["recent"] == []


@pytest.mark.parametrize("on", [False, True])
def test_exemplars_are_recorded_only_with_trace_context(on: bool) -> None:
    import loadkit
    from loadkit.stats.exemplar_part import recorder_for

    env = Environment(user_classes=[])
    env.create_local_runner().greenlet.kill(block=True)
    try:
        loadkit.attach(env, trace_context=on)
        env.events.request.fire(
            request_type="GET",
            name="/x",
            response_time=3.0,
            response_length=0,
            exception=None,
            context={"trace_id": "c" * 32},
        )
        report = recorder_for(env).report()
        assert (report["GET /x"]["slowest"][0]["trace_id"] == "c" * 32) if on else report == {}
    finally:
        assert env.runner is not None
        env.runner.quit()


def test_http2_user_carries_a_traceparent(seen: list[dict[str, Any]], start_target: Callable[..., Target]) -> None:
    from loadkit import Http2User

    target = start_target("http", "--http2")
    user = type("H2", (Http2User,), {"host": target.url})(environment(seen))
    try:
        for _ in range(3):
            assert user.rest("GET", "/health").ok
    finally:
        user.close()
    assert all(e["context"]["http_version"] == "HTTP/2" for e in seen)
    traces = target.traces()
    assert traces["requests"] == traces["valid"] == 3
    assert [r["trace_id"] for r in traces["recent"]] == [e["context"]["trace_id"] for e in seen]


def test_websocket_handshake_carries_a_traceparent(seen: list[dict[str, Any]], http_target: Target) -> None:
    from loadkit import WebSocketUser

    user = type("Ws", (WebSocketUser,), {"host": http_target.url, "path": "/ws/echo"})(environment(seen))
    try:
        user.ws.connect("/ws/echo")
    finally:
        user.ws.close()
    (connect,) = [e for e in seen if e["name"] == "connect /ws/echo"]
    # the target's trace log covers HTTP requests, not WebSocket handshakes: the client's side is checked
    assert connect["exception"] is None and len(connect["context"]["trace_id"]) == 32
