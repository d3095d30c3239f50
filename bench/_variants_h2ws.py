"""The HTTP/2 and WebSocket variants of bench/instructions.py, registered into ``bench._variants.VARIANTS``.

Each user variant has a bare reference on the same client, in a plain gevent loop with no
Locust at all — the issue's measure: ``http2`` over ``bare-httpx-h2`` (httpx with h2, cleartext
prior knowledge, against the target served by hypercorn) and ``ws`` over ``bare-ws``
(websocket-client, one text message and its echo per call, on the target's ``/ws/echo``).
A WebSocket round trip on this client is cheap (~156k instructions), so Locust's own part of
any user — its task loop and one request event, ~61k (the ``loop`` and ``events`` variants) —
is ~40 % of it by itself: ``locust-ws`` (the client by hand in a Locust ``User``) is the floor
that WebSocketUser is compared with as well.

Both ask for :data:`DELAY_MS` late answers like every other variant (HTTP: ``?delay_ms=``;
WebSocket: the session's ``?delay_ms=``, each echo that late), for the same reason: each call
parks its greenlet and goes through gevent's hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

DELAY_MS = 10
PATH = f"/health?delay_ms={DELAY_MS}"
WS_PATH = f"/ws/echo?delay_ms={DELAY_MS}"
MESSAGE = "ping"


class Tick(Protocol):
    def tick(self) -> bool: ...


RunUser = Callable[[type, bool], None]


def bare_httpx_h2(url: str, window: Tick) -> None:
    """The floor: one ``httpx.Client`` (HTTP/2 prior knowledge) in a gevent loop, the body read and parsed."""
    import gevent
    import httpx

    def loop() -> None:
        with httpx.Client(base_url=url, http1=False, http2=True) as client:
            while window.tick():
                client.request("GET", PATH).json()

    gevent.spawn(loop).get()


def http2_user(url: str, window: Tick, plugin: bool, run_user: RunUser) -> None:
    """Http2User: ``self.rest("GET", PATH)`` in a task."""
    from locust import constant, task
    from locust.exception import StopUser

    from loadkit import Http2User

    class H2(Http2User):
        host = url
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.rest("GET", PATH)

    run_user(H2, plugin)


def bare_ws(url: str, window: Tick) -> None:
    """The floor: one websocket-client connection in a gevent loop, a text message sent and its echo read."""
    import gevent
    import websocket

    def loop() -> None:
        ws = websocket.WebSocket(skip_utf8_validation=True)
        ws.connect(url.replace("http://", "ws://", 1) + WS_PATH, timeout=60)
        while window.tick():
            ws.send(MESSAGE)
            ws.recv()
        ws.close()

    gevent.spawn(loop).get()


def locust_ws(url: str, window: Tick, run_user: RunUser) -> None:
    """The same client by hand in Locust: a ``User`` whose task sends, reads the echo and fires one request event.

    What a hand-written Locust WebSocket user costs at the least — the client, Locust's task loop
    and one request event into Locust's stats — so ``ws`` over this is what WebSocketUser adds.
    """
    from time import perf_counter

    import websocket
    from locust import User, constant, task
    from locust.exception import StopUser

    class Hand(User):
        wait_time = constant(0)

        def on_start(self) -> None:
            self.sock = websocket.WebSocket(skip_utf8_validation=True)
            self.sock.connect(url.replace("http://", "ws://", 1) + WS_PATH, timeout=60)

        @task
        def call(self) -> None:
            if not window.tick():
                self.sock.close()
                raise StopUser()
            start = perf_counter()
            self.sock.send(MESSAGE)
            reply = self.sock.recv()
            self.environment.events.request.fire(
                request_type="ws",
                name="/ws/echo",
                response_time=(perf_counter() - start) * 1000.0,
                response_length=len(reply),
                exception=None,
                context={},
            )

    run_user(Hand, False)


def ws_user(url: str, window: Tick, plugin: bool, run_user: RunUser) -> None:
    """WebSocketUser: ``self.ws.request(MESSAGE)`` in a task (connected before the window opens)."""
    from locust import constant, task
    from locust.exception import StopUser

    from loadkit import WebSocketUser

    class Ws(WebSocketUser):
        host = url
        path = WS_PATH
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.ws.request(MESSAGE)

    run_user(Ws, plugin)


def register(variants: dict[str, tuple[str, Callable[[dict[str, str], Any], None]]], run_user: RunUser) -> None:
    """Add this module's variants (target kinds: "http2" for hypercorn's h2c, "http" for WebSocket)."""
    variants["bare-httpx-h2"] = ("http2", lambda a, w: bare_httpx_h2(a["http2"], w))
    variants["http2"] = ("http2", lambda a, w: http2_user(a["http2"], w, False, run_user))
    variants["http2+plugin"] = ("http2", lambda a, w: http2_user(a["http2"], w, True, run_user))
    variants["bare-ws"] = ("http", lambda a, w: bare_ws(a["http"], w))
    variants["locust-ws"] = ("http", lambda a, w: locust_ws(a["http"], w, run_user))
    variants["ws"] = ("http", lambda a, w: ws_user(a["http"], w, False, run_user))
    variants["ws+plugin"] = ("http", lambda a, w: ws_user(a["http"], w, True, run_user))
