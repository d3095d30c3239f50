"""The spans loadkit makes under --otel: semantic-convention names and attributes, pure, and the
run's Spans on a real SDK tracer (in-memory exporter) — start, propagate, end, off without --otel."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from locust.env import Environment
from opentelemetry.trace import SpanKind, StatusCode

from loadkit.users.spans import (
    http_outcome,
    http_span,
    rpc_outcome,
    rpc_span,
    server_of,
    spans_for,
    traceparent,
    url_full,
)
from loadkit.users.tracing import parse_traceparent
from tests.support.otlp import memory_spans


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", 50051)),
        ("dns:///api.example:443", ("api.example", 443)),
        ("http://user:pw@host:8080/x", ("host", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("https://host/path", ("host", None)),
        ("unix:/tmp/sock", ("unix:/tmp/sock", None)),
    ],
)
def test_server_address_and_port_of_targets_and_urls(authority: str, expected: tuple[str, int | None]) -> None:
    assert server_of(authority) == expected


def test_a_grpc_call_is_named_service_slash_method_with_the_rpc_attributes() -> None:
    name, attributes = rpc_span("/demo.v1.Demo/GetItem", "127.0.0.1:50051")
    assert name == "demo.v1.Demo/GetItem"
    assert attributes == {
        "rpc.system": "grpc",
        "rpc.service": "demo.v1.Demo",
        "rpc.method": "GetItem",
        "server.address": "127.0.0.1",
        "server.port": 50051,
    }
    assert rpc_outcome(0, "OK", None) == ({"rpc.grpc.status_code": 0}, None)
    failed = rpc_outcome(5, "NOT_FOUND", RuntimeError("NOT_FOUND: no item"))
    assert failed == ({"rpc.grpc.status_code": 5, "error.type": "NOT_FOUND"}, "NOT_FOUND: no item")


def test_an_http_call_is_named_method_and_template_with_the_http_attributes() -> None:
    name, attributes = http_span("get", "/items/{item_id}", "http://u:secret@h:8080/items/7?x=1")
    assert name == "GET /items/{item_id}"
    assert attributes == {
        "http.request.method": "GET",
        "url.full": "http://REDACTED:REDACTED@h:8080/items/7?x=1",  # never a password in a span
        "url.template": "/items/{item_id}",
        "server.address": "h",
        "server.port": 8080,
    }
    name, attributes = http_span("PURGE", "", "https://h/x")
    assert name == "HTTP" and attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == "PURGE"
    assert url_full("http://h:1/", "/items/7", {"a": [1, 2]}) == "http://h:1/items/7?a=1&a=2"


@pytest.mark.parametrize(
    ("status", "error", "attributes", "failed"),
    [
        (200, None, {"http.response.status_code": 200}, None),
        (101, None, {"http.response.status_code": 101}, None),
        (404, None, {"http.response.status_code": 404, "error.type": "404"}, "HTTP 404"),
        (500, ValueError("bad"), {"http.response.status_code": 500, "error.type": "500"}, "bad"),
        (
            200,
            ValueError("check failed"),
            {"http.response.status_code": 200, "error.type": "ValueError"},
            "check failed",
        ),
        (0, ConnectionError("refused"), {"error.type": "ConnectionError"}, "refused"),
    ],
)
def test_an_http_outcome_is_an_error_from_400_up_or_on_loadkits_failure(
    status: int, error: BaseException | None, attributes: dict[str, object], failed: str | None
) -> None:
    assert http_outcome(status, error) == (attributes, failed)


def test_a_span_propagates_its_own_context_and_ends_with_its_outcome() -> None:
    spans, exporter = memory_spans(state="vendor=abc")
    span = spans.start(*rpc_span("/demo.v1.Demo/GetItem", "127.0.0.1:1"))
    trace_id, pairs = spans.ids(span)
    context = span.get_span_context()
    assert pairs == (
        ("traceparent", traceparent(context.trace_id, context.span_id, context.trace_flags)),
        ("tracestate", "vendor=abc"),
    )
    assert parse_traceparent(pairs[0][1]) == (trace_id, f"{context.span_id:016x}", True)
    spans.end(span, *rpc_outcome(14, "UNAVAILABLE", RuntimeError("down")))
    (done,) = exporter.get_finished_spans()
    assert done.kind == SpanKind.CLIENT and done.status.status_code == StatusCode.ERROR
    assert done.status.description == "down" and done.attributes["rpc.grpc.status_code"] == 14


def test_an_http_call_runs_inside_its_span_with_the_spans_ids_to_send() -> None:
    spans, exporter = memory_spans()
    sent: list[tuple[str, object]] = []

    def call(trace):  # type: ignore[no-untyped-def]
        sent.append(trace())
        return SimpleNamespace(status=503, error=None)

    spans.http("GET", "/health", "http://h:1/health", call)
    (done,) = exporter.get_finished_spans()
    ((trace_id, ((_, value),)),) = sent
    assert trace_id == f"{done.context.trace_id:032x}" and f"{done.context.span_id:016x}" in value
    assert done.name == "GET /health" and done.status.status_code == StatusCode.ERROR
    assert done.attributes["error.type"] == "503"


def test_no_spans_without_otel_or_without_the_sdks_provider() -> None:
    environment = Environment()
    environment.parsed_options = SimpleNamespace(otel=False)  # type: ignore[assignment]
    assert spans_for(environment) is None
    environment = Environment()
    # --otel, but no SDK provider was set in this process (Locust found no exporter): still off
    environment.parsed_options = SimpleNamespace(otel=True, trace_state=None)  # type: ignore[assignment]
    assert spans_for(environment) is None


def test_without_the_sdk_loadkit_imports_and_otel_is_simply_off() -> None:
    """``loadkit[otel]`` is optional: with opentelemetry unimportable, --otel leaves loadkit's users untraced."""
    code = """
import sys
sys.modules["opentelemetry"] = None  # any import of it fails, as when it is not installed
import subprocess
import sys
from types import SimpleNamespace
from locust.env import Environment
import loadkit
from loadkit.run import otel
from loadkit.users.spans import spans_for
environment = Environment()
environment.parsed_options = SimpleNamespace(otel=True, trace_state=None)
assert spans_for(environment) is None and not otel.install(environment)
print("untraced")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "untraced", done.stderr[-2000:]
