"""loadkit: distributed load testing of HTTP and gRPC services, built on Locust.

Use it from a locustfile::

    from loadkit import GrpcUser

Names are imported lazily (PEP 562): ``import loadkit`` alone imports neither Locust
nor gevent, so ``loadkit target grpc`` can serve gRPC from a process that gevent never
patched (a grpcio server in a patched process serves nothing). The first access to a
User class imports Locust, which patches the process, as under ``locust -f``.

Inside a Locust process (Locust already imported: a locustfile run by ``locust -f``),
``import loadkit`` also loads :mod:`loadkit.run.plugin`, so a locustfile with plain Locust
users gets loadkit's options (``--loadkit-data``, ``--threshold``, ...) and listeners from
``import loadkit`` alone. Locust parses its full command line after importing the
locustfile, so the options are known in time.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from loadkit._version import __version__
from loadkit.exceptions import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_THRESHOLDS,
    EXIT_USAGE,
    ConfigError,
    DataError,
    LoadkitError,
    ProtoError,
    TargetError,
)

# grpcio 1.80+ (grpc/grpc#43055): with fork support on, a process holding gRPC channels that
# starts a subprocess (fork + exec: locust workers, openssl, a target) sometimes has the child
# abort before exec ("Epoll1Poller ... epoll_wait error: Bad file descriptor", SIGABRT; measured
# here: ~1 fork in 6 under load). loadkit never uses gRPC in a forked child, so fork support is
# off unless the user set it. grpc reads the variable when it is imported: this runs before any
# loadkit module imports grpc (generated code included), not when the user imported grpc first.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


# Public name -> module defining it; resolved on first access.
_LAZY: dict[str, str] = {
    "Collector": "loadkit.fleet.collectors",
    "DataClient": "loadkit.fleet.client",
    "data": "loadkit.fleet.client",
    "register_collector": "loadkit.fleet.collectors",
    "start_agent": "loadkit.fleet.agent",
    "Attachment": "loadkit.library",
    "LoadTest": "loadkit.library",
    "LoadTestResult": "loadkit.library",
    "attach": "loadkit.library",
    "GrpcCallError": "loadkit.users",
    "GrpcClient": "loadkit.users",
    "GrpcUser": "loadkit.users",
    "Http2User": "loadkit.users",
    "MeasureFailure": "loadkit.users",
    "Measurement": "loadkit.users",
    "ResponseStream": "loadkit.users",
    "RestError": "loadkit.users",
    "RestUser": "loadkit.users",
    "WebSocketError": "loadkit.users",
    "WebSocketSession": "loadkit.users",
    "WebSocketUser": "loadkit.users",
    "measure": "loadkit.users",
}

if TYPE_CHECKING:  # what type checkers and IDEs see behind the lazy names
    from loadkit.fleet.agent import start_agent
    from loadkit.fleet.client import DataClient, data
    from loadkit.fleet.collectors import Collector, register_collector
    from loadkit.library import Attachment, LoadTest, LoadTestResult, attach
    from loadkit.users import (
        GrpcCallError,
        GrpcClient,
        GrpcUser,
        Http2User,
        MeasureFailure,
        Measurement,
        ResponseStream,
        RestError,
        RestUser,
        WebSocketError,
        WebSocketSession,
        WebSocketUser,
        measure,
    )

__all__ = [
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_THRESHOLDS",
    "EXIT_USAGE",
    "Attachment",
    "Collector",
    "ConfigError",
    "DataClient",
    "DataError",
    "GrpcCallError",
    "GrpcClient",
    "GrpcUser",
    "Http2User",
    "LoadTest",
    "LoadTestResult",
    "LoadkitError",
    "MeasureFailure",
    "Measurement",
    "ProtoError",
    "ResponseStream",
    "RestError",
    "RestUser",
    "TargetError",
    "WebSocketError",
    "WebSocketSession",
    "WebSocketUser",
    "__version__",
    "attach",
    "data",
    "measure",
    "register_collector",
    "start_agent",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loadkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    _load_plugin_in_a_locust_process()  # a User class imported Locust just now (library mode)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _load_plugin_in_a_locust_process() -> None:
    import sys

    if "locust" in sys.modules:  # never imports Locust itself: a target process stays unpatched
        importlib.import_module("loadkit.run.plugin")


_load_plugin_in_a_locust_process()
