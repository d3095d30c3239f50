"""Is a bundled target up and serving? The check behind ``loadkit target check`` and the
compose healthchecks (a container's health is what the target itself says, not an open port).

HTTP: ``GET /health`` answers 200 (over TLS with ``cafile``: a target served with ``--certfile``
is probed as clients reach it, its certificate checked against that CA bundle). gRPC: the standard
``grpc.health.v1.Health/Check`` of the whole server answers SERVING. Both with a short deadline,
so a hung target is unhealthy.
No Locust, no gevent: this runs from a plain process.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

KINDS = ("http", "grpc")


def probe(kind: str, address: str, timeout: float = 2.0, cafile: str | None = None) -> str | None:
    """None when the target at ``address`` ("host:port") is healthy, else why not (one line).

    ``cafile``: probe the HTTP target over TLS, trusting that PEM bundle (the bundled gRPC
    target serves no TLS, so it is refused there).
    """
    if kind == "http":
        return _probe_http(address, timeout, cafile)
    if cafile is not None:
        raise ValueError("a CA file is for the HTTP target (--certfile); the bundled gRPC target serves no TLS")
    if kind == "grpc":
        return _probe_grpc(address, timeout)
    raise ValueError(f"unknown target kind {kind!r}: use one of {', '.join(KINDS)}")


def _probe_http(address: str, timeout: float, cafile: str | None) -> str | None:
    url = f"{'https' if cafile else 'http'}://{address}/health"
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return None if resp.status == 200 else f"{url} answered {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"


def _probe_grpc(address: str, timeout: float) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            return f"grpc health check of {address}: {exc.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"grpc health check of {address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None
