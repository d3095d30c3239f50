"""The ``+otel`` variants of bench/instructions.py: what Locust's ``--otel`` costs loadkit's users per call.

``grpc-unary+otel`` and ``rest+otel`` are ``grpc-unary`` and ``rest`` with ``--otel`` on: each call a
CLIENT span (semantic-convention attributes, its context sent as the ``traceparent``) under one
iteration span per task run (:mod:`loadkit.users.spans`, :mod:`loadkit.run.otel`), on the SDK's
``TracerProvider`` with a ``BatchSpanProcessor`` as Locust sets it up. The exporter drops what it
gets: the OTLP encoding and sending run in the processor's export, off the per-call path, and
depend on the collector, so they are not in the count. Not budgeted (bench/_report.py's
references only): ``--otel`` is the user's choice of a tracing backend, not loadkit's overhead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def options() -> Any:
    """A run's options with ``--otel`` on, after installing the SDK's tracer provider as Locust's ``--otel`` does."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from loadkit import config

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop()))
        trace.set_tracer_provider(provider)
    namespace = config.defaults()
    namespace.otel = True
    return namespace


def install(environment: Any) -> None:
    """The iteration spans (what the plugin installs in a run with --otel)."""
    from loadkit.run import otel

    assert otel.install(environment), "--otel is on, the SDK's provider set: spans expected"


def register(
    variants: dict[str, tuple[str, Callable[[dict[str, str], Any], None]]], grpc_user: Any, http_user: Any
) -> None:
    """Add ``grpc-unary+otel`` and ``rest+otel`` (trace="otel": see :func:`bench._variants.run_user`)."""
    variants["grpc-unary+otel"] = ("grpc", lambda a, w: grpc_user("unary", a["grpc"], w, False, trace="otel"))
    variants["rest+otel"] = ("http", lambda a, w: http_user("rest", a["http"], w, False, trace="otel"))
