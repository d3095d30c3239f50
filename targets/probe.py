"""Is a bundled target up and serving? The check behind ``loadkit target check`` and the
compose healthchecks (a container's health is what the target itself says, not an open port).

HTTP: ``GET /health`` answers 200. gRPC: the standard ``grpc.health.v1.Health/Check`` of the
whole server answers SERVING. Both with a short deadline, so a hung target is unhealthy.
No Locust, no gevent: this runs from a plain process.
"""

from __future__ import annotations

import urllib.error
import urllib.request

KINDS = ("http", "grpc")


def probe(kind: str, address: str, timeout: float = 2.0) -> str | None:
    """None when the target at ``address`` ("host:port") is healthy, else why not (one line)."""
    if kind == "http":
        return _probe_http(address, timeout)
    if kind == "grpc":
        return _probe_grpc(address, timeout)
    raise ValueError(f"unknown target kind {kind!r}: use one of {', '.join(KINDS)}")


def _probe_http(address: str, timeout: float) -> str | None:
    url = f"http://{address}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
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
