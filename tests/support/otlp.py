"""A real OTLP/gRPC trace receiver on 127.0.0.1, for tests of ``--otel``: what the exporters sent.

It implements ``opentelemetry.proto.collector.trace.v1.TraceService`` (the ``opentelemetry-proto``
package's generated code) on a grpcio server, so Locust's OTLP exporter (and the bundled targets')
talk to it exactly as to a collector::

    with OtlpReceiver() as receiver:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        ...
        spans = receiver.spans()

and, for unit tests, :func:`memory_spans`: loadkit's :class:`~loadkit.users.spans.Spans` on a real SDK
tracer whose finished spans stay in memory.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loadkit.users.spans import Spans

#: OTLP's Span.SpanKind and Status.StatusCode numbers.
INTERNAL, SERVER, CLIENT = 1, 2, 3
UNSET, OK, ERROR = 0, 1, 2


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, ids as lowercase hex ('' for no parent)."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent: str
    kind: int
    status: int
    message: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Collects every span exported to it; ``endpoint`` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def Export(self, request: Any, context: Any) -> Any:  # the service's method name
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent=span.parent_span_id.hex(),
                            kind=span.kind,
                            status=span.status.code,
                            message=span.status.message,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            return list(self._spans)

    def __enter__(self) -> OtlpReceiver:
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop(grace=None)


def memory_spans(state: str | None = None) -> tuple[Spans, InMemorySpanExporter]:
    """A :class:`~loadkit.users.spans.Spans` on its own SDK provider whose finished spans stay in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Spans(provider.get_tracer("test"), state), exporter
