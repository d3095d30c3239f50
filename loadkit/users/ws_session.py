"""``WebSocketSession``: one WebSocket connection of a user, its messages timed as request events.

Events (``request_type`` ``"ws"``; ``NAME`` is the connection's path, e.g. ``/ws/echo``):

- ``connect NAME``: the handshake (TCP, TLS, HTTP upgrade), from the start of the connect;
- ``NAME`` (or the call's ``name=``): a :meth:`~WebSocketSession.request`, from the first
  byte sent to the matching reply read;
- ``ws-ttfm`` ``NAME``: time from the connect's start to the first message received — a
  *facet* of the session (:mod:`loadkit.stats.facets`): in Locust's table and thresholds,
  left out of totals, never a second request.

Failures are named after what ended the call, so Locust's failure table groups them: a
close frame from the server is ``closed by server: 1011 (internal error): REASON``; a
connection that dropped without one ``connection lost: 1006 (abnormal closure)``; a frame
that breaks RFC 6455 ``protocol error: 1002 ...``; a reply that never came ``timeout: no
matching message within 5 s`` (the user goes on; the connection stays open). A failed call is
recorded, then raises :class:`WebSocketError`, a ``RescheduleTask``: uncaught, it ends the
task quietly. A closed session reconnects on its next call (one more ``connect`` event).

The client is websocket-client: pure Python over the ``socket``/``ssl`` modules, which
gevent patches, so a receive parks only its greenlet.
"""

from __future__ import annotations

import json as jsonlib
import struct
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any

import websocket
from locust.exception import RescheduleTask

from loadkit.users._tls import ssl_context
from loadkit.users.spans import Spans, http_outcome, http_span

REQUEST_TYPE = "ws"
TTFM_REQUEST_TYPE = "ws-ttfm"
#: Messages a request skipped (no match), kept for :meth:`WebSocketSession.receive`; the oldest go first.
INBOX_SIZE = 1000
#: RFC 6455 7.4.1 and the IANA registry: names for the close codes a failure reports.
CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status",
    1006: "abnormal closure",
    1007: "invalid payload",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake",
}
Match = Callable[[Any], Any]
Fire = Callable[..., None]
_TEXT, _BINARY, _CLOSE = websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_CLOSE


class WebSocketError(RescheduleTask):
    """A WebSocket call failed (close, timeout, protocol error); recorded before it is raised.

    ``close_code`` is the server's close code (1006 when the connection dropped without one,
    None for a timeout, on which the connection stays open).
    """

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


def close_error(code: int, reason: str) -> WebSocketError:
    """The failure of a session the server closed with ``code``: "closed by server: 1011 (internal error): why"."""
    label = f"{code} ({CLOSE_CODES[code]})" if code in CLOSE_CODES else str(code)
    text = f"closed by server: {label}" + (f": {reason[:80]}" if reason else "")
    return WebSocketError(text, code)


def encode(message: Any) -> tuple[bytes | str, int]:
    """A frame's payload and opcode: str → text, bytes → binary, anything else → JSON text."""
    if isinstance(message, str):
        return message, _TEXT
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message), _BINARY
    return jsonlib.dumps(message), _TEXT


class WebSocketSession:
    """One user's WebSocket (``self.ws`` of :class:`~loadkit.WebSocketUser`); see the module docstring."""

    def __init__(
        self,
        base_url: str,
        fire: Fire,
        *,
        timeout: float,
        headers: dict[str, str],
        verify: bool | str = True,
        trace: Callable[[], tuple[str, tuple[tuple[str, str], ...]]] | None = None,
        spans: Spans | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: --trace-context: a traceparent on each handshake, its trace id on the ``connect`` event.
        self._trace = trace
        #: --otel: each handshake is an HTTP CLIENT span whose context it sends (:mod:`loadkit.users.spans`).
        self._spans = spans
        self.timeout = timeout
        self.headers = headers
        self._fire = fire
        self._verify = verify
        self.inbox: deque[Any] = deque(maxlen=INBOX_SIZE)
        self.path: str | None = None
        self.name = ""
        self._ws: websocket.WebSocket | None = None
        self._connect_start = 0.0
        self._first_pending = False

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # --- connect / close ----------------------------------------------------------------
    def connect(self, path: str, *, name: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Open the connection to ``path`` (closing any open one); one ``connect NAME`` event."""
        self.close()
        self.path, self.name = path, name or path.partition("?")[0]
        span, spans = None, self._spans
        trace_id: str | None
        if spans is not None:
            span = spans.start(*http_span("GET", self.name, self.base_url + path))
            trace_id, pairs = spans.ids(span)
        else:
            trace_id, pairs = self._trace() if self._trace is not None else (None, ())
        header = [f"{k}: {v}" for k, v in {**self.headers, **dict(pairs), **(headers or {})}.items()]
        sslopt: dict[str, Any] = {}
        if self.base_url.startswith("wss://"):  # one shared context: building one costs ~150 ms of CPU
            sslopt = {"context": ssl_context(self._verify, "ws"), "check_hostname": self._verify is not False}
        ws = websocket.WebSocket(sslopt=sslopt, skip_utf8_validation=True)
        start = self._connect_start = perf_counter()
        try:
            ws.connect(self.base_url + path, header=header, timeout=self.timeout)
        except Exception as exc:
            ws.shutdown()
            error = WebSocketError(f"connect failed: {_describe(exc)}")
            context = {"status": getattr(exc, "status_code", 0), "trace_id": trace_id}
            self._record("connect " + self.name, start, 0, error, context)
            if spans is not None:
                spans.end(span, *http_outcome(getattr(exc, "status_code", 0) or 0, error))
            raise error from exc
        self._ws = ws
        self._first_pending = True
        self._record("connect " + self.name, start, 0, None, {"status": ws.getstatus(), "trace_id": trace_id})
        if spans is not None:
            spans.end(span, *http_outcome(ws.getstatus() or 0, None))

    def close(self, code: int = 1000) -> None:
        """Close the connection (a close frame with ``code``, when it is still up); idempotent."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            ws.close(status=code, timeout=1.0)
        except Exception:  # already gone: nothing left to close politely
            ws.shutdown()

    # --- messages -------------------------------------------------------------------------
    def send(self, message: Any, *, name: str | None = None) -> None:
        """Send one message (str: text, bytes: binary, else JSON); an event only when ``name`` is given or it fails."""
        ws = self._ensure_connected(name)
        payload, opcode = encode(message)
        start = perf_counter()
        try:
            ws.send(payload, opcode)
        except Exception as exc:
            self._fail(name or "send " + self.name, start, exc)
        if name is not None:
            self._record(name, start, len(payload), None, {"messages_sent": 1})

    def receive(
        self, *, match: Match | None = None, timeout: float | None = None, name: str | None = None, json: bool = False
    ) -> Any:
        """The next message (or the next that ``match`` accepts); times the wait as ``name`` when given.

        Text comes as str, binary as bytes; ``json=True`` parses JSON text first (what ``match``
        sees and what is returned). Messages a request skipped (:attr:`inbox`) come first.
        """
        for i, queued in enumerate(self.inbox):
            message = _json_or_raw(queued) if json and isinstance(queued, str) else queued
            if match is None or match(message):
                del self.inbox[i]
                return message
        ws = self._ensure_connected(name)
        start = perf_counter()
        message, length, seen = self._wait(ws, match, start, self.timeout if timeout is None else timeout, name, json)
        if name is not None:
            self._record(name, start, length, None, {"messages_received": seen})
        return message

    def request(
        self, message: Any, *, match: Match | None = None, timeout: float | None = None, name: str | None = None
    ) -> Any:
        """Send ``message``, wait for the reply ``match`` accepts (default: the next one), return it.

        One request event from the send to the matching reply. A dict or list is sent as JSON
        and JSON replies are parsed before ``match`` sees them. Replies that do not match go to
        :attr:`inbox`, as they came (what :meth:`receive` reads first).
        """
        label = name or self.name
        ws = self._ensure_connected(label)
        payload, opcode = encode(message)
        start = perf_counter()
        try:
            ws.send(payload, opcode)
        except Exception as exc:
            self._fail(label, start, exc)
        as_json = opcode == _TEXT and not isinstance(message, str)
        reply, length, seen = self._wait(ws, match, start, self.timeout if timeout is None else timeout, label, as_json)
        self._record(label, start, length, None, {"messages_sent": 1, "messages_received": seen})
        return reply

    # --- internals ------------------------------------------------------------------------
    def _ensure_connected(self, name: str | None) -> websocket.WebSocket:
        if self._ws is None:
            if self.path is None:
                error = WebSocketError("not connected: set path on the user or call self.ws.connect(path) first")
                self._record(name or "not connected", perf_counter(), 0, error, {})
                raise error
            self.connect(self.path, name=self.name)
        assert self._ws is not None
        return self._ws

    def _wait(
        self,
        ws: websocket.WebSocket,
        match: Match | None,
        start: float,
        timeout: float,
        name: str | None,
        as_json: bool = False,
    ) -> tuple[Any, int, int]:
        """(message, its size, messages read) of the first message ``match`` accepts; failures recorded and raised."""
        inbox = self.inbox
        seen = 0
        deadline = start + timeout
        while True:
            left = deadline - perf_counter()
            try:
                if left <= 0:
                    raise websocket.WebSocketTimeoutException("deadline passed")
                ws.sock.settimeout(left)  # type: ignore[union-attr]
                opcode, frame = ws.recv_data_frame(False)
            except websocket.WebSocketTimeoutException as exc:
                if deadline - perf_counter() > 0:
                    continue  # the event loop's timer fired a hair early: wait out the rest
                self._fail(name or "receive " + self.name, start, exc, timeout)
            except Exception as exc:
                self._fail(name or "receive " + self.name, start, exc, timeout)
            if opcode == _CLOSE:
                data = frame.data or b""
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self._drop()
                self._fail(name or "receive " + self.name, start, close_error(code, data[2:].decode(errors="replace")))
            data = frame.data
            if self._first_pending:
                self._first_pending = False
                self._fire(
                    request_type=TTFM_REQUEST_TYPE,
                    name=self.name,
                    response_time=(perf_counter() - self._connect_start) * 1000.0,
                    response_length=len(data),
                    exception=None,
                    context={},
                )
            seen += 1
            raw: Any = data.decode("utf-8", "replace") if opcode == _TEXT else data
            message = _json_or_raw(raw) if as_json and opcode == _TEXT else raw
            if match is None or match(message):
                return message, len(data), seen
            inbox.append(raw)  # as it came: receive() decides how to read it

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.shutdown()

    def _fail(self, name: str, start: float, exc: BaseException, waited: float | None = None) -> Any:
        """Record ``exc`` (translated into a :class:`WebSocketError`) as ``name``'s failure and raise it."""
        if isinstance(exc, WebSocketError):
            error = exc
        elif isinstance(exc, websocket.WebSocketTimeoutException | TimeoutError):
            error = WebSocketError(f"timeout: no matching message within {waited or self.timeout:g} s")
        elif isinstance(exc, websocket.WebSocketProtocolException | websocket.WebSocketPayloadException):
            self.close(1002)
            error = WebSocketError(f"protocol error: 1002 ({CLOSE_CODES[1002]}): {exc}", 1002)
        else:  # the connection dropped without a close frame (reset, EOF)
            self._drop()
            error = WebSocketError(f"connection lost: 1006 ({CLOSE_CODES[1006]})", 1006)
        context = {"close_code": error.close_code} if error.close_code is not None else {}
        self._record(name, start, 0, error, context)
        raise error from (None if exc is error else exc)

    def _record(
        self, name: str, start: float, length: int, error: BaseException | None, context: dict[str, Any]
    ) -> None:
        self._fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=(perf_counter() - start) * 1000.0,
            response_length=length,
            exception=error,
            context=context,
        )


def _json_or_raw(message: Any) -> Any:
    try:
        return jsonlib.loads(message)
    except ValueError:  # not JSON: match sees it as it came
        return message


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    if status:
        return f"handshake answered with HTTP {status}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
