"""Served-call counters of the gRPC target, and the ``demo.v1.Admin`` service that exposes them.

A call is counted when the server starts handling it (in a server interceptor, before the
handler runs), so the counts match what clients sent even for calls that then fail.
Calls to ``demo.v1.Admin`` itself are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc
from loadkit.targets.counters import ServedCounters

ADMIN_PREFIX = "/demo.v1.Admin/"


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


class AdminServicer(admin_pb2_grpc.AdminServicer):
    """Reads and resets :class:`CallCounters` over gRPC."""

    def __init__(self, counters: CallCounters) -> None:
        self._counters = counters

    def GetCounters(self, request: admin_pb2.GetCountersRequest, context: Any) -> admin_pb2.Counters:
        return admin_pb2.Counters(calls=self._counters.snapshot())

    def ResetCounters(self, request: admin_pb2.ResetCountersRequest, context: Any) -> admin_pb2.Counters:
        self._counters.reset()
        return admin_pb2.Counters(calls={})
