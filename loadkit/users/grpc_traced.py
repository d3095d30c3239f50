"""GrpcUser's call wrappers with an OpenTelemetry CLIENT span per call (Locust's ``--otel``).

One class per RPC kind, each a subclass of its untraced twin in :mod:`loadkit.users.grpc_calls`,
picked once when a method's wrapper is made (:meth:`~loadkit.users.grpc_client.GrpcClient.method`):
without ``--otel`` the untraced classes run and nothing here costs anything. The span starts
before the call's timer and ends after its request event, so it never counts in the latency;
the metadata carries the span's ``traceparent`` (:mod:`loadkit.users.spans` says why) after the
caller's, and the event's ``trace_id`` is the span's.
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import Any

import grpc

from loadkit.users.grpc_calls import (
    _UNSET,
    Fire,
    GrpcCallError,
    Metadata,
    ResponseStream,
    StreamStream,
    StreamUnary,
    UnaryStream,
    UnaryUnary,
    _Base,
    _context,
    _Counted,
    _fire_call,
)
from loadkit.users.spans import Spans, rpc_outcome, rpc_span

#: grpc.StatusCode name -> its number (``rpc.grpc.status_code``).
CODES = {code.name: code.value[0] for code in grpc.StatusCode}


class _Traced:
    """What the four traced kinds share: the method's span name and attributes, made once."""

    __slots__ = ()
    _spans: Spans
    _span: tuple[str, dict[str, Any]]

    def _begin(self, md: Metadata | None) -> tuple[Any, str, Metadata]:
        span = self._spans.start(self._span[0], dict(self._span[1]))
        trace_id, pairs = self._spans.ids(span)
        return span, trace_id, ((*md, *pairs) if md else pairs)

    def _end(self, span: Any, error: GrpcCallError | None) -> None:
        status = "OK" if error is None else error.status.name
        self._spans.end(span, *rpc_outcome(CODES.get(status, 2), status, error))


def _traced_init(wrapper: Any, spans: Spans, target: str) -> None:
    wrapper._spans = spans
    wrapper._span = rpc_span(wrapper._path, target)


class TracedUnaryUnary(_Traced, UnaryUnary):
    __slots__ = ("_span", "_spans")

    def __init__(
        self,
        multicallable: Any,
        path: str,
        fire: Fire,
        timeout: float | None,
        metadata: Metadata | None,
        spans: Spans,
        target: str,
    ) -> None:
        super().__init__(multicallable, path, fire, timeout, metadata)
        _traced_init(self, spans, target)

    def __call__(
        self,
        request: Any,
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        name = name or self._path
        span, trace_id, md = self._begin(self._metadata if metadata is None else self._merged(metadata))
        start = perf_counter()
        try:
            response = self._callable(request, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        except grpc.RpcError as exc:
            error = GrpcCallError.from_rpc_error(exc, name)
            _fire_call(self._fire, name, start, 0, error, _context(error.status.name, 1, 0, trace_id))
            self._end(span, error)
            raise error from exc
        _fire_call(self._fire, name, start, response.ByteSize(), None, _context("OK", 1, 1, trace_id))
        self._end(span, None)
        return response


class TracedStreamUnary(_Traced, StreamUnary):
    __slots__ = ("_span", "_spans")

    def __init__(
        self,
        multicallable: Any,
        path: str,
        fire: Fire,
        timeout: float | None,
        metadata: Metadata | None,
        spans: Spans,
        target: str,
    ) -> None:
        super().__init__(multicallable, path, fire, timeout, metadata)
        _traced_init(self, spans, target)

    def __call__(
        self,
        requests: Iterable[Any],
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        name = name or self._path
        span, trace_id, md = self._begin(self._metadata if metadata is None else self._merged(metadata))
        counted = _Counted(requests)
        start = perf_counter()
        try:
            response = self._callable(counted, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        except grpc.RpcError as exc:
            error = GrpcCallError.from_rpc_error(exc, name)
            _fire_call(self._fire, name, start, 0, error, _context(error.status.name, counted.sent, 0, trace_id))
            self._end(span, error)
            raise error from exc
        _fire_call(self._fire, name, start, response.ByteSize(), None, _context("OK", counted.sent, 1, trace_id))
        self._end(span, None)
        return response


class TracedResponseStream(ResponseStream):
    """A :class:`ResponseStream` whose end (completed, failed or cancelled) also ends its span."""

    __slots__ = ("_owner", "_span")

    def __init__(
        self,
        call: Any,
        fire: Fire,
        name: str,
        start: float,
        counted: _Counted | None,
        trace_id: str,
        owner: _Traced,
        span: Any,
    ) -> None:
        self._owner = owner
        self._span = span
        super().__init__(call, fire, name, start, counted, trace_id)

    def _finish(self, status: str, error: GrpcCallError | None, cancelled: bool = False) -> None:
        super()._finish(status, error, cancelled)
        attributes, failed = rpc_outcome(CODES.get(status, 2), status, error)
        if cancelled:
            attributes["loadkit.cancelled_by_user"] = True
        self._owner._spans.end(self._span, attributes, failed)


class TracedUnaryStream(_Traced, UnaryStream):
    __slots__ = ("_span", "_spans")

    def __init__(
        self,
        multicallable: Any,
        path: str,
        fire: Fire,
        timeout: float | None,
        metadata: Metadata | None,
        spans: Spans,
        target: str,
    ) -> None:
        super().__init__(multicallable, path, fire, timeout, metadata)
        _traced_init(self, spans, target)

    def __call__(
        self,
        request: Any,
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> ResponseStream:
        span, trace_id, md = self._begin(self._metadata if metadata is None else self._merged(metadata))
        start = perf_counter()
        call = self._callable(request, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        return TracedResponseStream(call, self._fire, name or self._path, start, None, trace_id, self, span)


class TracedStreamStream(_Traced, StreamStream):
    __slots__ = ("_span", "_spans")

    def __init__(
        self,
        multicallable: Any,
        path: str,
        fire: Fire,
        timeout: float | None,
        metadata: Metadata | None,
        spans: Spans,
        target: str,
    ) -> None:
        super().__init__(multicallable, path, fire, timeout, metadata)
        _traced_init(self, spans, target)

    def __call__(
        self,
        requests: Iterable[Any],
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> ResponseStream:
        counted = _Counted(requests)
        span, trace_id, md = self._begin(self._metadata if metadata is None else self._merged(metadata))
        start = perf_counter()
        call = self._callable(counted, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        return TracedResponseStream(call, self._fire, name or self._path, start, counted, trace_id, self, span)


TRACED_WRAPPERS: dict[str, type[_Base]] = {
    "unary_unary": TracedUnaryUnary,
    "unary_stream": TracedUnaryStream,
    "stream_unary": TracedStreamUnary,
    "stream_stream": TracedStreamStream,
}
