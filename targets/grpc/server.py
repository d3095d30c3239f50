"""``serve(host, port)``: the demo gRPC target, in the manner of grpc's examples/python.

Serves ``demo.v1.Demo``, ``grpc.health.v1.Health``, server reflection and ``demo.v1.Admin``
(served-call counters). Must run in a process that gevent did not patch: a grpcio server
in a patched process serves nothing.

Example::

    server, port = serve("127.0.0.1", 0)
    ...
    server.stop(grace=5).wait()
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from loadkit.exceptions import TargetError
from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc, demo_pb2, demo_pb2_grpc
from loadkit.targets.grpc.admin import AdminServicer, CallCounters, CountingInterceptor, TracingInterceptor
from loadkit.targets.grpc.servicer import DemoServicer
from loadkit.targets.traces import ServerSpans, TraceLog

log = logging.getLogger(__name__)

#: Streams hold a worker thread each for their whole life, so the pool is sized for load.
MAX_WORKERS = 256
#: Seconds in-flight calls get to finish on SIGTERM/SIGINT before they are cancelled.
GRACE_SECONDS = 5.0
_MAX_MESSAGE = 64 * 1024 * 1024

DEMO_SERVICE = demo_pb2.DESCRIPTOR.services_by_name["Demo"].full_name
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(host: str = "127.0.0.1", port: int = 0, *, max_workers: int = MAX_WORKERS) -> tuple[grpc.Server, int]:
    """Build, bind and start the target; return the started server and the port it bound.

    ``port=0`` picks a free port. Raises :class:`~loadkit.exceptions.TargetError` when the
    port cannot be bound (in use, or a host not on this machine).
    """
    _check_free(host, port)
    counters = CallCounters()
    traces = TraceLog(spans=ServerSpans.from_env("grpc"))  # SERVER spans when OTEL_EXPORTER_OTLP_ENDPOINT is set
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="demo-grpc"),
        interceptors=[CountingInterceptor(counters), TracingInterceptor(traces)],
        options=[
            ("grpc.so_reuseport", 0),  # a second server on a busy port must fail, not share it
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ],
        maximum_concurrent_rpcs=None,
    )
    demo_pb2_grpc.add_DemoServicer_to_server(DemoServicer(), server)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(counters, traces), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (DEMO_SERVICE, ADMIN_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    address = format_address(host, port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise TargetError(_bind_error(host, port)) from exc
    if bound == 0:
        raise TargetError(_bind_error(host, port))
    for name in ("", DEMO_SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.start()
    server.health_servicer = health_servicer  # type: ignore[attr-defined]  # for graceful shutdown
    return server, bound


def _check_free(host: str, port: int) -> None:
    """Fail with a clean one-line error before grpc's C core logs its own bind failure to stderr."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise TargetError(_bind_error(host, port)) from exc


def _bind_error(host: str, port: int) -> str:
    return (
        f"cannot listen on {format_address(host, port)}: port {port} is in use or {host} is not an address"
        " of this machine; stop what listens there or pass another --port (0 picks a free one)"
    )


def run(host: str, port: int, on_ready: Callable[[int], None], grace: float = GRACE_SECONDS) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully; call ``on_ready(port)`` once serving."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping (grace %.0f s)", signal.Signals(signum).name, grace)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server, bound = serve(host, port)
        on_ready(bound)
        while not stop.wait(1.0):
            pass
        server.health_servicer.enter_graceful_shutdown()  # type: ignore[attr-defined]
        server.stop(grace).wait()
        log.info("stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
