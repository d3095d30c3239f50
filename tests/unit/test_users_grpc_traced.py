"""GrpcUser's traced wrappers (--otel), with fake multicallables and a real SDK tracer in memory:
one CLIENT span per call of each kind, its context the metadata sent and the event's trace id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.trace import StatusCode

from loadkit.users.grpc_calls import GrpcCallError
from loadkit.users.grpc_traced import TRACED_WRAPPERS
from loadkit.users.tracing import parse_traceparent
from tests.support.otlp import memory_spans

PATH = "/demo.v1.Demo/GetItem"


class Reply:
    def ByteSize(self) -> int:
        return 3


class Failed(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.NOT_FOUND

    def details(self) -> str:
        return "no item"


class Stream:
    """A grpcio response iterator: ``n`` replies, then the end (or ``fail``)."""

    def __init__(self, n: int, fail: bool = False) -> None:
        self._left, self._fail = n, fail

    def __next__(self) -> Reply:
        if self._left:
            self._left -= 1
            return Reply()
        if self._fail:
            raise Failed()
        raise StopIteration

    def cancel(self) -> None:
        pass


def _call(kind: str, fail: bool) -> tuple[list[dict[str, Any]], list[Any], Any]:
    spans, exporter = memory_spans()
    events: list[dict[str, Any]] = []
    sent: list[Any] = []

    def multicallable(request: Any, timeout: Any, metadata: Any) -> Any:
        sent.append(metadata)
        if kind.startswith("stream_"):
            list(request)
        if kind.endswith("_stream"):
            return Stream(2, fail)
        if fail:
            raise Failed()
        return Reply()

    wrapper: Any = TRACED_WRAPPERS[kind](
        multicallable, PATH, lambda **kw: events.append(kw), 5.0, (("a", "1"),), spans, "h:7"
    )
    request = iter([1, 2]) if kind.startswith("stream_") else 1
    try:
        result = wrapper(request)
        if kind.endswith("_stream"):
            list(result)
    except GrpcCallError:
        assert fail
    return events, sent, exporter.get_finished_spans()


@pytest.mark.parametrize("kind", list(TRACED_WRAPPERS))
@pytest.mark.parametrize("fail", [False, True])
def test_each_kind_of_call_is_one_client_span_whose_context_is_sent(kind: str, fail: bool) -> None:
    events, sent, finished = _call(kind, fail)
    (span,) = finished
    (metadata,) = sent
    assert metadata[0] == ("a", "1")  # the caller's metadata first, then the span's context
    name, value = metadata[1]
    parsed = parse_traceparent(value)
    assert name == "traceparent" and parsed is not None
    assert parsed[:2] == (f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}")
    call_events = [e for e in events if e["request_type"] == "grpc"]
    assert len(call_events) == 1 and call_events[0]["context"]["trace_id"] == parsed[0]
    assert span.name == "demo.v1.Demo/GetItem" and span.attributes["server.port"] == 7
    assert span.attributes["rpc.grpc.status_code"] == (5 if fail else 0)
    assert span.status.status_code == (StatusCode.ERROR if fail else StatusCode.UNSET)


def test_a_stream_the_task_stops_reading_is_cancelled_not_failed() -> None:
    spans, exporter = memory_spans()

    def multicallable(request: Any, timeout: Any, metadata: Any) -> Iterator[Reply]:
        return Stream(5)  # type: ignore[return-value]

    wrapper: Any = TRACED_WRAPPERS["unary_stream"](multicallable, PATH, lambda **kw: None, None, None, spans, "h:7")
    with wrapper(1) as stream:
        next(stream)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["rpc.grpc.status_code"] == 1 and span.attributes["loadkit.cancelled_by_user"]
    assert span.status.status_code == StatusCode.UNSET
