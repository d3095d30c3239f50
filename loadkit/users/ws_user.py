"""``WebSocketUser``: a Locust user with one WebSocket connection, every request/reply timed.

See :mod:`loadkit.users.ws_session` for the events, failures and the client.
"""

from __future__ import annotations

from typing import Any, ClassVar

from gevent.pool import Group
from locust import User
from locust.env import Environment

from loadkit.exceptions import ConfigError
from loadkit.users._events import user_fire
from loadkit.users.spans import spans_for
from loadkit.users.tracing import trace_context_for
from loadkit.users.ws_session import WebSocketSession

_SCHEMES = {"ws://": "ws://", "wss://": "wss://", "http://": "ws://", "https://": "wss://"}


class WebSocketUser(User):
    """A Locust user for WebSocket services::

        class Echo(WebSocketUser):
            host = "ws://127.0.0.1:8080"     # or wss://; http(s):// is taken as ws(s)://
            path = "/ws/echo"                # connected on first use, again after a close

            @task
            def ping(self):
                self.ws.request({"op": "ping", "n": 1}, match=lambda m: m.get("n") == 1)

    ``self.ws`` is a :class:`~loadkit.users.ws_session.WebSocketSession`: ``connect(path)``,
    ``send(msg)``, ``receive(match=...)``, ``request(msg, match=...)`` and ``close()``. A
    request is one event (``"ws"``, the path or ``name=``) from the send to the matching
    reply; the connect is one (``"ws"``, ``"connect PATH"``); the first message after each
    connect adds the facet ``ws-ttfm``. A close by the server, a protocol error or a reply
    that does not come within ``timeout`` is a recorded failure (named after the close code)
    that ends the task; the next call reconnects. The connection closes when the user stops.
    """

    abstract = True
    #: Path connected on the first call (None: call ``self.ws.connect(path)`` yourself).
    path: ClassVar[str | None] = None
    #: Seconds a connect or a reply may take before it is a timeout failure.
    timeout: ClassVar[float] = 10.0
    #: Headers of the handshake (e.g. Authorization).
    headers: ClassVar[dict[str, str]] = {}
    #: wss://: verify the server against this CA bundle (path), the system's (True), or not at all (False).
    verify: ClassVar[bool | str] = True

    ws: WebSocketSession

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        host = self.host or ""
        scheme = next((s for s in _SCHEMES if host.startswith(s)), None)
        if scheme is None:
            raise ConfigError(
                f"{type(self).__name__} host {host!r} is not a WebSocket URL: set host = 'ws://HOST:PORT' "
                "(or wss://), or pass --host"
            )
        self.ws = WebSocketSession(
            _SCHEMES[scheme] + host[len(scheme) :],
            user_fire(self, environment.events.request.fire),  # context() merged into every event
            timeout=self.timeout,
            headers=dict(self.headers),
            verify=self.verify,
            trace=None if (tracing := trace_context_for(environment)) is None else tracing.new,
            spans=spans_for(environment),  # --otel: the handshake's span context is sent instead
        )
        self.ws.path = self.path
        self.ws.name = (self.path or "").partition("?")[0]

    def start(self, group: Group) -> Any:
        greenlet = super().start(group)
        greenlet.link(lambda _g: self.ws.close())
        return greenlet
