"""WebSockets with WebSocketUser: request/reply on an echo route and a pub/sub topic.

    loadkit target http --port 8080 &
    locust -f locustfiles/websocket_echo.py --headless -u 10 -r 10 -t 10s

Entries: ``connect /ws/echo`` (the handshake), ``/ws/echo`` (send -> matching reply),
``ws-ttfm /ws/echo`` (time from the connect's start to the first message: a facet, not a
request), the same for ``/ws/pubsub/{topic}``. A server close is a failure named after its
code ("closed by server: 1011 (internal error)"), a reply that does not come within
``timeout`` a timeout failure; the next call reconnects.
"""

from __future__ import annotations

import itertools
import os

from locust import between, task

from loadkit import WebSocketUser

_ids = itertools.count()


class Echo(WebSocketUser):
    host = os.environ.get("DEMO_HTTP_HOST", "ws://127.0.0.1:8080")
    path = "/ws/echo"
    timeout = 5.0
    wait_time = between(0.01, 0.05)

    @task
    def echo(self) -> None:
        n = next(_ids)
        self.ws.request({"op": "echo", "n": n}, match=lambda reply: reply.get("n") == n)


class Chat(WebSocketUser):
    """Every member of the room hears every message; each times its own message's round trip."""

    host = os.environ.get("DEMO_HTTP_HOST", "ws://127.0.0.1:8080")
    path = "/ws/pubsub/room1"
    timeout = 5.0
    wait_time = between(0.05, 0.1)

    @task
    def say(self) -> None:
        n = next(_ids)
        self.ws.request({"from": id(self), "n": n}, match=lambda m: m.get("n") == n, name="/ws/pubsub/{topic}")
        self.ws.inbox.clear()  # the others' messages: heard, not timed
