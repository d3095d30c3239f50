"""Who arrived how: HTTP versions per request and distinct connections, for the HTTP target.

A load test of HTTP/2 must prove two things from the server's side: that its requests
arrived as HTTP/2 (not silently downgraded to HTTP/1.1), and that each user kept to one
connection. ASGI gives every request ``scope["http_version"]`` ("1.1", "2") and
``scope["client"]`` (the peer's host and port): a connection is one distinct client address
per version. WebSocket sessions are counted apart (``websocket``). Pure and thread-safe.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

#: Distinct client addresses remembered per version; past it, connections are no longer told apart.
MAX_TRACKED = 100_000


class ProtocolCounters:
    """Requests per HTTP version and distinct connections (client addresses) per version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._clients: dict[str, set[tuple[str, int]]] = {}
        self._websockets = 0

    def on_request(self, scope: Mapping[str, Any]) -> None:
        """Count one request of ``scope`` (an ASGI http scope)."""
        version = str(scope.get("http_version") or "?")
        client = scope.get("client")
        with self._lock:
            self._requests[version] += 1
            seen = self._clients.setdefault(version, set())
            if client is not None and len(seen) < MAX_TRACKED:
                seen.add((str(client[0]), int(client[1])))

    def on_websocket(self) -> None:
        """Count one accepted WebSocket session (its messages are counted per route)."""
        with self._lock:
            self._websockets += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"requests": {"2": n, ...}, "connections": {"2": m, ...}, "websockets": k}``."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "connections": {version: len(clients) for version, clients in self._clients.items()},
                "websockets": self._websockets,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._clients.clear()
            self._websockets = 0
