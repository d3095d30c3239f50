"""The timed call wrappers, over fake multi-callables (a fake per test, no patching)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from locust.exception import RescheduleTask

from loadkit.gen.demo.v1 import types_pb2
from loadkit.users.grpc_calls import GrpcCallError, StreamStream, StreamUnary, UnaryStream, UnaryUnary

ITEM = types_pb2.Item(id="x", payload=b"12345")


class FakeError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    def __init__(self, status: grpc.StatusCode) -> None:
        self.status = status

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return "injected"


class FakeCall:
    """A streaming call: yields ``messages`` then raises ``error`` (if any)."""

    def __init__(self, messages: list[Any], error: grpc.RpcError | None = None, requests: Any = None) -> None:
        self._it = iter(messages)
        self._error = error
        self.cancelled = False
        self.requests = list(requests) if requests is not None else None

    def __next__(self) -> Any:
        for message in self._it:
            return message
        if self._error:
            raise self._error
        raise StopIteration

    def cancel(self) -> None:
        self.cancelled = True


class Fake:
    """A multi-callable recording its arguments and returning/raising what it was given."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, request: Any, timeout: Any, metadata: Any, **kwargs: Any) -> Any:
        if not isinstance(request, types_pb2.Item):
            request = list(request)  # grpcio consumes the request iterator
        self.calls.append((request, timeout, metadata))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result(request) if callable(self.result) else self.result


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


def fire_into(events: list[dict[str, Any]]) -> Any:
    return lambda **kw: events.append(kw)


def test_unary_fires_once_with_size_and_passes_defaults(events: list[dict[str, Any]]) -> None:
    fake = Fake(ITEM)
    call = UnaryUnary(fake, "/p.S/M", fire_into(events), 7.0, [("a", "1")])
    assert call(ITEM) is ITEM
    call(ITEM, timeout=None, metadata=[("b", "2")], name="custom")
    assert fake.calls[0][1:] == (7.0, (("a", "1"),))
    assert fake.calls[1][1:] == (None, (("a", "1"), ("b", "2")))
    assert [e["name"] for e in events] == ["/p.S/M", "custom"]
    assert events[0]["response_length"] == ITEM.ByteSize() and events[0]["exception"] is None
    assert events[0]["context"] == {"grpc_status": "OK", "messages_sent": 1, "messages_received": 1, "trace_id": None}


def test_unary_without_metadata_passes_none(events: list[dict[str, Any]]) -> None:
    fake = Fake(ITEM)
    UnaryUnary(fake, "/p.S/M", fire_into(events), None, None)(ITEM)
    assert fake.calls[0][2] is None


def test_failure_is_recorded_then_raised_as_a_quiet_task_end(events: list[dict[str, Any]]) -> None:
    call = UnaryUnary(Fake(FakeError(grpc.StatusCode.UNAVAILABLE)), "/p.S/M", fire_into(events), None, None)
    with pytest.raises(GrpcCallError) as raised:
        call(ITEM)
    assert isinstance(raised.value, grpc.RpcError) and isinstance(raised.value, RescheduleTask)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE and raised.value.details() == "injected"
    assert str(raised.value) == "UNAVAILABLE: injected"
    (event,) = events
    assert event["exception"] is raised.value and event["context"]["grpc_status"] == "UNAVAILABLE"


def test_client_stream_counts_sent_messages(events: list[dict[str, Any]]) -> None:
    call = StreamUnary(Fake(lambda reqs: types_pb2.Item(id=str(len(reqs)))), "/p.S/P", fire_into(events), None, None)
    assert call(iter([ITEM, ITEM, ITEM])).id == "3"
    assert events[0]["context"]["messages_sent"] == 3


def test_server_stream_full_consume_fires_call_and_ttfm(events: list[dict[str, Any]]) -> None:
    call = UnaryStream(lambda *a, **k: FakeCall([ITEM, ITEM]), "/p.S/L", fire_into(events), None, None)
    assert list(call(ITEM)) == [ITEM, ITEM]
    main, ttfm = events
    assert (main["request_type"], ttfm["request_type"]) == ("grpc", "grpc-ttfm")
    assert main["response_length"] == 2 * ITEM.ByteSize() and main["context"]["messages_received"] == 2
    assert 0 < ttfm["response_time"] <= main["response_time"]


def test_early_stop_cancels_and_is_not_a_failure(events: list[dict[str, Any]]) -> None:
    fake_call = FakeCall([ITEM] * 10)
    call = UnaryStream(lambda *a, **k: fake_call, "/p.S/L", fire_into(events), None, None)
    stream = call(ITEM)
    next(stream)
    stream.cancel()
    stream.cancel()  # idempotent
    assert fake_call.cancelled
    assert len([e for e in events if e["request_type"] == "grpc"]) == 1
    assert events[0]["exception"] is None and events[0]["context"]["cancelled_by_user"] is True


def test_dropped_stream_is_finished_too(events: list[dict[str, Any]]) -> None:
    call = UnaryStream(lambda *a, **k: FakeCall([ITEM] * 10), "/p.S/L", fire_into(events), None, None)
    for _ in call(ITEM):
        break
    assert events[0]["context"]["grpc_status"] == "CANCELLED"


def test_mid_stream_error_is_a_failure(events: list[dict[str, Any]]) -> None:
    error = FakeError(grpc.StatusCode.INTERNAL)
    call = UnaryStream(lambda *a, **k: FakeCall([ITEM], error), "/p.S/L", fire_into(events), None, None)
    received = []
    with pytest.raises(GrpcCallError, match="INTERNAL"):
        for message in call(ITEM):
            received.append(message)
    assert len(received) == 1
    assert events[0]["context"] == {
        "grpc_status": "INTERNAL",
        "messages_sent": 1,
        "messages_received": 1,
        "ttfm_ms": events[0]["context"]["ttfm_ms"],
        "trace_id": None,  # trace context off: no trace given to the wrapper
    }
    assert isinstance(events[0]["exception"], GrpcCallError)


def test_error_before_first_message_has_no_ttfm_entry(events: list[dict[str, Any]]) -> None:
    call = StreamStream(
        lambda reqs, *a, **k: FakeCall([], FakeError(grpc.StatusCode.ABORTED), reqs),
        "/p.S/C",
        fire_into(events),
        None,
        None,
    )
    with pytest.raises(GrpcCallError):
        list(call(iter([ITEM, ITEM])))
    assert [e["request_type"] for e in events] == ["grpc"]
    assert events[0]["context"]["messages_sent"] == 2


def test_killed_while_waiting_is_not_reported(events: list[dict[str, Any]]) -> None:
    class Killed(FakeCall):
        def __next__(self) -> Any:
            raise KeyboardInterrupt  # stands in for GreenletExit

    fake_call = Killed([])
    stream = UnaryStream(lambda *a, **k: fake_call, "/p.S/L", fire_into(events), None, None)(ITEM)
    with pytest.raises(KeyboardInterrupt):
        next(stream)
    del stream
    assert events == [] and fake_call.cancelled
