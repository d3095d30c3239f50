"""Checks run once before any load: every user class's host is usable and reachable.

Without them a wrong ``--host`` or a target that is not up yet turns into a full run of
failed requests (or users that crash at spawn) and a report that hides the cause. With
them a headless run (local runner or master) stops before the first user with one line
naming the host and the fix, exit 2.

Three steps, in order, each raising a :class:`~loadkit.exceptions.LoadkitError`:

1. :func:`endpoints`: the host of each user class has a scheme its kind speaks
   (``http(s)://`` for HttpUser/FastHttpUser/RestUser/Http2User; ``ws(s)://`` or ``http(s)://``
   for WebSocketUser; ``grpc(s)://`` or ``HOST:PORT`` for GrpcUser) — pure, always on;
2. a GrpcUser's runtime ``.proto`` compiles and holds its ``service`` — local, always on;
3. :func:`check_reachable`: a TCP connect (short timeout) to each host, then a GrpcUser
   that relies on server reflection finds its service there. Network checks: off with
   ``--no-loadkit-preflight`` (a master that cannot reach the target its workers can), and
   off in a plain Locust run (no loadkit class or option, :mod:`loadkit.plain`): Locust
   connects to nothing before its users do, and a locustfile that only imports loadkit
   keeps that (a target still starting, a Service not ready yet, are then the users' failures).
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from loadkit.exceptions import ConfigError

#: Seconds a preflight TCP connect may take before the host counts as unreachable.
CONNECT_TIMEOUT = 3.0
HTTP = "http"
GRPC = "grpc"
WS = "ws"
_HTTP_PORTS = {"http": 80, "https": 443}
_WS_PORTS = {"ws": 80, "wss": 443, **_HTTP_PORTS}


@dataclass(frozen=True)
class Endpoint:
    """Where one user class sends its load: ``user`` class name, ``host`` as given, ``address``."""

    user: str
    host: str
    address: tuple[str, int]


def endpoint(user: str, kind: str, host: str) -> Endpoint:
    """The address ``host`` names for a user of ``kind`` (:data:`HTTP` or :data:`GRPC`); pure.

    >>> endpoint("Api", HTTP, "http://127.0.0.1:8080/v1").address
    ('127.0.0.1', 8080)
    """
    if kind == GRPC:
        from loadkit.users.grpc_channel import parse_host

        target, secure = parse_host(host)
        return Endpoint(user, host, _split_host_port(user, host, target, 443 if secure else None))
    parts = urlsplit(host)
    ports, use = (_WS_PORTS, "ws://HOST[:PORT] or wss://HOST[:PORT]") if kind == WS else (_HTTP_PORTS, "")
    if parts.scheme not in ports or not parts.hostname:
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ConfigError(
            f"{user} host {host!r} has {scheme}: "
            f"use {use or 'http://HOST[:PORT] or https://HOST[:PORT]'} (--host or the class's host)"
        )
    try:
        port = parts.port if parts.port is not None else ports[parts.scheme]
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError as exc:
        raise ConfigError(f"{user} host {host!r} has a bad port (1-65535): use e.g. http://127.0.0.1:8080") from exc
    return Endpoint(user, host, (parts.hostname, port))


def _split_host_port(user: str, host: str, target: str, default_port: int | None) -> tuple[str, int]:
    name, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        if default_port is None:
            raise ConfigError(f"{user} host {host!r} has no port: use e.g. grpc://127.0.0.1:50051")
        name, port = target, str(default_port)
    if not 0 < int(port) < 65536:
        raise ConfigError(f"{user} host {host!r} has a bad port {port} (1-65535): use e.g. grpc://127.0.0.1:50051")
    return name.strip("[]"), int(port)


def unreachable(address: tuple[str, int], timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why nothing answers a TCP connect to ``address`` ("connection refused", …), or None."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except socket.gaierror as exc:
        return f"unknown host name ({exc.strerror})"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            return "connection refused"
        return exc.strerror or str(exc)


def check_reachable(points: Iterable[Endpoint], timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise :class:`ConfigError` for the first endpoint nothing listens on (each address tried once)."""
    seen: set[tuple[str, int]] = set()
    for point in points:
        if point.address in seen:
            continue
        seen.add(point.address)
        problem = unreachable(point.address, timeout)
        if problem is not None:
            raise ConfigError(
                f"cannot reach {point.host} for {point.user} ({problem}): start the target or fix --host "
                "(--no-loadkit-preflight skips this check)"
            )


def user_kind(user_class: type) -> str | None:
    """:data:`GRPC`, :data:`HTTP`, :data:`WS` or None (a user whose protocol loadkit does not know)."""
    grpc_user = sys.modules.get("loadkit.users.grpc_user")  # imported only if some locustfile uses it
    if grpc_user is not None and issubclass(user_class, grpc_user.GrpcUser):
        return GRPC
    ws_user = sys.modules.get("loadkit.users.ws_user")
    if ws_user is not None and issubclass(user_class, ws_user.WebSocketUser):
        return WS
    http2_user = sys.modules.get("loadkit.users.http2_user")
    if http2_user is not None and issubclass(user_class, http2_user.Http2User):
        return HTTP
    from locust import FastHttpUser, HttpUser

    if issubclass(user_class, (HttpUser, FastHttpUser)):
        return HTTP
    return None


def endpoints(user_classes: Sequence[type], override_host: str | None) -> list[Endpoint]:
    """The endpoint of every user class of a known kind with a host (``--host`` wins, as in Locust)."""
    found = []
    for cls in user_classes:
        kind = user_kind(cls)
        host = override_host or getattr(cls, "host", None)
        if kind is not None and host:
            found.append(endpoint(cls.__name__, kind, host))
    return found


def run(user_classes: Sequence[type], override_host: str | None, network: bool) -> None:
    """All checks of the module docstring, in order; ``network=False`` skips step 3."""
    points = endpoints(user_classes, override_host)
    grpc_classes = [cls for cls in user_classes if user_kind(cls) == GRPC]
    reflected = [cls for cls in grpc_classes if _uses_reflection(cls)]
    for cls in grpc_classes:
        if cls not in reflected:
            _grpc_methods(cls, override_host)
    if not network:
        return
    check_reachable(points)
    for cls in reflected:
        _grpc_methods(cls, override_host)


def _uses_reflection(cls: Any) -> bool:
    return cls.service is not None and cls.proto is None and cls.stub_class is None


def _grpc_methods(cls: Any, override_host: str | None) -> None:
    """Load a GrpcUser's methods as its users will (compile the .proto, or ask reflection)."""
    from loadkit.users.grpc_channel import open_channel

    spec = cls._channel_spec(override_host or cls.host)
    source = cls._spec_source(spec.target)
    channel = open_channel(spec)
    try:
        source(channel)
    finally:
        channel.close()
