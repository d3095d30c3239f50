"""OpenTelemetry spans for loadkit's calls, under Locust's ``--otel``.

Locust's ``--otel`` (``pip install 'loadkit[otel]'``) sets OpenTelemetry's tracer provider from
the ``OTEL_*`` environment variables, and traces ``HttpUser`` through requests/urllib3
instrumentation. loadkit's users make their calls with other clients, so loadkit makes their
spans itself, with the OpenTelemetry semantic conventions for clients:

- every GrpcUser call (all four kinds, stubs and ``client.call``): a CLIENT span named
  ``package.Service/Method`` with ``rpc.system=grpc``, ``rpc.service``, ``rpc.method``,
  ``server.address``/``server.port`` and ``rpc.grpc.status_code``; status ERROR when the call
  failed (loadkit's verdict: a stream the task stopped reading is CANCELLED but no error);
- every RestUser/Http2User call and WebSocket handshake: a CLIENT span named ``GET /items/{item_id}``
  (method and path template, as the conventions ask when a template is known and as Locust's
  own ``--otel`` names HttpUser's spans) with ``http.request.method``, ``url.full``,
  ``url.template``, ``server.address``/``server.port``, ``http.response.status_code`` and, on a
  failure, ``error.type`` (the status code from 400 up, else the error's class) and status ERROR;
- every ``measure()`` block: a CLIENT span ``TYPE NAME`` (``loadkit.request_type``, ``loadkit.name``).

Each is a child of the span of the task iteration it ran in (:mod:`loadkit.run.otel`).

**With --otel, each call propagates its span's context**, whether or not ``--trace-context`` is
given: the ``traceparent`` sent is the call span's (trace id, span id, the SDK sampler's flag),
so the service's server spans join the client's trace, and the request event's ``trace_id``
(hence the report's exemplars) is the span's trace id. Sending ``--trace-context``'s own random
ids beside a span would name, in the report and in the service, a trace no backend holds. So
under --otel, sampling is the SDK's (``OTEL_TRACES_SAMPLER``), ``--trace-sample-ratio`` is not
used, and ``--trace-state`` is still sent. Without ``--otel``, or when Locust could not set up
the SDK (not installed: Locust logs it), nothing here runs: users keep their untraced paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from loadkit._version import __version__
from loadkit.run.context import StashKey, run_context
from loadkit.users.tracing import TRACEPARENT, TRACESTATE

Attributes = dict[str, Any]
Pairs = tuple[tuple[str, str], ...]
#: RFC 9110's methods, and PATCH: the ones the conventions keep as they are (others: ``_OTHER``).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


# --- the semantic conventions, pure ------------------------------------------------------------
def server_of(authority: str) -> tuple[str, int | None]:
    """``(address, port)`` of a gRPC target or URL: ``"dns:///api:443"`` → ``("api", 443)``."""
    text = authority.split("://", 1)[-1].lstrip("/")
    if text.startswith(("unix:", "unix-abstract:")):
        return text, None
    text = text.split("/", 1)[0].rpartition("@")[2]  # no path, no credentials
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return text, None
    return host, int(port)


def _server(attributes: Attributes, authority: str) -> Attributes:
    address, port = server_of(authority)
    attributes["server.address"] = address
    if port is not None:
        attributes["server.port"] = port
    return attributes


def rpc_span(path: str, target: str) -> tuple[str, Attributes]:
    """The span name and starting attributes of a gRPC call to ``path`` ("/pkg.Service/Method")."""
    service, _, method = path.lstrip("/").rpartition("/")
    attributes: Attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    return f"{service}/{method}", _server(attributes, target)


def rpc_outcome(code: int, status: str, error: BaseException | None) -> tuple[Attributes, str | None]:
    """A finished call's attributes and, when it failed, the ERROR description."""
    if error is None:
        return {"rpc.grpc.status_code": code}, None
    return {"rpc.grpc.status_code": code, "error.type": status}, str(error) or status


def http_span(method: str, template: str, url_full: str) -> tuple[str, Attributes]:
    """The span name and starting attributes of an HTTP call (a WebSocket handshake is a GET)."""
    upper = method.upper()
    known = upper in HTTP_METHODS
    attributes: Attributes = {"http.request.method": upper if known else "_OTHER", "url.full": _redacted(url_full)}
    if not known:
        attributes["http.request.method_original"] = method
    if template:
        attributes["url.template"] = template
    name = upper if known else "HTTP"
    return (f"{name} {template}" if template else name), _server(attributes, url_full)


def http_outcome(status: int, error: BaseException | None) -> tuple[Attributes, str | None]:
    """A finished HTTP call's attributes and ERROR description: from 400 up, or loadkit's failure."""
    attributes: Attributes = {}
    if status:
        attributes["http.response.status_code"] = status
    if status >= 400:
        attributes["error.type"] = str(status)
    elif error is not None:
        attributes["error.type"] = type(error).__qualname__
    if error is None and status < 400:
        return attributes, None
    return attributes, str(error) if error is not None else f"HTTP {status}"


def url_full(host: str, url: str, query: dict[str, Any] | None) -> str:
    """The absolute URL a call goes to (the query as the client encodes it)."""
    full = url if "://" in url else host.rstrip("/") + "/" + url.lstrip("/")
    return f"{full}?{urlencode(query, doseq=True)}" if query else full


def _redacted(url: str) -> str:
    """``url`` without a password (the conventions: never export credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"REDACTED:REDACTED@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """The W3C ``traceparent`` of a span context."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & 0xFF:02x}"


# --- the run's spans ---------------------------------------------------------------------------
class _Result(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def error(self) -> BaseException | None: ...


R = TypeVar("R", bound=_Result)


class Spans:
    """The run's tracer and what every traced call does with it: start, propagate, end.

    ``span = spans.start(*rpc_span(path, target))``; ``trace_id, pairs = spans.ids(span)``
    (the metadata/headers that propagate it); ``spans.end(span, *rpc_outcome(...))``.
    """

    def __init__(self, tracer: Any, state: str | None = None) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.tracer = tracer
        self._client = SpanKind.CLIENT
        self._error = StatusCode.ERROR
        self._status = Status
        self._state: Pairs = ((TRACESTATE, state),) if state else ()

    def start(self, name: str, attributes: Attributes) -> Any:
        """A started CLIENT span, a child of the current one (the task iteration's)."""
        return self.tracer.start_span(name, kind=self._client, attributes=attributes)

    def ids(self, span: Any) -> tuple[str, Pairs]:
        """The span's trace id (hex) and the pairs that propagate its context."""
        context = span.get_span_context()
        value = traceparent(context.trace_id, context.span_id, context.trace_flags)
        return f"{context.trace_id:032x}", ((TRACEPARENT, value), *self._state)

    def end(self, span: Any, attributes: Attributes, error: str | None) -> None:
        """End ``span`` with its outcome's attributes (ERROR with ``error`` as description when set)."""
        span.set_attributes(attributes)
        if error is not None:
            span.set_status(self._status(self._error, error[:1000]))
        span.end()

    def http(self, method: str, template: str, full: str, call: Callable[[Callable[[], tuple[str, Pairs]]], R]) -> R:
        """``call(trace)`` inside an HTTP CLIENT span; ``trace()`` gives the span's ids to send."""
        span = self.start(*http_span(method, template, full))
        ids = self.ids(span)
        try:
            result = call(lambda: ids)
        except Exception as exc:  # a body check that raised; a user killed mid-call (GreenletExit) ends no span,
            self.end(span, *http_outcome(0, exc))  # as it fires no request event
            raise
        self.end(span, *http_outcome(result.status, result.error))
        return result


#: This part's key in the run's stash: None without --otel (or without the SDK).
SPANS: StashKey[Spans | None] = StashKey("spans")


def spans_for(environment: Any) -> Spans | None:
    """The run's :class:`Spans` when Locust's ``--otel`` set up the SDK's tracer provider, else None."""
    stash = run_context(environment)
    if SPANS in stash:
        return stash[SPANS]
    options = getattr(environment, "parsed_options", None)
    stash[SPANS] = spans = _make(getattr(options, "trace_state", None)) if getattr(options, "otel", False) else None
    return spans


def _make(state: str | None) -> Spans | None:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:  # Locust said it already: "OpenTelemetry SDK is not installed"
        return None
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        return None  # --otel, but Locust set no provider (no exporter configured)
    return Spans(trace.get_tracer("loadkit", __version__), state)
