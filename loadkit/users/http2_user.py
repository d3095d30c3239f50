"""``Http2User``: :class:`~loadkit.RestUser`'s ``rest()`` over HTTP/2, one multiplexed connection per user.

Why a sibling class and not a switch on ``RestUser``: ``RestUser`` *is* Locust's
``FastHttpUser`` (geventhttpclient, HTTP/1.1 only), and locustfiles rely on that — its
``self.client`` is a ``FastHttpSession`` with Locust's own keywords (``catch_response``,
``name``) and connection pool. HTTP/2 needs another client (httpx with h2, pure Python,
so gevent's patched ``socket``/``ssl`` make it cooperative), whose ``self.client`` is an
``httpx.Client``. One class per client keeps each ``self.client`` what its type says;
what users write against — ``rest()``, ``expect``, ``check``, naming by template,
``context()`` merged into every event, :class:`~loadkit.users.rest_user.RestResult` — is
the same code (``_validate``) in both.

The protocol comes from ``host``: ``https://`` is TLS with ALPN offering ``h2`` and
``http/1.1``; ``http://`` is cleartext HTTP/2 with prior knowledge (h2c: the client opens
with the HTTP/2 preface, no upgrade round trip). Every request event's ``context`` carries
``http_version`` ("HTTP/2" or "HTTP/1.1"), and a response that came over HTTP/1.1 (the
server's ALPN picked it) is a failure unless ``http1_fallback = True``: a fallback is never
silent.
"""

from __future__ import annotations

from collections.abc import Collection
from time import perf_counter
from typing import Any, ClassVar

import httpx
from gevent.pool import Group
from locust import User
from locust.env import Environment

from loadkit.exceptions import ConfigError
from loadkit.users._events import user_fire
from loadkit.users._tls import ssl_context
from loadkit.users.rest_user import Check, RestError, RestResult, _validate
from loadkit.users.spans import spans_for, url_full
from loadkit.users.tracing import Trace, http_headers, trace_context_for

HTTP2 = "HTTP/2"


class _NoResponse:
    """What a request that got no response at all (connect refused, timeout, reset) validates as."""

    status_code = 0
    text = ""
    content = b""
    http_version = ""

    def __init__(self, error: BaseException) -> None:
        self.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class Http2User(User):
    """A Locust user for JSON HTTP APIs over HTTP/2 — the same ``rest()`` as :class:`~loadkit.RestUser`::

        class Api(Http2User):
            host = "https://127.0.0.1:8443"   # TLS + ALPN; "http://..." is h2c (prior knowledge)
            verify = "ca.pem"                 # CA bundle, True (system) or False

            @task
            def get_item(self):
                self.rest("GET", "/items/{item_id}", item_id=1)

    One ``httpx.Client`` per user with one connection (requests from greenlets a task
    spawns are multiplexed on it), closed when the user's greenlet ends. ``self.headers``
    is sent with every call; ``kwargs=`` passes httpx keywords through (``timeout``,
    ``content``...). Each event's ``context`` has ``http_version`` and ``status``.
    """

    abstract = True
    #: Headers sent with every call of this user (copied per user).
    headers: dict[str, str] = {}
    #: TLS: verify the server against this CA bundle (path), the system's (True), or not at all (False).
    verify: ClassVar[bool | str] = True
    #: TLS: accept a response the server sent over HTTP/1.1 (ALPN) instead of recording it as a failure.
    http1_fallback: ClassVar[bool] = False
    #: Seconds per request (connect, read, write, pool).
    timeout: ClassVar[float] = 60.0

    client: httpx.Client

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not self.host or not self.host.startswith(("http://", "https://")):
            raise ConfigError(
                f"{type(self).__name__} host {self.host!r} is not an HTTP URL: set host = 'https://HOST:PORT' "
                "(TLS, ALPN) or 'http://HOST:PORT' (h2c), or pass --host"
            )
        tls = self.host.startswith("https://")
        self.headers = dict(type(self).headers)
        self.client = httpx.Client(
            base_url=self.host,
            http1=tls,  # cleartext: HTTP/2 only, i.e. prior knowledge; TLS: ALPN decides
            http2=True,
            verify=ssl_context(self.verify, "http2"),  # shared: building one costs ~150 ms of CPU
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self._fire = user_fire(self, environment.events.request.fire)
        self._spans = spans_for(environment)  # --otel: a CLIENT span per call (loadkit.users.spans)
        tracing = None if self._spans is not None else trace_context_for(environment)  # --trace-context
        self._trace: Trace = None if tracing is None else tracing.new

    def start(self, group: Group) -> Any:
        greenlet = super().start(group)
        greenlet.link(lambda _g: self.close())
        return greenlet

    def close(self) -> None:
        """Close this user's connection (done when its greenlet ends); idempotent."""
        self.client.close()

    def rest(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        expect: int | Collection[int] = 200,
        check: Check | None = None,
        name: str | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        kwargs: dict[str, Any] | None = None,
        **path_params: Any,
    ) -> RestResult:
        """Send one JSON request and validate it; returns a :class:`RestResult` (never raises for HTTP)."""
        url = path.format(**path_params) if path_params else path
        if self._spans is None:  # the one check --otel costs when off
            return self._send(method, path, url, self._trace, json, expect, check, name, query, headers, kwargs)
        return self._spans.http(
            method,
            path,
            url_full(self.host or "", url, query),
            lambda trace: self._send(method, path, url, trace, json, expect, check, name, query, headers, kwargs),
        )

    def _send(
        self,
        method: str,
        path: str,
        url: str,
        trace: Trace,
        json: Any,
        expect: int | Collection[int],
        check: Check | None,
        name: str | None,
        query: dict[str, Any] | None,
        headers: dict[str, str] | None,
        kwargs: dict[str, Any] | None,
    ) -> RestResult:
        trace_id, send_headers = http_headers(trace, self.headers, headers)
        response: Any
        start = perf_counter()
        try:
            response = self.client.request(method, url, json=json, params=query, headers=send_headers, **(kwargs or {}))
            elapsed = (perf_counter() - start) * 1000.0
        except httpx.HTTPError as exc:
            elapsed = (perf_counter() - start) * 1000.0
            response = _NoResponse(exc)
        data, error = _validate(method, path, response, expect, check)
        version = response.http_version
        if error is None and version != HTTP2 and not self.http1_fallback:
            error = RestError(
                f"{method} {path}: the server answered over {version}, not HTTP/2 (ALPN): "
                "set http1_fallback = True to accept it"
            )
        self._fire(
            request_type=method,
            name=name or path,
            response_time=elapsed,
            response_length=len(response.content),
            exception=error,
            context={"http_version": version, "status": response.status_code, "trace_id": trace_id},
        )
        return RestResult(response, data, error)
