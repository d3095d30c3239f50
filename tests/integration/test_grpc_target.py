"""The bundled gRPC target, called by a real grpc client (under gevent, as in a Locust process)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2
from tests.support.targets import Target

TIMEOUT = 30  # per call: generous, the machine is shared


@pytest.fixture(scope="module")
def channel(grpc_target: Target) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_target.address) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> demo_pb2_grpc.DemoStub:
    return demo_pb2_grpc.DemoStub(channel)


def _items(n: int, size: int = 10) -> Iterator[types_pb2.Item]:
    for i in range(n):
        yield types_pb2.Item(id=f"id-{i}", payload=b"p" * size)


def _chat(n: int) -> Iterator[types_pb2.ChatMessage]:
    for i in range(n):
        yield types_pb2.ChatMessage(seq=i, text=f"hello {i}")


def _code(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.RpcError)
    return call.code()  # type: ignore[no-any-return,attr-defined]


# --- the four RPC kinds --------------------------------------------------------------


def test_unary_returns_the_item_with_the_payload_size_asked_for(stub: demo_pb2_grpc.DemoStub) -> None:
    item = stub.GetItem(demo_pb2.GetItemRequest(id="42", payload_size=1000), timeout=TIMEOUT)
    assert item.id == "42"
    assert len(item.payload) == 1000
    assert item.created_unix_ms > 0


def test_unary_rejects_an_oversized_payload(stub: demo_pb2_grpc.DemoStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.GetItem(demo_pb2.GetItemRequest(id="x", payload_size=-1), timeout=TIMEOUT)
    assert _code(err.value) == grpc.StatusCode.INVALID_ARGUMENT


def test_server_stream_sends_count_items(stub: demo_pb2_grpc.DemoStub) -> None:
    items = list(stub.ListItems(demo_pb2.ListItemsRequest(count=7, payload_size=3), timeout=TIMEOUT))
    assert [i.id for i in items] == [str(n) for n in range(7)]
    assert all(len(i.payload) == 3 for i in items)


def test_client_stream_summarises_what_it_received(stub: demo_pb2_grpc.DemoStub) -> None:
    summary = stub.PutItems(_items(5), timeout=TIMEOUT)
    assert summary.received == 5
    assert list(summary.ids) == [f"id-{i}" for i in range(5)]
    assert summary.total_bytes == sum(i.ByteSize() for i in _items(5))


def test_bidi_echoes_every_message(stub: demo_pb2_grpc.DemoStub) -> None:
    replies = list(stub.Chat(_chat(4), timeout=TIMEOUT))
    assert [(m.seq, m.text) for m in replies] == [(i, f"hello {i}") for i in range(4)]


# --- health and reflection -----------------------------------------------------------


@pytest.mark.parametrize("service", ["", "demo.v1.Demo"])
def test_health_check_reports_serving(channel: grpc.Channel, service: str) -> None:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(channel: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"demo.v1.Demo", "demo.v1.Admin", "grpc.health.v1.Health"} <= services


def test_reflection_describes_the_demo_methods(channel: grpc.Channel) -> None:
    from google.protobuf.descriptor_pool import DescriptorPool

    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName("demo.v1.Demo")
    kinds = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}
    assert kinds == {
        "GetItem": (False, False),
        "ListItems": (False, True),
        "PutItems": (True, False),
        "Chat": (True, True),
    }


# --- fault injection -----------------------------------------------------------------


def test_delay_adds_at_least_the_requested_latency(stub: demo_pb2_grpc.DemoStub) -> None:
    start = time.perf_counter()
    stub.GetItem(demo_pb2.GetItemRequest(id="d"), metadata=[("x-delay-ms", "300")], timeout=TIMEOUT)
    assert time.perf_counter() - start >= 0.3


def test_delay_applies_per_message_on_streams(stub: demo_pb2_grpc.DemoStub) -> None:
    start = time.perf_counter()
    items = list(stub.ListItems(demo_pb2.ListItemsRequest(count=3), metadata=[("x-delay-ms", "100")], timeout=TIMEOUT))
    assert len(items) == 3
    assert time.perf_counter() - start >= 0.3


def test_a_delay_beyond_the_deadline_is_deadline_exceeded_and_still_counted(
    grpc_target: Target, stub: demo_pb2_grpc.DemoStub
) -> None:
    grpc_target.reset_counters()
    with pytest.raises(grpc.RpcError) as err:
        stub.GetItem(demo_pb2.GetItemRequest(id="late"), metadata=[("x-delay-ms", "30000")], timeout=2)
    assert _code(err.value) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert grpc_target.counters() == {"/demo.v1.Demo/GetItem": 1}


@pytest.mark.parametrize("value", ["NOT_FOUND", "not_found", "5"])
def test_status_by_name_or_number_fails_the_call(stub: demo_pb2_grpc.DemoStub, value: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.GetItem(demo_pb2.GetItemRequest(id="s"), metadata=[("x-status", value)], timeout=TIMEOUT)
    assert _code(err.value) == grpc.StatusCode.NOT_FOUND


def test_status_fails_a_bidi_stream_at_its_start(stub: demo_pb2_grpc.DemoStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Chat(_chat(3), metadata=[("x-status", "PERMISSION_DENIED")], timeout=TIMEOUT))
    assert _code(err.value) == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("key", "value"),
    [("x-status", "NOPE"), ("x-status", "99"), ("x-delay-ms", "soon"), ("x-fail-percent", "150")],
)
def test_bad_fault_metadata_is_invalid_argument_naming_the_key(
    stub: demo_pb2_grpc.DemoStub, key: str, value: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.GetItem(demo_pb2.GetItemRequest(id="b"), metadata=[(key, value)], timeout=TIMEOUT)
    assert _code(err.value) == grpc.StatusCode.INVALID_ARGUMENT
    assert key in err.value.details()  # type: ignore[attr-defined]


def test_fail_percent_100_always_fails_with_unavailable(stub: demo_pb2_grpc.DemoStub) -> None:
    for _ in range(5):
        with pytest.raises(grpc.RpcError) as err:
            stub.GetItem(demo_pb2.GetItemRequest(id="f"), metadata=[("x-fail-percent", "100")], timeout=TIMEOUT)
        assert _code(err.value) == grpc.StatusCode.UNAVAILABLE


def test_fail_percent_fails_about_that_share_of_calls(stub: demo_pb2_grpc.DemoStub) -> None:
    failures = 0
    for _ in range(200):
        try:
            stub.GetItem(demo_pb2.GetItemRequest(id="f"), metadata=[("x-fail-percent", "50")], timeout=TIMEOUT)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            failures += 1
    assert 50 < failures < 150  # binomial(200, 0.5): about 7 standard deviations either side


def test_fail_after_ends_a_server_stream_after_n_messages(stub: demo_pb2_grpc.DemoStub) -> None:
    received: list[types_pb2.Item] = []
    call = stub.ListItems(demo_pb2.ListItemsRequest(count=10), metadata=[("x-fail-after", "3")], timeout=TIMEOUT)
    with pytest.raises(grpc.RpcError) as err:
        for item in call:
            received.append(item)
    assert len(received) == 3
    assert _code(err.value) == grpc.StatusCode.INTERNAL


def test_fail_after_uses_x_status_when_given(stub: demo_pb2_grpc.DemoStub) -> None:
    metadata = [("x-fail-after", "2"), ("x-status", "ABORTED")]
    received: list[types_pb2.ChatMessage] = []
    with pytest.raises(grpc.RpcError) as err:
        for message in stub.Chat(_chat(5), metadata=metadata, timeout=TIMEOUT):
            received.append(message)
    assert [m.seq for m in received] == [0, 1]
    assert _code(err.value) == grpc.StatusCode.ABORTED


def test_fail_after_ends_a_client_stream(stub: demo_pb2_grpc.DemoStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.PutItems(_items(10), metadata=[("x-fail-after", "4"), ("x-status", "RESOURCE_EXHAUSTED")], timeout=TIMEOUT)
    assert _code(err.value) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "after 4 messages" in err.value.details()  # type: ignore[attr-defined]


def test_fail_after_beyond_the_stream_lets_it_finish(stub: demo_pb2_grpc.DemoStub) -> None:
    items = list(stub.ListItems(demo_pb2.ListItemsRequest(count=3), metadata=[("x-fail-after", "5")], timeout=TIMEOUT))
    assert len(items) == 3


# --- counters ------------------------------------------------------------------------


def test_counters_count_served_calls_per_method_failures_included(
    grpc_target: Target, stub: demo_pb2_grpc.DemoStub
) -> None:
    grpc_target.reset_counters()
    assert grpc_target.counters() == {}
    for _ in range(3):
        stub.GetItem(demo_pb2.GetItemRequest(id="c"), timeout=TIMEOUT)
    with pytest.raises(grpc.RpcError):
        stub.GetItem(demo_pb2.GetItemRequest(id="c"), metadata=[("x-status", "INTERNAL")], timeout=TIMEOUT)
    list(stub.ListItems(demo_pb2.ListItemsRequest(count=2), timeout=TIMEOUT))
    stub.PutItems(_items(2), timeout=TIMEOUT)
    list(stub.Chat(_chat(2), timeout=TIMEOUT))
    assert grpc_target.counters() == {
        "/demo.v1.Demo/GetItem": 4,
        "/demo.v1.Demo/ListItems": 1,
        "/demo.v1.Demo/PutItems": 1,
        "/demo.v1.Demo/Chat": 1,
    }
    grpc_target.reset_counters()
    assert grpc_target.counters() == {}
