"""TLS contexts of loadkit's HTTP/2 and WebSocket users: one per setting and process, shared.

Building a context loads a CA bundle — ~150 ms of CPU that would block every greenlet of
the process once per user (and leave gevent's clock stale, so timers set right after fire
early). Contexts are kept per client kind: httpcore sets ALPN (h2, http/1.1) on the context
it is given, which a WebSocket handshake (HTTP/1.1 only) must not offer.
"""

from __future__ import annotations

import functools
import ssl
from typing import Literal

import httpx


@functools.lru_cache(maxsize=32)
def ssl_context(verify: bool | str, kind: Literal["http2", "ws"]) -> ssl.SSLContext:
    """The shared context for ``verify`` (a CA bundle's path, True: certifi's roots, False: no checks)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)
