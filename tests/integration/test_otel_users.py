"""Http2User and WebSocketUser under --otel against the real HTTP target (h2c; WebSocket): a CLIENT
span per call / handshake on a real SDK tracer (in memory), its context what the target received.
GrpcUser and RestUser run the same way end to end in tests/e2e/test_otel.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from locust.env import Environment
from opentelemetry.trace import SpanKind, StatusCode

from loadkit import Http2User, WebSocketUser
from loadkit.run.context import run_context
from loadkit.users.spans import SPANS
from tests.support.otlp import memory_spans
from tests.support.targets import Target


@pytest.fixture
def traced() -> Iterator[tuple[Environment, Any]]:
    """A run whose spans stay in memory (as with --otel, without a global provider)."""
    environment = Environment(user_classes=[])
    environment.create_local_runner()
    spans, exporter = memory_spans()
    run_context(environment)[SPANS] = spans
    yield environment, exporter
    environment.runner.quit()  # type: ignore[union-attr]


def _received(target: Target) -> set[str]:
    return {str(r["trace_id"]) for r in target.traces()["recent"]}


def test_http2_calls_are_client_spans_whose_context_the_server_received(
    traced: tuple[Environment, Any], http2_target: Target
) -> None:
    environment, exporter = traced
    user = type("Api", (Http2User,), {"host": http2_target.url})(environment)
    try:
        user.rest("GET", "/health")
        missing = user.rest("GET", "/items/{item_id}", item_id="nope")
    finally:
        user.close()
    assert missing.status == 404
    ok, failed = exporter.get_finished_spans()
    assert (ok.name, ok.kind, ok.status.status_code) == ("GET /health", SpanKind.CLIENT, StatusCode.UNSET)
    assert failed.name == "GET /items/{item_id}" and failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["url.full"] == f"{http2_target.url}/items/nope"
    assert failed.attributes["http.response.status_code"] == 404 and failed.attributes["error.type"] == "404"
    assert {f"{s.context.trace_id:032x}" for s in (ok, failed)} <= _received(http2_target)


def test_a_websocket_handshake_is_a_client_span_whose_context_it_sends(
    traced: tuple[Environment, Any], http_target: Target
) -> None:
    environment, exporter = traced
    seen: list[dict[str, Any]] = []
    environment.events.request.add_listener(lambda **kw: seen.append(kw))
    user = type("Ws", (WebSocketUser,), {"host": http_target.url, "path": "/ws/echo"})(environment)
    try:
        assert user.ws.request({"n": 1}) == {"n": 1}
    finally:
        user.ws.close()
    (span,) = exporter.get_finished_spans()  # the handshake; messages on the connection are no spans
    assert span.name == "GET /ws/echo" and span.kind == SpanKind.CLIENT
    assert span.attributes["http.response.status_code"] == 101 and span.status.status_code == StatusCode.UNSET
    (connect,) = [e for e in seen if e["name"].startswith("connect")]
    assert connect["context"]["trace_id"] == f"{span.context.trace_id:032x}"
