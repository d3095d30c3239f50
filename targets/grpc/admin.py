"""Served-call counters of the gRPC target, and the ``demo.v1.Admin`` service that exposes them.

A call is counted when the server starts handling it (in a server interceptor, before the
handler runs), so the counts match what clients sent even for calls that then fail.
Calls to ``demo.v1.Admin`` itself are not counted. :class:`TracingInterceptor` records each
counted call's ``traceparent`` and handling time (:mod:`loadkit.targets.traces`), which
``Admin/GetTraces`` returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc
from loadkit.targets.counters import ServedCounters
from loadkit.targets.traces import TraceLog

ADMIN_PREFIX = "/demo.v1.Admin/"
#: The calls whose trace context is recorded: the service under test (not health, reflection, Admin).
TRACED_PREFIX = "/demo.v1.Demo/"


#: Counts per full method name (``/demo.v1.Demo/GetItem``).
CallCounters = ServedCounters


class CountingInterceptor(grpc.ServerInterceptor):
    """Counts every incoming call except the Admin service's own."""

    def __init__(self, counters: CallCounters) -> None:
        self._counters = counters

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        if not method.startswith(ADMIN_PREFIX):
            self._counters.increment(method)
        return continuation(handler_call_details)


class TracingInterceptor(grpc.ServerInterceptor):
    """Records each ``demo.v1.Demo`` call's ``traceparent`` and handling time (streams: to the last message)."""

    def __init__(self, traces: TraceLog) -> None:
        self._traces = traces

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(TRACED_PREFIX):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        raw = metadata.get("traceparent")
        traceparent = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        record = self._traces.record

        def timed(behavior: Callable[..., Any], streams: bool) -> Callable[..., Any]:
            def unary(request: Any, context: Any) -> Any:
                start = time.perf_counter()
                try:
                    return behavior(request, context)
                finally:
                    record(traceparent, method, (time.perf_counter() - start) * 1000.0, _code(context))

            def streaming(request: Any, context: Any) -> Iterator[Any]:
                start = time.perf_counter()
                try:
                    yield from behavior(request, context)
                finally:
                    record(traceparent, method, (time.perf_counter() - start) * 1000.0, _code(context))

            return streaming if streams else unary

        kinds = [
            ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
            ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
            ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
            ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
        ]
        for attribute, make, streams in kinds:
            behavior = getattr(handler, attribute)
            if behavior is not None:
                return make(
                    timed(behavior, streams),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


class AdminServicer(admin_pb2_grpc.AdminServicer):
    """Reads and resets :class:`CallCounters` (and the :class:`TraceLog`) over gRPC."""

    def __init__(self, counters: CallCounters, traces: TraceLog | None = None) -> None:
        self._counters = counters
        self._traces = traces or TraceLog()

    def GetTraces(self, request: admin_pb2.GetTracesRequest, context: Any) -> admin_pb2.Traces:
        snapshot = self._traces.snapshot()
        recent = [
            admin_pb2.TraceRecord(
                trace_id=r["trace_id"], method=r["route"], sampled=r["sampled"], latency_ms=r["latency_ms"]
            )
            for r in snapshot.pop("recent")
        ]
        return admin_pb2.Traces(**snapshot, recent=recent)

    def GetCounters(self, request: admin_pb2.GetCountersRequest, context: Any) -> admin_pb2.Counters:
        return admin_pb2.Counters(calls=self._counters.snapshot())

    def ResetCounters(self, request: admin_pb2.ResetCountersRequest, context: Any) -> admin_pb2.Counters:
        self._counters.reset()
        self._traces.reset()
        return admin_pb2.Counters(calls={})


def _code(context: Any) -> int:
    """The status the handler set (``abort``/``set_code``) as a number; 0 (OK) when it set none."""
    code = context.code()
    return code.value[0] if isinstance(code, grpc.StatusCode) else int(code or 0)
