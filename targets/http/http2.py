"""Serve the HTTP target over HTTP/2 with hypercorn: h2c (cleartext) or TLS with ALPN.

uvicorn speaks HTTP/1.1 only; hypercorn speaks HTTP/1.1 and HTTP/2 on one port. Cleartext
(``--http2``): HTTP/1.1, HTTP/2 with prior knowledge (a client that opens with the HTTP/2
preface) and the ``Upgrade: h2c`` dance. With ``--certfile``/``--keyfile``: TLS, ALPN offering
``h2`` then ``http/1.1``, so what a client gets is what it negotiated; the target records the
version of each request (``GET /protocols``), which is how a test tells an HTTP/2 run from a
silent fallback.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpServing:
    """How the HTTP target serves: uvicorn (HTTP/1.1) by default; hypercorn when ``http2``."""

    http2: bool = False
    certfile: str | None = None
    keyfile: str | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None


def run_hypercorn(
    app: Any, sock: socket.socket, serving: HttpServing, grace_seconds: float, on_ready: Callable[[], None]
) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGTERM/SIGINT; ``on_ready()`` once it accepts."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from hypercorn.logging import Logger

    class ReadyLogger(Logger):
        """hypercorn says "Running on ..." once its socket accepts: that is the moment to announce."""

        async def info(self, message: str, *args: Any, **kwargs: Any) -> None:
            if message.startswith("Running on"):
                on_ready()
            await super().info(message, *args, **kwargs)

    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here
    config.graceful_timeout = grace_seconds
    config.accesslog = None
    config.errorlog = log
    config.logger_class = ReadyLogger
    config.loglevel = "WARNING"
    if serving.tls:
        config.certfile = serving.certfile
        config.keyfile = serving.keyfile
        config.alpn_protocols = ["h2", "http/1.1"]
    asyncio.run(_serve_until_signal(serve, app, config))


async def _serve_until_signal(serve: Any, app: Any, config: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait, mode="asgi")
