"""The trace contexts a bundled target received, so a test can check what the load test sent.

Both targets record each served call's ``traceparent`` header/metadata here (HTTP: ``GET
/traces``; gRPC: ``demo.v1.Admin/GetTraces``): how many calls came with a valid one, an invalid
one or none, how many were sampled, and the most recent calls (trace id, route, sampled, the
server's own handling time in ms) — enough to check that every exemplar in a report names a
request the target saw, at the latency the target saw. Memory is bounded (:data:`KEEP`).

Pure and thread-safe (the gRPC target serves from a thread pool); it parses ``traceparent``
itself so the targets depend on no loadkit module beyond the generated code.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set and the OpenTelemetry SDK installed (``loadkit[otel]``),
each recorded call is also exported as a SERVER span (:class:`ServerSpans`), a child of the
span the ``traceparent`` names, so a load test run with ``--otel`` shows the chain end to end.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from typing import Any

#: Most recent calls kept with their trace id; older ones are only counted.
KEEP = 100_000
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def parse(value: str | None) -> tuple[str, bool] | None:
    """``(trace_id, sampled)`` of a valid version-00 traceparent, else None."""
    match = _TRACEPARENT.match(value.strip()) if value else None
    if match is None or match[1] == _ZERO_TRACE or match[2] == _ZERO_SPAN:
        return None
    return match[1], bool(int(match[3], 16) & 1)


class TraceLog:
    """Counts of the trace contexts received, and the last :data:`KEEP` calls that carried one."""

    def __init__(self, keep: int = KEEP, spans: ServerSpans | None = None) -> None:
        self._spans = spans
        self._lock = threading.Lock()
        self._recent: deque[tuple[str, str, bool, float]] = deque(maxlen=keep)
        self._counts = {"requests": 0, "valid": 0, "invalid": 0, "missing": 0, "sampled": 0}

    def record(self, traceparent: str | None, route: str, latency_ms: float, status: int | None = None) -> None:
        """One served call: its ``traceparent`` (None: none sent), route, handling time and status (for its span)."""
        parsed = parse(traceparent)
        if self._spans is not None:
            self._spans.emit(traceparent if parsed else None, route, latency_ms, status)
        with self._lock:
            counts = self._counts
            counts["requests"] += 1
            if parsed is None:
                counts["missing" if traceparent is None else "invalid"] += 1
                return
            counts["valid"] += 1
            counts["sampled"] += parsed[1]
            self._recent.append((parsed[0], route, parsed[1], latency_ms))

    def snapshot(self) -> dict[str, Any]:
        """Counts and ``recent`` calls as JSON-ready data."""
        with self._lock:
            recent = [
                {"trace_id": t, "route": r, "sampled": s, "latency_ms": round(ms, 3)} for t, r, s, ms in self._recent
            ]
            return {**self._counts, "recent": recent}

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self._counts = dict.fromkeys(self._counts, 0)


class ServerSpans:
    """A SERVER span per served call, exported over OTLP (the SDK's ``OTEL_*`` variables configure it).

    ``route`` "/pkg.Service/Method" is a gRPC call (``rpc.*``, ``rpc.grpc.status_code``), "GET
    /items/{item_id}" an HTTP one (``http.request.method``, ``http.route``,
    ``http.response.status_code``); the span ends now and started ``latency_ms`` ago.
    """

    def __init__(self, service: str) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._trace = trace
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self.provider.get_tracer("loadkit.targets")

    @classmethod
    def from_env(cls, kind: str) -> ServerSpans | None:
        """Spans for the ``kind`` target when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the SDK installed."""
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return None
        try:
            return cls(os.environ.get("OTEL_SERVICE_NAME") or f"loadkit-target-{kind}")
        except ImportError:
            return None

    def emit(self, traceparent: str | None, route: str, latency_ms: float, status: int | None) -> None:
        trace = self._trace
        parent = None
        match = _TRACEPARENT.match(traceparent.strip()) if traceparent else None
        if match is not None:
            remote = trace.SpanContext(
                int(match[1], 16), int(match[2], 16), is_remote=True, trace_flags=trace.TraceFlags(int(match[3], 16))
            )
            parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        name, attributes, failed = _server_span(route, status)
        end = time.time_ns()
        span = self._tracer.start_span(
            name,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes=attributes,
            start_time=end - int(latency_ms * 1e6),
        )
        if failed:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=end)


def _server_span(route: str, status: int | None) -> tuple[str, dict[str, Any], bool]:
    """Name, attributes and failed? of a server span (semantic conventions for RPC and HTTP servers)."""
    if route.startswith("/"):
        service, _, method = route[1:].rpartition("/")
        attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        if status is not None:
            attributes["rpc.grpc.status_code"] = status
        # a server's own errors: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
        return f"{service}/{method}", attributes, status in (2, 4, 12, 13, 14, 15)
    method, _, template = route.partition(" ")
    attributes = {"http.request.method": method, "http.route": template}
    if status is not None:
        attributes["http.response.status_code"] = status
    return route, attributes, status is not None and status >= 500
