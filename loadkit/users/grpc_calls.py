"""Timed wrappers around grpcio's multi-callables, one class per RPC kind.

Each wrapped call fires Locust's ``request`` event exactly once, when the call ends:
``request_type="grpc"``, ``name`` the full method path (or ``name=`` per call),
``response_time`` float ms from ``perf_counter``, ``response_length`` the protobuf size
of every response message (``ByteSize``, no re-serialising). Streams that delivered at
least one message also fire a ``"grpc-ttfm"`` entry (time to first message) under the
same name, so thresholds can use it.

A failed call (status not OK) is recorded with a :class:`GrpcCallError` naming the
status, then that error is raised: it is a ``grpc.RpcError`` (tasks may catch it) and
a Locust ``RescheduleTask``, so an uncaught one just ends the task quietly — the user
lives on. A stream the task stops reading early is cancelled and recorded as a
success with status ``CANCELLED`` and ``cancelled_by_user`` in the context.

With trace context on (:mod:`loadkit.users.tracing`), each call sends a fresh ``traceparent``
(and ``tracestate``) after the caller's metadata, and its trace id is the context's ``trace_id``
(None when off).

The hot path is lean on purpose: no per-call metadata copy when none is given, one
context dict per event, the default deadline resolved once per wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from time import perf_counter
from typing import Any

import grpc
from locust.exception import RescheduleTask

Metadata = Sequence[tuple[str, str | bytes]]
Fire = Callable[..., None]
#: Makes one request's trace context: its trace id and the metadata pairs carrying it
#: (:meth:`loadkit.users.tracing.TraceContext.new`); None when trace context is off.
Trace = Callable[[], tuple[str, tuple[tuple[str, str], ...]]] | None
_UNSET: Any = object()
REQUEST_TYPE = "grpc"
TTFM_REQUEST_TYPE = "grpc-ttfm"


class GrpcCallError(grpc.RpcError, RescheduleTask):
    """A gRPC call ended with a status other than OK; ``str()`` is "STATUS_NAME: details"."""

    def __init__(self, status: grpc.StatusCode, details: str | None, name: str) -> None:
        super().__init__(f"{status.name}: {details or ''}".rstrip(": "))
        self.status = status
        self.status_details = details or ""
        self.name = name

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.status_details

    @classmethod
    def from_rpc_error(cls, exc: grpc.RpcError, name: str) -> GrpcCallError:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return cls(code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN, details, name)


class _Counted:
    """Counts the request messages grpcio pulls from the task's iterator."""

    __slots__ = ("_it", "sent")

    def __init__(self, requests: Iterable[Any]) -> None:
        self._it = iter(requests)
        self.sent = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        item = next(self._it)
        self.sent += 1
        return item


def _fire_call(
    fire: Fire, name: str, start: float, length: int, error: GrpcCallError | None, context: dict[str, Any]
) -> None:
    """Fire the one request event of a call that started at ``start`` and ends now."""
    fire(
        request_type=REQUEST_TYPE,
        name=name,
        response_time=(perf_counter() - start) * 1000.0,
        response_length=length,
        exception=error,
        context=context,
    )


def _context(status: str, sent: int, received: int, trace_id: str | None) -> dict[str, Any]:
    return {"grpc_status": status, "messages_sent": sent, "messages_received": received, "trace_id": trace_id}


class _Base:
    __slots__ = ("_callable", "_fire", "_metadata", "_path", "_timeout", "_trace")

    def __init__(
        self,
        multicallable: Any,
        path: str,
        fire: Fire,
        timeout: float | None,
        metadata: Metadata | None,
        trace: Trace = None,
    ) -> None:
        self._callable = multicallable
        self._path = path
        self._fire = fire
        self._timeout = timeout
        self._metadata = tuple(metadata) if metadata else None
        self._trace = trace

    def _traced(self, md: Metadata | None) -> tuple[str | None, Metadata | None]:
        """The call's trace id and its metadata with the trace context pairs last (or as they were)."""
        if self._trace is None:
            return None, md
        trace_id, pairs = self._trace()
        return trace_id, ((*md, *pairs) if md else pairs)

    def _merged(self, metadata: Metadata | None) -> Metadata | None:
        """Per-call metadata after the wrapper's defaults."""
        if metadata is None:
            return self._metadata
        return (*self._metadata, *metadata) if self._metadata else metadata


class UnaryUnary(_Base):
    """``stub.GetItem(request, timeout=, metadata=, name=)`` → the response message."""

    __slots__ = ()

    def __call__(
        self,
        request: Any,
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        # The hottest path of a GrpcUser: the event is fired inline (no helper frame), with
        # the same arguments _fire_call gives.
        name = name or self._path
        md = self._metadata if metadata is None else self._merged(metadata)
        if self._trace is None:
            trace_id = None
        else:  # inline too: trace context pairs after the user's metadata
            trace_id, pairs = self._trace()
            md = (*md, *pairs) if md else pairs
        start = perf_counter()
        try:
            response = self._callable(request, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        except grpc.RpcError as exc:
            error = GrpcCallError.from_rpc_error(exc, name)
            _fire_call(self._fire, name, start, 0, error, _context(error.status.name, 1, 0, trace_id))
            raise error from exc
        self._fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=(perf_counter() - start) * 1000.0,
            response_length=response.ByteSize(),
            exception=None,
            context={"grpc_status": "OK", "messages_sent": 1, "messages_received": 1, "trace_id": trace_id},
        )
        return response


class StreamUnary(_Base):
    """``stub.PutItems(iter_of_requests, ...)`` → the response message."""

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
        trace_id, md = self._traced(self._metadata if metadata is None else self._merged(metadata))
        counted = _Counted(requests)
        start = perf_counter()
        try:
            response = self._callable(counted, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        except grpc.RpcError as exc:
            error = GrpcCallError.from_rpc_error(exc, name)
            _fire_call(self._fire, name, start, 0, error, _context(error.status.name, counted.sent, 0, trace_id))
            raise error from exc
        context = _context("OK", counted.sent, 1, trace_id)
        _fire_call(self._fire, name, start, response.ByteSize(), None, context)
        return response


class ResponseStream:
    """The responses of a server-streaming or bidi call, timed over the whole call.

    Iterate it; stopping early (``break``, leaving a ``with`` block, or dropping it)
    cancels the call and records it as a user cancel, not a failure. ``cancel()``
    does the same explicitly. Other attributes are those of grpcio's call object.
    """

    __slots__ = (
        "_call",
        "_counted",
        "_done",
        "_fire",
        "_length",
        "_name",
        "_received",
        "_start",
        "_trace_id",
        "_ttfm",
    )

    def __init__(
        self,
        call: Any,
        fire: Fire,
        name: str,
        start: float,
        counted: _Counted | None,
        trace_id: str | None = None,
    ) -> None:
        self._call = call
        self._trace_id = trace_id
        self._fire = fire
        self._name = name
        self._start = start
        self._counted = counted
        self._received = 0
        self._length = 0
        self._ttfm = 0.0
        self._done = False

    def __iter__(self) -> ResponseStream:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        try:
            message = next(self._call)
        except StopIteration:
            self._finish("OK", None)
            raise
        except grpc.RpcError as exc:
            error = GrpcCallError.from_rpc_error(exc, self._name)
            self._finish(error.status.name, error)
            raise error from exc
        except BaseException:
            # The user greenlet was killed (test stop) while waiting: an unfinished call,
            # not reported (as for a killed unary call).
            self._done = True
            self._call.cancel()
            raise
        if not self._received:
            self._ttfm = perf_counter()
        self._received += 1
        self._length += message.ByteSize()
        return message

    def cancel(self) -> None:
        """Stop the call now; recorded as a success with status CANCELLED (user cancel)."""
        if not self._done:
            self._call.cancel()
            self._finish("CANCELLED", None, cancelled=True)

    close = cancel

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cancel()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self.cancel()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):  # an unset slot: never recurse through self._call
            raise AttributeError(attr)
        return getattr(self._call, attr)

    def _finish(self, status: str, error: GrpcCallError | None, cancelled: bool = False) -> None:
        self._done = True
        sent = self._counted.sent if self._counted is not None else 1
        context = _context(status, sent, self._received, self._trace_id)
        if cancelled:
            context["cancelled_by_user"] = True
        if self._received:
            context["ttfm_ms"] = ttfm = (self._ttfm - self._start) * 1000.0
        _fire_call(self._fire, self._name, self._start, self._length, error, context)
        if self._received:
            self._fire(
                request_type=TTFM_REQUEST_TYPE,
                name=self._name,
                response_time=ttfm,
                response_length=0,
                exception=None,
                context=context,
            )


class UnaryStream(_Base):
    """``stub.ListItems(request, ...)`` → a :class:`ResponseStream` of responses."""

    __slots__ = ()

    def __call__(
        self,
        request: Any,
        timeout: float | None = _UNSET,
        metadata: Metadata | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> ResponseStream:
        trace_id, md = self._traced(self._metadata if metadata is None else self._merged(metadata))
        start = perf_counter()
        call = self._callable(request, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        return ResponseStream(call, self._fire, name or self._path, start, None, trace_id)


class StreamStream(_Base):
    """``stub.Chat(iter_of_requests, ...)`` → a :class:`ResponseStream` of responses."""

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
        trace_id, md = self._traced(self._metadata if metadata is None else self._merged(metadata))
        start = perf_counter()
        call = self._callable(counted, self._timeout if timeout is _UNSET else timeout, md, **kwargs)
        return ResponseStream(call, self._fire, name or self._path, start, counted, trace_id)


WRAPPERS: dict[str, type[_Base]] = {
    "unary_unary": UnaryUnary,
    "unary_stream": UnaryStream,
    "stream_unary": StreamUnary,
    "stream_stream": StreamStream,
}
