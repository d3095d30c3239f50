"""Serve :func:`loadkit.targets.http.app.create_app` with uvicorn (or hypercorn for HTTP/2) on a socket bound up front.

Binding the socket ourselves turns "port in use" into a one-line
:class:`~loadkit.exceptions.TargetError` and tells us the real port when ``port=0``.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from loadkit.exceptions import TargetError
from loadkit.targets.http.app import create_app
from loadkit.targets.http.http2 import HttpServing, run_hypercorn

log = logging.getLogger(__name__)

#: Seconds in-flight requests get to finish on SIGTERM/SIGINT.
GRACE_SECONDS = 5


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port``; :class:`TargetError` when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TargetError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what listens on port {port}"
            " or pass another --port (0 picks a free one)"
        ) from exc
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that reports when it is accepting connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_ready()


def _ignore(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it; after a graceful stop there is nothing left to do."""


def run(host: str, port: int, on_ready: Callable[[int], None], serving: HttpServing | None = None) -> None:
    """Serve until SIGTERM or SIGINT (gracefully); call ``on_ready(port)`` once serving.

    ``serving``: HTTP/2 (h2c, or TLS with ALPN) through hypercorn (:mod:`~loadkit.targets.http.http2`).
    """
    sock = bind(host, port)
    bound = int(sock.getsockname()[1])
    if serving is not None and serving.http2:
        try:
            run_hypercorn(create_app(), sock, serving, GRACE_SECONDS, lambda: on_ready(bound))
            log.info("stopped")
        finally:
            sock.close()
        return
    config = uvicorn.Config(
        create_app(),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        lifespan="off",
    )
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _Server(config, lambda: on_ready(bound)).run(sockets=[sock])
        log.info("stopped")
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
