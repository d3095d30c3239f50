"""GrpcUser's call wrappers with an OpenTelemetry CLIENT span per call (Locust's ``--otel``).

One class per RPC kind, each the traced twin of its class in :mod:`loadkit.users.grpc_calls`,
picked once when a method's wrapper is made (:meth:`~loadkit.users.grpc_client.GrpcClient.method`):
without ``--otel`` the untraced classes run and nothing here costs anything. The span starts
before the call's timer and ends after its request event, so it never counts in the latency;
the metadata carries the span's ``traceparent`` (:mod:`loadkit.users.spans` says why) after the
caller's, and the event's ``trace_id`` is the span's. A stream's span ends with its call's event
(completed, failed or cancelled by the task: CANCELLED, ``loadkit.cancelled_by_user``, no error).
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import Any

import grpc

from loadkit.users.grpc_calls import (
    _UNSET,
    REQUEST_TYPE,
    Fire,
    GrpcCallError,
    Metadata,
    ResponseStream,
    _Base,
    _context,
    _Counted,
    _fire_call,
)
from loadkit.users.spans import Spans, rpc_outcome, rpc_span

#: grpc.StatusCode name -> its number (``rpc.grpc.status_code``).
CODES = {code.name: code.value[0] for code in grpc.StatusCode}


class _Traced(_Base):
    """What the four traced kinds share: the method's span name and attributes, made once."""

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
        self._spans = spans
        self._span = rpc_span(path, target)

    def _begin(self, md: Metadata | None) -> tuple[Any, str, Metadata]:
        span = self._spans.start(self._span[0], dict(self._span[1]))
        trace_id, pairs = self._spans.ids(span)
        return span, trace_id, ((*md, *pairs) if md else pairs)

    def _end(self, span: Any, status: str, error: BaseException | None, cancelled: bool = False) -> None:
        attributes, failed = rpc_outcome(CODES.get(status, 2), status, error)
        if cancelled:
            attributes["loadkit.cancelled_by_user"] = True
        self._spans.end(span, attributes, failed)

    def _ending(self, span: Any) -> Fire:
        """The stream's ``fire``: the call's event (not its ``grpc-ttfm`` facet) also ends its span."""
        fire = self._fire

        def fire_and_end(**kwargs: Any) -> None:
            fire(**kwargs)
            if kwargs["request_type"] == REQUEST_TYPE:
                context = kwargs["context"]
                cancelled = bool(context.get("cancelled_by_user"))
                self._end(span, context["grpc_status"], kwargs["exception"], cancelled)

        return fire_and_end


class TracedUnaryUnary(_Traced):
    __slots__ = ()

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
            self._end(span, error.status.name, error)
            raise error from exc
        _fire_call(self._fire, name, start, response.ByteSize(), None, _context("OK", 1, 1, trace_id))
        self._end(span, "OK", None)
        return response


class TracedStreamUnary(_Traced):
    __slots__ = ()

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
            self._end(span, error.status.name, error)
            raise error from exc
        _fire_call(self._fire, name, start, response.ByteSize(), None, _context("OK", counted.sent, 1, trace_id))
        self._end(span, "OK", None)
        return response


class TracedUnaryStream(_Traced):
    __slots__ = ()

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
        return ResponseStream(call, self._ending(span), name or self._path, start, None, trace_id)


class TracedStreamStream(_Traced):
    __slots__ = ()

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
        return ResponseStream(call, self._ending(span), name or self._path, start, counted, trace_id)


TRACED_WRAPPERS: dict[str, type[_Base]] = {
    "unary_unary": TracedUnaryUnary,
    "unary_stream": TracedUnaryStream,
    "stream_unary": TracedStreamUnary,
    "stream_stream": TracedStreamStream,
}
