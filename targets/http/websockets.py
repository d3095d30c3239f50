"""The HTTP target's WebSocket routes: an echo and a pub/sub topic, with counters and faults.

``/ws/echo`` sends every message back as it came (text or binary). ``/ws/pubsub/{topic}``
sends every message to every session subscribed to the topic, the sender included, so a
publisher can time its own message's round trip. Counted like the HTTP routes, in the same
counters (``GET /counters``): ``"WS /ws/echo"`` per accepted session and
``"WS /ws/echo message"`` per message received.

Faults, as query parameters of the handshake (they hold for the whole session)::

    /ws/echo?delay_ms=50                      each reply 50 ms late
    /ws/echo?close_after=3&close_code=1011    after the 3rd message: close with 1011 (no reply to it)
    /ws/echo?silent=1                         read every message, never reply
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from loadkit.targets.counters import ServedCounters
from loadkit.targets.http.protocols import ProtocolCounters

MAX_DELAY_MS = 60_000
#: Close codes an application may send (RFC 6455 7.4: 1000-4999 less the reserved ones).
_RESERVED = frozenset({1004, 1005, 1006, 1015})


class Faults:
    """The faults a session asked for in its handshake's query; a bad value is a 1008 close (policy)."""

    def __init__(self, query: Any) -> None:
        self.delay_ms = _bounded(query, "delay_ms", 0, MAX_DELAY_MS, 0)
        self.close_after = _bounded(query, "close_after", 0, 1_000_000_000, 0)
        self.close_code = _bounded(query, "close_code", 1000, 4999, 1011)
        if self.close_code in _RESERVED:
            raise ValueError(f"close_code {self.close_code} is reserved (RFC 6455): use e.g. 1011 or 4000-4999")
        self.silent = query.get("silent") in ("1", "true")


def _bounded(query: Any, name: str, low: int, high: int, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValueError(f"{name} {raw!r} is not usable: send an integer {low}-{high}")
    return value


async def _accept(ws: WebSocket, route: str, counters: ServedCounters, protocols: ProtocolCounters) -> Faults | None:
    try:
        faults = Faults(ws.query_params)
    except ValueError as exc:
        await ws.close(code=1008, reason=str(exc)[:120])
        return None
    await ws.accept()
    counters.increment(f"WS {route}")
    protocols.on_websocket()
    return faults


async def _messages(ws: WebSocket, route: str, counters: ServedCounters, faults: Faults) -> Any:
    """Each message received (``{"text": ...}`` or ``{"bytes": ...}``), counted; closes per ``faults``."""
    received = 0
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        counters.increment(f"WS {route} message")
        received += 1
        if faults.close_after and received >= faults.close_after:
            await ws.close(code=faults.close_code, reason="injected close")
            return
        if faults.silent:
            continue
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        yield message


async def _send(ws: WebSocket, message: dict[str, Any]) -> None:
    if message.get("text") is not None:
        await ws.send_text(message["text"])
    else:
        await ws.send_bytes(message.get("bytes") or b"")


def add_websocket_routes(app: FastAPI, counters: ServedCounters, protocols: ProtocolCounters) -> None:
    """Register ``/ws/echo`` and ``/ws/pubsub/{topic}`` on ``app``."""
    topics: dict[str, set[WebSocket]] = {}

    @app.websocket("/ws/echo")
    async def echo(ws: WebSocket) -> None:
        faults = await _accept(ws, "/ws/echo", counters, protocols)
        if faults is None:
            return
        try:
            async for message in _messages(ws, "/ws/echo", counters, faults):
                await _send(ws, message)
        except WebSocketDisconnect:
            pass

    @app.websocket("/ws/pubsub/{topic}")
    async def pubsub(ws: WebSocket, topic: str) -> None:
        faults = await _accept(ws, "/ws/pubsub/{topic}", counters, protocols)
        if faults is None:
            return
        subscribers = topics.setdefault(topic, set())
        subscribers.add(ws)
        try:
            async for message in _messages(ws, "/ws/pubsub/{topic}", counters, faults):
                for subscriber in list(subscribers):
                    try:
                        await _send(subscriber, message)
                    except (WebSocketDisconnect, RuntimeError):  # that subscriber left meanwhile
                        subscribers.discard(subscriber)
        except WebSocketDisconnect:
            pass
        finally:
            subscribers.discard(ws)
            if not subscribers:
                topics.pop(topic, None)
