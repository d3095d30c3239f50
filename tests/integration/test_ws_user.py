"""WebSocketUser against the real bundled target's WebSocket routes (uvicorn + wsproto).

Events per connect, per request/reply and the ``ws-ttfm`` facet; counts equal the target's
own counters; a close with 1011 and a silent server are failures named after what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust.env import Environment

from loadkit import ConfigError, WebSocketError, WebSocketUser
from tests.support.targets import Target


@pytest.fixture
def env() -> Iterator[Environment]:
    environment = Environment(user_classes=[])
    environment.create_local_runner()
    yield environment
    environment.runner.quit()  # type: ignore[union-attr]


@pytest.fixture
def events(env: Environment) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    return seen


@pytest.fixture
def make_user(env: Environment, http_target: Target) -> Iterator[Callable[..., WebSocketUser]]:
    made: list[WebSocketUser] = []

    def make(path: str | None = "/ws/echo", **attrs: Any) -> WebSocketUser:
        made.append(type("Ws", (WebSocketUser,), {"host": http_target.url, "path": path, **attrs})(env))
        return made[-1]

    yield make
    for user in made:
        user.ws.close()


def test_requests_connect_and_first_message_are_counted_as_the_server_counts(
    env: Environment, events: list[dict[str, Any]], make_user: Callable[..., WebSocketUser], http_target: Target
) -> None:
    http_target.reset_counters()
    users = [make_user() for _ in range(2)]

    def talk(user: WebSocketUser) -> None:
        for i in range(5):
            assert user.ws.request({"n": i}, match=lambda m, i=i: m["n"] == i) == {"n": i}
        assert user.ws.request(b"\x00\x01", name="binary") == b"\x00\x01"

    gevent.joinall([gevent.spawn(talk, u) for u in users], raise_error=True)
    assert env.stats.get("connect /ws/echo", "ws").num_requests == 2
    assert env.stats.get("/ws/echo", "ws").num_requests == 10
    assert env.stats.get("binary", "ws").num_requests == 2
    assert env.stats.get("/ws/echo", "ws-ttfm").num_requests == 2  # once per connect: a facet
    assert env.stats.total.num_failures == 0
    assert http_target.counters() == {"WS /ws/echo": 2, "WS /ws/echo message": 12}
    assert http_target.protocols()["websockets"] == 2
    ttfm = next(e for e in events if e["request_type"] == "ws-ttfm")
    connect = next(e for e in events if e["name"] == "connect /ws/echo")
    assert ttfm["response_time"] > connect["response_time"]  # from the connect's start, past its handshake
    assert connect["context"] == {"status": 101, "trace_id": None}  # trace context off (the default)


def test_pubsub_delivers_to_every_subscriber_and_match_skips_others(
    env: Environment, make_user: Callable[..., WebSocketUser]
) -> None:
    alice, bob = make_user("/ws/pubsub/news"), make_user("/ws/pubsub/news")
    alice.ws.connect("/ws/pubsub/news")
    bob.ws.connect("/ws/pubsub/news")
    bob.ws.send({"from": "bob"})
    got = alice.ws.request({"from": "alice"}, match=lambda m: m.get("from") == "alice")
    assert got == {"from": "alice"}
    assert alice.ws.receive(timeout=5) == '{"from": "bob"}'  # skipped by the match (inbox) or still to come
    heard = bob.ws.receive(match=lambda m: m == {"from": "alice"}, name="heard alice", json=True)
    assert heard == {"from": "alice"}
    assert env.stats.get("/ws/pubsub/news", "ws").num_requests == 1
    assert env.stats.get("heard alice", "ws").num_requests == 1


def test_a_close_with_1011_is_a_failure_named_after_it_and_the_next_call_reconnects(
    env: Environment, events: list[dict[str, Any]], make_user: Callable[..., WebSocketUser]
) -> None:
    user = make_user("/ws/echo?close_after=2&close_code=1011")
    assert user.ws.request("one") == "one"
    with pytest.raises(WebSocketError) as raised:
        user.ws.request("two")
    assert raised.value.close_code == 1011
    assert str(raised.value) == "closed by server: 1011 (internal error): injected close"
    assert not user.ws.connected
    assert user.ws.request("three") == "three"  # reconnected: a second connect event
    assert env.stats.get("connect /ws/echo", "ws").num_requests == 2
    (error,) = env.stats.errors.values()
    assert (error.method, error.name, error.occurrences) == ("ws", "/ws/echo", 1)
    assert "1011 (internal error)" in str(error.error)
    failed = next(e for e in events if e["exception"] is not None)
    assert failed["context"] == {"close_code": 1011}


@pytest.mark.timeout(60)
def test_a_reply_that_never_comes_is_a_timeout_failure_not_a_hung_user(
    env: Environment, make_user: Callable[..., WebSocketUser]
) -> None:
    user = make_user("/ws/echo?silent=1", timeout=0.5)
    for _ in range(2):
        with pytest.raises(WebSocketError, match=r"^timeout: no matching message within 0.5 s$"):
            user.ws.request("anyone?")
    assert user.ws.connected  # a timeout leaves the connection open
    entry = env.stats.get("/ws/echo", "ws")
    assert (entry.num_requests, entry.num_failures) == (2, 2)
    assert entry.min_response_time >= 500


def test_a_refused_handshake_and_a_missing_path_are_failures(
    env: Environment, make_user: Callable[..., WebSocketUser]
) -> None:
    with pytest.raises(WebSocketError, match="connect failed: handshake answered with HTTP 403"):
        make_user("/ws/nowhere").ws.request("x")
    with pytest.raises(WebSocketError, match="connect failed"):
        make_user("/ws/echo?close_code=1006").ws.request("x")  # a reserved code: the target refuses the session
    with pytest.raises(WebSocketError, match=r"not connected: set path on the user or call self\.ws\.connect"):
        make_user(None).ws.send("x")
    assert env.stats.get("connect /ws/nowhere", "ws").num_failures == 1


def test_user_context_is_merged_into_every_event(
    events: list[dict[str, Any]], make_user: Callable[..., WebSocketUser]
) -> None:
    user = make_user(context=lambda self: {"room": "r1"})
    user.ws.request("hi")
    assert [e["context"]["room"] for e in events] == ["r1", "r1", "r1"]  # connect, ttfm, request


def test_wss_through_tls_with_a_ca_bundle(
    env: Environment, tls_http_target: Target, tls_certificate: tuple[Path, Path]
) -> None:
    host = f"wss://127.0.0.1:{tls_http_target.port}"
    user = type("Wss", (WebSocketUser,), {"host": host, "path": "/ws/echo", "verify": str(tls_certificate[0])})(env)
    try:
        assert user.ws.request("over tls") == "over tls"
    finally:
        user.ws.close()
    unchecked = type("Wss", (WebSocketUser,), {"host": host, "path": "/ws/echo", "verify": False})(env)
    try:
        assert unchecked.ws.request("unchecked") == "unchecked"
    finally:
        unchecked.ws.close()
    untrusting = type("Wss", (WebSocketUser,), {"host": host, "path": "/ws/echo"})(env)  # certifi's roots
    with pytest.raises(WebSocketError, match="connect failed: SSLCertVerificationError"):
        untrusting.ws.request("x")


def test_a_host_that_is_no_websocket_url_is_one_line(env: Environment) -> None:
    with pytest.raises(ConfigError, match=r"host 'grpc://x:1' is not a WebSocket URL: set host = 'ws://"):
        type("Bad", (WebSocketUser,), {"host": "grpc://x:1"})(env)
