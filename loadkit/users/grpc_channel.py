"""Channels of :class:`~loadkit.users.GrpcUser`: host parsing, TLS/mTLS, per-user or shared.

``host`` is ``grpc://host:port`` (plaintext), ``grpcs://host:port`` (TLS) or a bare
``host:port`` (plaintext). A shared channel (``--grpc-shared-channel``) is one per
process and target, reference-counted, closed when its last user stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from loadkit._locust.gevent import init_gevent
from loadkit.exceptions import ConfigError


@dataclass(frozen=True)
class ChannelSpec:
    """Everything that identifies a channel; equal specs may share one channel."""

    target: str
    secure: bool = False
    root_certificates: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


def parse_host(host: str | None) -> tuple[str, bool]:
    """``"grpcs://h:443"`` → ``("h:443", True)``; raises :class:`ConfigError` on a bad host."""
    if not host:
        raise ConfigError(
            "GrpcUser needs a host: set host = 'grpc://HOST:PORT' on the user class or pass --host on the command line"
        )
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "grpc", host
    if scheme not in ("grpc", "grpcs"):
        raise ConfigError(f"GrpcUser host {host!r} has scheme {scheme!r}: use grpc://HOST:PORT or grpcs://HOST:PORT")
    target = rest.rstrip("/")
    if not target or "/" in target:
        raise ConfigError(f"GrpcUser host {host!r} is not HOST:PORT: use e.g. grpc://127.0.0.1:50051")
    return target, scheme == "grpcs"


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path!r} ({exc.strerror}): fix the path on the user class") from exc


def credentials(spec: ChannelSpec) -> grpc.ChannelCredentials:
    """TLS credentials: the root CA (system roots when None) and, for mTLS, the client cert/key."""
    if (spec.client_cert is None) != (spec.client_key is None):
        raise ConfigError("mTLS needs both client_cert and client_key on the GrpcUser (got only one)")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(spec.root_certificates, "root_certificates"),
        private_key=_read(spec.client_key, "client_key"),
        certificate_chain=_read(spec.client_cert, "client_cert"),
    )


#: Reconnect backoff for load tests: gRPC's defaults (1 s, growing 1.6x per try up to 120 s) leave a
#: user failing for seconds to minutes after a restarted target is back; these retry a down
#: target at most every second. ``GrpcUser.channel_options`` overrides any of them.
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


def channel_options(spec: ChannelSpec) -> list[tuple[str, Any]]:
    """:data:`DEFAULT_OPTIONS` merged with the spec's options (the spec's value wins per name)."""
    return list({**dict(DEFAULT_OPTIONS), **dict(spec.options)}.items())


def open_channel(spec: ChannelSpec) -> grpc.Channel:
    """A new channel for ``spec`` (connects lazily, at the first call).

    Every loadkit channel opens here, so this is where grpcio is hooked into gevent's hub,
    once per process and before the first channel (:func:`loadkit._locust.gevent.init_gevent`).
    """
    init_gevent()
    options: Sequence[tuple[str, Any]] = channel_options(spec)
    if spec.secure:
        return grpc.secure_channel(spec.target, credentials(spec), options=options)
    return grpc.insecure_channel(spec.target, options=options)


class SharedChannels:
    """Reference-counted channels, one per :class:`ChannelSpec`, within one process."""

    def __init__(self) -> None:
        self._channels: dict[ChannelSpec, tuple[grpc.Channel, int]] = {}

    def acquire(self, spec: ChannelSpec) -> grpc.Channel:
        channel, users = self._channels.get(spec) or (open_channel(spec), 0)
        self._channels[spec] = (channel, users + 1)
        return channel

    def release(self, spec: ChannelSpec) -> None:
        entry = self._channels.get(spec)
        if entry is None:
            return
        channel, users = entry
        if users <= 1:
            del self._channels[spec]
            channel.close()
        else:
            self._channels[spec] = (channel, users - 1)

    def __len__(self) -> int:
        return len(self._channels)


#: The process's shared channels (``--grpc-shared-channel``).
shared_channels = SharedChannels()
