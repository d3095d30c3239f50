"""The targets' trace log and their SERVER spans' conventions (loadkit.targets.traces); the export
itself runs in tests/e2e/test_otel.py against an OTLP receiver."""

from __future__ import annotations

import pytest

from loadkit.targets.traces import ServerSpans, TraceLog, _server_span

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_log_counts_valid_invalid_and_missing_contexts() -> None:
    log = TraceLog()
    log.record(VALID, "/demo.v1.Demo/GetItem", 1.5)
    log.record("00-bad", "GET /health", 1.0)
    log.record(None, "GET /health", 1.0)
    snapshot = log.snapshot()
    assert {k: snapshot[k] for k in ("requests", "valid", "invalid", "missing", "sampled")} == {
        "requests": 3, "valid": 1, "invalid": 1, "missing": 1, "sampled": 1,
    }  # fmt: skip
    assert snapshot["recent"][0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_server_spans_follow_the_rpc_and_http_server_conventions() -> None:
    name, attributes, failed = _server_span("/demo.v1.Demo/GetItem", 5)
    assert name == "demo.v1.Demo/GetItem" and not failed  # NOT_FOUND: the caller's error, not the server's
    assert attributes == {
        "rpc.system": "grpc",
        "rpc.service": "demo.v1.Demo",
        "rpc.method": "GetItem",
        "rpc.grpc.status_code": 5,
    }
    assert _server_span("/demo.v1.Demo/GetItem", 13)[2]  # INTERNAL
    name, attributes, failed = _server_span("GET /items/{item_id}", 404)
    assert (name, failed) == ("GET /items/{item_id}", False)  # a 4xx is the client's error
    assert attributes == {
        "http.request.method": "GET",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 404,
    }
    assert _server_span("GET /health", 503)[2]


def test_no_server_spans_without_an_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert ServerSpans.from_env("grpc") is None
