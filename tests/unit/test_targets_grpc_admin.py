"""Served-call counters of the gRPC target (targets/grpc/admin.py)."""

from __future__ import annotations

import threading
from typing import Any

import grpc

from loadkit.gen.demo.v1 import admin_pb2
from loadkit.targets.grpc.admin import AdminServicer, CallCounters, CountingInterceptor


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _continuation(details: Any) -> grpc.RpcMethodHandler | None:
    return None


def test_counters_are_thread_safe() -> None:
    counters = CallCounters()

    def hammer() -> None:
        for _ in range(1000):
            counters.increment("/m")

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot() == {"/m": 4000}
    counters.reset()
    assert counters.snapshot() == {}


def test_interceptor_counts_everything_but_admin() -> None:
    counters = CallCounters()
    interceptor = CountingInterceptor(counters)
    for method in ("/demo.v1.Demo/GetItem", "/demo.v1.Demo/GetItem", "/demo.v1.Admin/GetCounters", "/x.Y/Z"):
        interceptor.intercept_service(_continuation, _Details(method))  # type: ignore[arg-type]
    assert counters.snapshot() == {"/demo.v1.Demo/GetItem": 2, "/x.Y/Z": 1}


def test_admin_servicer_reads_and_resets() -> None:
    counters = CallCounters()
    counters.increment("/demo.v1.Demo/Chat")
    admin = AdminServicer(counters)
    assert dict(admin.GetCounters(admin_pb2.GetCountersRequest(), None).calls) == {"/demo.v1.Demo/Chat": 1}
    assert dict(admin.ResetCounters(admin_pb2.ResetCountersRequest(), None).calls) == {}
    assert counters.snapshot() == {}
